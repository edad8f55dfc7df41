"""Discord's size limits on what a bot sends, checked with Discord's error codes and error tree.

Everything here answers ``50035 Invalid Form Body`` with the path of each problem (``embeds.0.title``), except an
empty message (``50006``); upload sizes are checked where files are read (``40005``). Only what Discord enforces
is enforced, so a body accepted here is accepted by Discord, and a body refused here is refused there too.
"""

from __future__ import annotations

import math
from typing import Any

import regex

from bot.playground.errors import JSON, ApiError, FormErrors, Path

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
COMPONENTS_V2_MAX = 40
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTION_TEXT_MAX = 100
MODAL_TITLE_MAX = 45
MODAL_INPUTS_MAX = 5
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_VALUE_MAX = 4000
TEXT_INPUT_PLACEHOLDER_MAX = 100
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMANDS_MAX = 100
FILES_MAX = 10

IS_COMPONENTS_V2 = 1 << 15
EPHEMERAL = 1 << 6
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
# The flags a bot may set when it sends a message; Discord silently ignores the others.
SENDABLE_FLAGS = SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2

_COMMAND_NAME = regex.compile(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")

ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SELECTS = (3, 5, 6, 7, 8)  # a tuple: membership of an unhashable value from a body must not raise
LABEL = 18
LINK_STYLE, PREMIUM_STYLE = 5, 6


def empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def check_message(body: JSON, errors: FormErrors, *, files: int = 0, partial: bool = False) -> None:
    """A message body (create, edit, interaction response or follow-up). ``partial`` for edits."""
    content = body.get("content")
    if content is not None and errors.string(content, ("content",)):
        errors.max_length(("content",), content, CONTENT_MAX)
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            errors.add(("embeds",), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
        else:
            check_embeds(embeds, errors)
    flags = body.get("flags") or 0
    if not isinstance(flags, int) or isinstance(flags, bool):
        errors.add(("flags",), "NUMBER_TYPE_COERCE", f'Value "{flags}" is not int.')
        flags = 0
    components = body.get("components")
    if components is not None:
        if not isinstance(components, list):
            errors.add(("components",), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
        else:
            check_components(components, errors, v2=bool(flags & IS_COMPONENTS_V2))
    if flags & IS_COMPONENTS_V2 and (content or embeds):
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    if files > FILES_MAX:
        errors.add(("files",), "BASE_TYPE_MAX_LENGTH", f"Must be {FILES_MAX} or fewer in length.")
    _check_structure(body, errors)
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, str):
            errors.max_length(("nonce",), nonce, 25)
        elif isinstance(nonce, bool) or not isinstance(nonce, int):
            errors.add(("nonce",), "BASE_TYPE_STRING", "Could not interpret value as string.")


def _check_structure(body: JSON, errors: FormErrors) -> None:
    """The shape of the message's other fields, so nothing downstream meets a list where it expects an object."""
    attachments = body.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            errors.add(("attachments",), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
        else:
            for index, entry in enumerate(attachments):
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str | int):
                    errors.add(("attachments", index, "id"), "BASE_TYPE_REQUIRED", "This field is required")
                elif entry.get("filename") is not None and not isinstance(entry["filename"], str):
                    errors.add(
                        ("attachments", index, "filename"), "BASE_TYPE_STRING", "Could not interpret value as string."
                    )
    allowed = body.get("allowed_mentions")
    if allowed is not None:
        if not isinstance(allowed, dict):
            errors.add(("allowed_mentions",), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        else:
            for key in ("parse", "users", "roles"):
                value = allowed.get(key)
                if value is not None and not (isinstance(value, list) and all(isinstance(v, str | int) for v in value)):
                    errors.add(("allowed_mentions", key), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
    reference = body.get("message_reference")
    if reference is not None and not isinstance(reference, dict):
        errors.add(("message_reference",), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
    for key in ("tts", "enforce_nonce"):
        if body.get(key) is not None and not isinstance(body[key], bool):
            errors.add((key,), "BASE_TYPE_BOOLEAN", "Must be either true or false.")


def is_empty(body: JSON, files: int) -> bool:
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or files
        or body.get("sticker_ids")
        or body.get("poll")
        or body.get("attachments")
    )


def _text(embed: JSON, *keys: str) -> str:
    node: Any = embed
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) else ""


def check_embeds(embeds: list[Any], errors: FormErrors) -> None:
    errors.max_length(("embeds",), embeds, EMBEDS_MAX)
    total = 0
    for index, embed in enumerate(embeds):
        at: Path = ("embeds", index)
        if not isinstance(embed, dict):
            errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        for key, limit in (("title", EMBED_TITLE_MAX), ("description", EMBED_DESCRIPTION_MAX)):
            if embed.get(key) is not None and errors.string(embed[key], (*at, key)):
                errors.max_length((*at, key), embed[key], limit)
        footer, author = _text(embed, "footer", "text"), _text(embed, "author", "name")
        errors.max_length((*at, "footer", "text"), footer, EMBED_FOOTER_MAX)
        errors.max_length((*at, "author", "name"), author, EMBED_AUTHOR_MAX)
        if "color" in embed and embed["color"] is not None:
            errors.integer_between((*at, "color"), embed["color"], 0, 0xFFFFFF)
        fields = embed.get("fields") or []
        errors.max_length((*at, "fields"), fields, EMBED_FIELDS_MAX)
        size = len(_text(embed, "title")) + len(_text(embed, "description")) + len(footer) + len(author)
        for position, field in enumerate(fields if isinstance(fields, list) else []):
            where: Path = (*at, "fields", position)
            name, value = (field.get("name"), field.get("value")) if isinstance(field, dict) else (None, None)
            if errors.required((*where, "name"), name) and errors.string(name, (*where, "name")):
                errors.length_between((*where, "name"), name, 1, EMBED_FIELD_NAME_MAX)
                size += len(name)
            if errors.required((*where, "value"), value) and errors.string(value, (*where, "value")):
                errors.length_between((*where, "value"), value, 1, EMBED_FIELD_VALUE_MAX)
                size += len(value)
        total += size
    if total > EMBED_TOTAL_MAX:
        errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")


def check_components(components: list[Any], errors: FormErrors, *, v2: bool) -> None:
    """Legacy messages: at most 5 action rows of at most 5 buttons (or one select). V2: at most 40 in all."""
    seen: set[str] = set()
    if v2:
        count = _count(components)
        if count > COMPONENTS_V2_MAX:
            errors.add(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {COMPONENTS_V2_MAX} or fewer in length.")
        for index, component in enumerate(components):
            _check_tree(component, ("components", index), errors, seen)
        return
    errors.max_length(("components",), components, ACTION_ROWS_MAX)
    for index, row in enumerate(components):
        at: Path = ("components", index)
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            errors.add(
                (*at, "type"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED" if isinstance(row, dict) else "MODEL_TYPE_CONVERT",
                "Only action rows may be used at the top level of a message",
            )
            continue
        children = row.get("components") or []
        errors.length_between((*at, "components"), children, 1, ROW_BUTTONS_MAX)
        has_select = any(isinstance(c, dict) and c.get("type") in SELECTS for c in children)
        if has_select and len(children) > 1:
            errors.add(
                (*at, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for position, child in enumerate(children):
            _check_interactive(child, (*at, "components", position), errors, seen)


def _count(components: list[Any]) -> int:
    count = 0
    for component in components:
        if isinstance(component, dict):
            count += 1 + _count(list(_children(component)))
    return count


def _children(component: JSON) -> list[Any]:
    found = list(component.get("components") or [])
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            found.append(component[key])
    return found


def _check_tree(component: Any, at: Path, errors: FormErrors, seen: set[str]) -> None:
    if not isinstance(component, dict):
        errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    if component.get("type") in (BUTTON, *SELECTS):
        _check_interactive(component, at, errors, seen)
        return
    for index, child in enumerate(component.get("components") or []):
        _check_tree(child, (*at, "components", index), errors, seen)
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            _check_tree(component[key], (*at, key), errors, seen)


def _custom_id(component: JSON, at: Path, errors: FormErrors, seen: set[str]) -> None:
    custom_id = component.get("custom_id")
    if not errors.required((*at, "custom_id"), custom_id) or not errors.string(custom_id, (*at, "custom_id")):
        return
    errors.length_between((*at, "custom_id"), custom_id, 1, CUSTOM_ID_MAX)
    if custom_id in seen:
        errors.add((*at, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
    seen.add(custom_id)


def _check_interactive(component: Any, at: Path, errors: FormErrors, seen: set[str]) -> None:
    if not isinstance(component, dict):
        errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = component.get("type")
    if kind == BUTTON:
        style = component.get("style")
        if style == LINK_STYLE:
            errors.required((*at, "url"), component.get("url"))
            if "custom_id" in component:
                errors.add(
                    (*at, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_ALLOWED_ONLY_FOR_NON_LINK",
                    "A custom id cannot be used with a link button",
                )
        elif style != PREMIUM_STYLE:
            _custom_id(component, at, errors, seen)
        label = component.get("label")
        if label is not None and errors.string(label, (*at, "label")):
            errors.max_length((*at, "label"), label, BUTTON_LABEL_MAX)
    elif kind in SELECTS:
        _custom_id(component, at, errors, seen)
        errors.max_length((*at, "placeholder"), component.get("placeholder"), SELECT_PLACEHOLDER_MAX)
        for key in ("min_values", "max_values"):
            if component.get(key) is not None:
                errors.integer_between((*at, key), component[key], 0 if key == "min_values" else 1, 25)
        if kind == STRING_SELECT:
            options = component.get("options")
            if errors.required((*at, "options"), options) and isinstance(options, list):
                errors.length_between((*at, "options"), options, 1, SELECT_OPTIONS_MAX)
                for index, option in enumerate(options):
                    if not isinstance(option, dict):
                        continue
                    for key in ("label", "value"):
                        if errors.required((*at, "options", index, key), option.get(key)):
                            errors.length_between((*at, "options", index, key), option[key], 1, SELECT_OPTION_TEXT_MAX)
                    errors.max_length(
                        (*at, "options", index, "description"), option.get("description"), SELECT_OPTION_TEXT_MAX
                    )
    else:
        errors.add((*at, "type"), "COMPONENT_TYPE_INVALID", f"Component type {kind} is not valid here")


def check_modal(data: JSON, errors: FormErrors) -> None:
    """An interaction's MODAL response: title ≤ 45, custom_id ≤ 100, 1-5 inputs, text inputs ≤ 4000."""
    title, custom_id = data.get("title"), data.get("custom_id")
    if errors.required(("title",), title) and errors.string(title, ("title",)):
        errors.length_between(("title",), title, 1, MODAL_TITLE_MAX)
    if errors.required(("custom_id",), custom_id) and errors.string(custom_id, ("custom_id",)):
        errors.length_between(("custom_id",), custom_id, 1, CUSTOM_ID_MAX)
    components = data.get("components")
    if not errors.required(("components",), components) or not isinstance(components, list):
        return
    errors.length_between(("components",), components, 1, MODAL_INPUTS_MAX)
    seen: set[str] = set()
    for index, top in enumerate(components):
        at: Path = ("components", index)
        if not isinstance(top, dict):
            errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        if top.get("type") == ACTION_ROW:
            inner = top.get("components") or []
            errors.length_between((*at, "components"), inner, 1, 1)
            pairs = [
                ((*at, "components", i), c, c.get("label") if isinstance(c, dict) else None)
                for i, c in enumerate(inner)
            ]
        elif top.get("type") == LABEL:
            label = top.get("label")
            if errors.required((*at, "label"), label):
                errors.length_between((*at, "label"), label, 1, TEXT_INPUT_LABEL_MAX)
            pairs = [((*at, "component"), top.get("component"), None)]
        elif top.get("type") == 10:  # text display: nothing to submit
            continue
        else:
            errors.add((*at, "type"), "COMPONENT_TYPE_INVALID", "Only action rows, labels and text may be used here")
            continue
        for where, component, label in pairs:
            if not isinstance(component, dict):
                errors.required(where, None)
                continue
            if component.get("type") == TEXT_INPUT:
                _check_text_input(component, where, label, errors, seen)
            else:
                _check_interactive(component, where, errors, seen)


def _check_text_input(component: JSON, at: Path, label: Any, errors: FormErrors, seen: set[str]) -> None:
    _custom_id(component, at, errors, seen)
    if errors.required((*at, "style"), component.get("style")):
        errors.integer_between((*at, "style"), component["style"], 1, 2)
    if (label is not None or "label" in component) and errors.required((*at, "label"), label):
        errors.length_between((*at, "label"), label, 1, TEXT_INPUT_LABEL_MAX)
    for key, low, high in (("min_length", 0, TEXT_INPUT_VALUE_MAX), ("max_length", 1, TEXT_INPUT_VALUE_MAX)):
        if component.get(key) is not None:
            errors.integer_between((*at, key), component[key], low, high)
    errors.max_length((*at, "value"), component.get("value"), TEXT_INPUT_VALUE_MAX)
    errors.max_length((*at, "placeholder"), component.get("placeholder"), TEXT_INPUT_PLACEHOLDER_MAX)


def check_choices(choices: Any, errors: FormErrors) -> None:
    """An AUTOCOMPLETE_RESULT: at most 25 choices, names 1-100, string values ≤ 100, numbers finite."""
    if not errors.required(("choices",), choices) or not isinstance(choices, list):
        return
    errors.max_length(("choices",), choices, CHOICES_MAX)
    for index, choice in enumerate(choices):
        _check_choice(choice, ("choices", index), errors)


def _check_choice(choice: Any, at: Path, errors: FormErrors) -> None:
    if not isinstance(choice, dict):
        errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    name, value = choice.get("name"), choice.get("value")
    if errors.required((*at, "name"), name) and errors.string(name, (*at, "name")):
        errors.length_between((*at, "name"), name, 1, CHOICE_NAME_MAX)
    if errors.required((*at, "value"), value):
        if isinstance(value, str):
            errors.max_length((*at, "value"), value, CHOICE_VALUE_MAX)
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.add((*at, "value"), "BASE_TYPE_CHOICES", "Value must be a string, an integer or a number.")


SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
OPTION_TYPES = tuple(range(1, 12))
CHAT_INPUT = 1


def check_commands(commands: Any) -> None:
    """A bulk overwrite: each command's names, descriptions, options and choices within Discord's limits."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
        errors.raise_if_any()
        return
    errors.max_length((), commands, COMMANDS_MAX)
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        with errors.under(index):
            name = check_command(command, errors)
        kind = command.get("type", CHAT_INPUT) if isinstance(command, dict) else None
        key = (kind, name) if isinstance(kind, int) else None
        if key is not None and name:
            if key in seen:
                errors.add(
                    (index, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {name}",
                )
            seen.add(key)
    errors.raise_if_any()


def check_command(command: Any, errors: FormErrors) -> str:
    if not isinstance(command, dict):
        errors.add((), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return ""
    kind = command.get("type", CHAT_INPUT)
    if kind not in (1, 2, 3, 4):
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
    permissions = command.get("default_member_permissions")
    if permissions is not None and not (
        (isinstance(permissions, str) and permissions.isdigit() and len(permissions) <= 20)
        or (isinstance(permissions, int) and not isinstance(permissions, bool) and 0 <= permissions < 2**64)
    ):
        errors.add(("default_member_permissions",), "NUMBER_TYPE_COERCE", f'Value "{permissions}" is not int.')
    contexts = command.get("contexts")
    if contexts is not None and not (isinstance(contexts, list) and all(c in (0, 1, 2) for c in contexts)):
        errors.add(("contexts",), "BASE_TYPE_CHOICES", "Values must be one of {0, 1, 2}.")
    for flag in ("nsfw", "dm_permission"):
        if command.get(flag) is not None and not isinstance(command[flag], bool):
            errors.add((flag,), "BASE_TYPE_BOOLEAN", "Must be either true or false.")
    name = command.get("name")
    chat = kind == CHAT_INPUT
    if errors.required(("name",), name) and errors.string(name, ("name",)):
        if chat:
            _check_name(("name",), name, errors)
        else:
            errors.length_between(("name",), name, 1, COMMAND_NAME_MAX)
    description = command.get("description")
    if chat:
        if errors.required(("description",), description) and errors.string(description, ("description",)):
            errors.length_between(("description",), description, 1, COMMAND_DESCRIPTION_MAX)
        _check_options(command.get("options"), ("options",), errors, depth=0)
    elif description:
        errors.add(
            ("description",),
            "APPLICATION_COMMAND_DESCRIPTION_NOT_EMPTY",
            "Only chat input commands may have a description",
        )
    return name if isinstance(name, str) else ""


def _check_name(at: Path, name: str, errors: FormErrors) -> None:
    errors.length_between(at, name, 1, COMMAND_NAME_MAX)
    if not _COMMAND_NAME.match(name) or name != name.lower():
        errors.add(at, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _check_options(options: Any, at: Path, errors: FormErrors, *, depth: int) -> None:
    if options is None:
        return
    if not isinstance(options, list):
        errors.add(at, "BASE_TYPE_ARRAY", "Could not interpret value as array.")
        return
    errors.max_length(at, options, COMMAND_OPTIONS_MAX)
    optional_seen = False
    names: set[str] = set()
    for index, option in enumerate(options):
        where: Path = (*at, index)
        if not isinstance(option, dict):
            errors.add(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        kind = option.get("type")
        if isinstance(kind, bool) or kind not in OPTION_TYPES:
            errors.add((*where, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(OPTION_TYPES)}.")
            continue
        name = option.get("name")
        if errors.required((*where, "name"), name) and errors.string(name, (*where, "name")):
            _check_name((*where, "name"), name, errors)
            if name in names:
                errors.add(
                    (*where, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
                )
            names.add(name)
        description = option.get("description")
        if errors.required((*where, "description"), description) and errors.string(
            description, (*where, "description")
        ):
            errors.length_between((*where, "description"), description, 1, COMMAND_DESCRIPTION_MAX)
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if depth >= (1 if kind == SUB_COMMAND_GROUP else 2):
                errors.add(
                    (*where, "type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-commands cannot be nested this deep",
                )
            _check_options(option.get("options"), (*where, "options"), errors, depth=depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                errors.add(
                    (*where, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        choices = option.get("choices")
        if choices:
            if not isinstance(choices, list):
                errors.add((*where, "choices"), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
            else:
                errors.max_length((*where, "choices"), choices, CHOICES_MAX)
                for position, choice in enumerate(choices):
                    _check_choice(choice, (*where, "choices", position), errors)
            if option.get("autocomplete"):
                errors.add(
                    (*where, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES_MUTUALLY_EXCLUSIVE",
                    "Autocomplete cannot be enabled on an option with choices",
                )
        for key in ("min_length", "max_length"):
            if option.get(key) is not None:
                errors.integer_between((*where, key), option[key], 0 if key == "min_length" else 1, 6000)
