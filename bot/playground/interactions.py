"""Interactions, from a member's click to the bot's answer, with Discord's rules.

A member's client posts ``/interactions``; the bot gets ``INTERACTION_CREATE`` with a token; the bot answers
once (``/interactions/{id}/{token}/callback``) within 3 seconds, or the member sees "The application did not
respond" and the late answer gets ``10062 Unknown interaction``; a second answer gets ``40060``; follow-ups and
edits of ``@original`` work for 15 minutes with the token, then ``50027 Invalid Webhook Token``.

The member's side follows Discord's client events: ``INTERACTION_CREATE``/``SUCCESS``/``FAILURE`` matched by the
client's nonce, ``INTERACTION_MODAL_CREATE`` and ``APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE``.

Option values are passed on as the member typed them: only their types are checked (so discord.py can parse
them), never their declared ranges or lengths. Discord's own client enforces those, but a test bench must show
what the bot does with anything a modified client could send.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from bot.playground import limits
from bot.playground import permissions as p
from bot.playground.errors import JSON, ApiError, FormErrors, Path, is_snowflake, unknown
from bot.playground.gateway import Gateway
from bot.playground.messages import Messages, Origin, Upload
from bot.playground.state import LOADING, State

log = logging.getLogger(__name__)

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
TOKEN_LIFETIME = 15 * 60.0
DID_NOT_RESPOND = "The application did not respond"
MAX_SAFE_INTEGER = 2**53
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
OPEN_MODALS_PER_USER = 20

After = Callable[[], Awaitable[None]]


@dataclass
class Interaction:
    id: int
    token: str
    kind: int
    user_id: int
    channel_id: int
    nonce: str | None
    session_id: str | None
    created_at: float
    name: str | None = None  # "music create"
    source_message_id: int | None = None
    triggering: JSON | None = None  # the modal's own interaction, for a modal submitted from a button
    acknowledged: bool = False
    failed: bool = False
    response_type: int | None = None
    original_message_id: int | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass
class OpenModal:
    interaction_id: int
    custom_id: str
    channel_id: int
    data: JSON
    source_message_id: int | None
    origin_kind: int
    origin_name: str | None
    created_at: float


@dataclass
class CallbackResult:
    status: int
    body: JSON | None
    after: list[After] = field(default_factory=list)


class Interactions:
    def __init__(self, state: State, gateway: Gateway, messages: Messages, *, deadline: float) -> None:
        self._state = state
        self._gateway = gateway
        self._messages = messages
        self.deadline = deadline
        self._by_token: OrderedDict[str, Interaction] = OrderedDict()
        self._modals: dict[int, list[OpenModal]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- a member's side ----------------------------------------------------------------------------------------
    async def create(self, user_id: int, payload: Any, uploads: list[Upload]) -> None:
        """``POST /interactions`` from a member's client: check it, build the bot's payload, start the clock."""
        state = self._state
        if not isinstance(payload, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        errors = FormErrors()
        kind = payload.get("type")
        if kind not in (APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT):
            errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {2, 3, 4, 5}.")
        nonce = payload.get("nonce")
        if nonce is not None and not ((isinstance(nonce, str) and len(nonce) <= 25) or _is_int(nonce)):
            errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        data = payload.get("data")
        if not isinstance(data, dict):
            errors.add(("data",), "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
        assert isinstance(data, dict)
        if str(payload.get("application_id")) != str(state.application_id):
            raise unknown("Application", 10002)
        if payload.get("guild_id") is not None and str(payload["guild_id"]) != str(state.guild_id):
            raise unknown("Guild", 10004)
        channel = state.channel(_snowflake(payload.get("channel_id"), "channel_id"))
        if not state.can_view(user_id, channel):
            raise ApiError(403, 50001, "Missing Access")
        self._forget_old()
        interaction = Interaction(
            id=state.snowflakes.next(),
            token=f"playground-interaction.{secrets.token_urlsafe(24)}",
            kind=cast(int, kind),  # one of 2-5, checked above
            user_id=user_id,
            channel_id=int(channel["id"]),
            nonce=None if nonce is None else str(nonce),
            session_id=payload.get("session_id") if isinstance(payload.get("session_id"), str) else None,
            created_at=state.clock(),
        )
        bot_payload = await self._bot_payload(interaction, channel, data, payload, uploads)
        self._by_token[interaction.token] = interaction
        loop = asyncio.get_running_loop()
        interaction.timer = loop.call_later(self.deadline, self._on_deadline, interaction)
        await self._to_member(
            interaction, "INTERACTION_CREATE", {"id": str(interaction.id), "nonce": interaction.nonce}
        )
        await self._gateway.to_bot("INTERACTION_CREATE", bot_payload)

    async def _bot_payload(
        self, interaction: Interaction, channel: JSON, data: JSON, payload: JSON, uploads: list[Upload]
    ) -> JSON:
        state = self._state
        user_id = interaction.user_id
        out: JSON = {
            "id": str(interaction.id),
            "application_id": str(state.application_id),
            "type": interaction.kind,
            "guild_id": str(state.guild_id),
            "guild": {"id": str(state.guild_id), "locale": "en-US", "features": []},
            "channel_id": channel["id"],
            "channel": {**state.channel_out(channel), "permissions": str(state.permissions(user_id, channel))},
            "member": state.member_out(user_id, channel=channel),
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(state.permissions(state.bot_id, channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(state.guild_id)},
            "context": 0,
            "attachment_size_limit": state.upload_limit(),
        }
        if interaction.kind in (APPLICATION_COMMAND, AUTOCOMPLETE):
            if not state.permissions(user_id, channel) & p.USE_APPLICATION_COMMANDS:
                raise ApiError(403, 50013, "Missing Permissions")
            out["data"] = await self._command_data(interaction, channel, data, uploads)
        elif interaction.kind == MESSAGE_COMPONENT:
            message_id = _snowflake(payload.get("message_id"), "message_id")
            message = await self._messages.find(message_id)
            owner = None if message is None else self._messages.ephemeral_owner(message)
            if message is None or int(message["channel_id"]) != interaction.channel_id or owner not in (None, user_id):
                raise unknown("Message", 10008)
            out["data"] = self._component_data(message, data)
            out["message"] = state.message_out(message)
            interaction.source_message_id = message_id
        else:
            modal = self._open_modal(user_id, data)
            out["data"] = self._modal_data(modal, data)
            if modal.source_message_id is not None:
                message = await self._messages.find(modal.source_message_id)
                if message is not None:
                    out["message"] = state.message_out(message)
                    interaction.source_message_id = modal.source_message_id
            interaction.triggering = {
                "id": str(modal.interaction_id),
                "type": modal.origin_kind,
                "user": copy.deepcopy(state.users[user_id]),
                "authorizing_integration_owners": {"0": str(state.guild_id)},
            }
            if modal.origin_name:
                interaction.triggering["name"] = modal.origin_name
        return out

    async def _command_data(self, interaction: Interaction, channel: JSON, data: JSON, uploads: list[Upload]) -> JSON:
        state = self._state
        command_id = _snowflake(data.get("id"), "data.id")
        command = state.commands.get(command_id)
        if command is None or command.get("guild_id") not in (None, str(state.guild_id)):
            raise unknown("application command", 10063)
        if data.get("name") is not None and data["name"] != command["name"]:
            raise unknown("application command", 10063)
        required = command.get("default_member_permissions")
        perms = state.permissions(interaction.user_id, channel)
        if required is not None and int(required) & perms != int(required) and not perms & p.ADMINISTRATOR:
            raise ApiError(403, 50013, "Missing Permissions")
        errors = FormErrors()
        resolved: JSON = {}
        attachments = await self._attachment_options(interaction, data, uploads, errors)
        path: list[str] = [command["name"]]
        options = self._options(
            command.get("options") or [],
            data.get("options") or [],
            ("data", "options"),
            errors,
            resolved,
            attachments,
            path,
            autocomplete=interaction.kind == AUTOCOMPLETE,
        )
        errors.raise_if_any()
        interaction.name = " ".join(path)
        out: JSON = {"id": command["id"], "name": command["name"], "type": command.get("type", 1)}
        if options:
            out["options"] = options
        if command.get("guild_id"):
            out["guild_id"] = command["guild_id"]
        if resolved:
            out["resolved"] = resolved
        return out

    async def _attachment_options(
        self, interaction: Interaction, data: JSON, uploads: list[Upload], errors: FormErrors
    ) -> dict[str, JSON]:
        """Files sent with the interaction (``files[n]``, described in ``data.attachments``) as attachments."""
        if not uploads:
            return {}
        if sum(len(u.data) for u in uploads) > self._state.upload_limit():
            raise ApiError(413, 40005, "Request entity too large")
        described = {str(a.get("id")): a for a in data.get("attachments") or [] if isinstance(a, dict)}
        found: dict[str, JSON] = {}
        for position, upload in enumerate(uploads):
            index = str(upload.index if upload.index is not None else position)
            entry = described.get(index, {})
            attachment = await self._messages.store_file(interaction.channel_id, upload, entry, ephemeral=True)
            attachment["url"] = attachment["proxy_url"] = self._state.attachment_url(interaction.channel_id, attachment)
            found[index] = attachment
        return found

    def _options(
        self,
        schema: list[JSON],
        given: Any,
        at: Path,
        errors: FormErrors,
        resolved: JSON,
        attachments: dict[str, JSON],
        path: list[str],
        *,
        autocomplete: bool,
    ) -> list[JSON]:
        if not isinstance(given, list):
            errors.add(at, "BASE_TYPE_ARRAY", "Could not interpret value as array.")
            return []
        by_name = {o["name"]: o for o in schema}
        groups = [o for o in schema if o.get("type") in (1, 2)]
        out: list[JSON] = []
        named: set[str] = set()
        for index, option in enumerate(given):
            where: Path = (*at, index)
            name = option.get("name") if isinstance(option, dict) else None
            definition = by_name.get(name) if isinstance(name, str) else None
            if definition is None or not isinstance(name, str):
                errors.add((*where, "name"), "APPLICATION_COMMAND_OPTION_UNKNOWN", f"Unknown option {name!r}")
                continue
            named.add(name)
            kind = definition["type"]
            if option.get("type") not in (None, kind):
                errors.add((*where, "type"), "BASE_TYPE_CHOICES", f"Option {name!r} is of type {kind}.")
                continue
            if kind in (1, 2):
                path.append(name)
                inner = self._options(
                    definition.get("options") or [],
                    option.get("options") or [],
                    (*where, "options"),
                    errors,
                    resolved,
                    attachments,
                    path,
                    autocomplete=autocomplete,
                )
                entry: JSON = {"type": kind, "name": name}
                if inner or kind == 1:
                    entry["options"] = inner
                out.append(entry)
                continue
            value = option.get("value")
            if autocomplete and option.get("focused"):
                # What the member is typing, as typed: Discord sends the raw text of the focused option.
                out.append({"type": kind, "name": name, "value": "" if value is None else str(value), "focused": True})
                continue
            typed = self._value(kind, value, (*where, "value"), errors, resolved, attachments)
            if typed is not None:
                out.append({"type": kind, "name": name, "value": typed})
        if groups and not autocomplete and len([o for o in out if o["type"] in (1, 2)]) != 1:
            errors.add(at, "APPLICATION_COMMAND_OPTION_REQUIRED", "Choose one subcommand")
        if not groups and not autocomplete:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in named]
            for name in missing:
                errors.add(at, "APPLICATION_COMMAND_OPTION_REQUIRED", f"Option {name!r} is required")
        return out

    def _value(
        self, kind: int, value: Any, at: Path, errors: FormErrors, resolved: JSON, attachments: dict[str, JSON]
    ) -> Any:
        """Only the type is checked, so discord.py can parse the value; ranges and lengths are the bot's business."""
        state = self._state
        if kind == STRING:
            if isinstance(value, str):
                return value
            errors.add(at, "BASE_TYPE_STRING", "Could not interpret value as string.")
        elif kind == INTEGER:
            number = int(value) if isinstance(value, str) and _integer_text(value) else value
            if _is_int(number) and abs(number) <= MAX_SAFE_INTEGER:
                return number
            errors.add(at, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        elif kind == NUMBER:
            number = _float(value)
            if number is not None:
                return number
            errors.add(at, "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
        elif kind == BOOLEAN:
            if isinstance(value, bool):
                return value
            if value in ("true", "false", "True", "False"):
                return value.lower() == "true"
            errors.add(at, "BASE_TYPE_BOOLEAN", "Must be either true or false.")
        elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
            target = int(value) if isinstance(value, str | int) and str(value).isdigit() else None
            if target is not None and kind in (USER, MENTIONABLE) and target in state.users:
                resolved.setdefault("users", {})[str(target)] = copy.deepcopy(state.users[target])
                if target in state.members:
                    member = state.member_out(target, with_user=False)
                    member["permissions"] = str(state.guild_permissions(target))
                    resolved.setdefault("members", {})[str(target)] = member
                return str(target)
            if target is not None and kind in (ROLE, MENTIONABLE) and target in state.roles:
                resolved.setdefault("roles", {})[str(target)] = copy.deepcopy(state.roles[target])
                return str(target)
            if target is not None and kind == CHANNEL and target in state.channels:
                channel = state.channels[target]
                resolved.setdefault("channels", {})[str(target)] = {
                    **state.channel_out(channel),
                    "permissions": str(state.permissions(state.bot_id, channel)),
                }
                return str(target)
            errors.add(at, "BASE_TYPE_CHOICES", f'Value "{value}" is not a known {_NOUNS[kind]}.')
        elif kind == ATTACHMENT:
            attachment = attachments.get(str(value))
            if attachment is not None:
                resolved.setdefault("attachments", {})[attachment["id"]] = attachment
                return attachment["id"]
            errors.add(at, "BASE_TYPE_CHOICES", "Value must name a file sent with the interaction (files[n]).")
        return None

    def _component_data(self, message: JSON, data: JSON) -> JSON:
        custom_id = data.get("custom_id")
        component = _find_component(message.get("components") or [], custom_id) if isinstance(custom_id, str) else None
        if component is None:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "data": {
                        "custom_id": {
                            "_errors": [
                                {"code": "COMPONENT_NOT_FOUND", "message": "This message has no such component"}
                            ]
                        }
                    }
                },
            )
        if component.get("disabled"):
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "data": {
                        "custom_id": {
                            "_errors": [{"code": "COMPONENT_DISABLED", "message": "This component is disabled"}]
                        }
                    }
                },
            )
        out: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != limits.BUTTON:
            values = data.get("values") or []
            if not isinstance(values, list) or len(values) > 25 or not all(isinstance(v, str) for v in values):
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    errors={
                        "data": {
                            "values": {
                                "_errors": [
                                    {"code": "BASE_TYPE_ARRAY", "message": "Must be a list of at most 25 strings."}
                                ]
                            }
                        }
                    },
                )
            out["values"] = values
            resolved: JSON = {}
            for value in values:
                if component["type"] in (5, 6, 7, 8) and value.isdigit():
                    kind = {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}[component["type"]]
                    self._value(kind, value, (), FormErrors(), resolved, {})
            if resolved:
                out["resolved"] = resolved
        return out

    def _open_modal(self, user_id: int, data: JSON) -> OpenModal:
        modals = self._modals.get(user_id, [])
        wanted_id, custom_id = data.get("id"), data.get("custom_id")
        now = self._state.clock()
        for modal in reversed(modals):
            if now - modal.created_at > TOKEN_LIFETIME:
                continue
            if (wanted_id is not None and str(wanted_id) == str(modal.interaction_id)) or (
                wanted_id is None and custom_id == modal.custom_id
            ):
                return modal
        raise unknown("interaction", 10062)

    def _modal_data(self, modal: OpenModal, data: JSON) -> JSON:
        """The submitted values, checked against the modal's inputs (by custom_id), passed on as typed."""
        inputs = _modal_inputs(modal.data.get("components") or [])
        errors = FormErrors()
        submitted = data.get("components")
        if not isinstance(submitted, list):
            errors.add(("data", "components"), "BASE_TYPE_ARRAY", "Could not interpret value as array.")
            errors.raise_if_any()
        assert isinstance(submitted, list)
        for index, component in enumerate(submitted):
            for inner in _modal_inputs([component]).values():
                custom_id, value = inner.get("custom_id"), inner.get("value")
                if custom_id not in inputs:
                    errors.add(("data", "components", index), "COMPONENT_NOT_FOUND", f"No input {custom_id!r}")
                elif "value" in inner and not isinstance(value, str):
                    errors.add(
                        ("data", "components", index, "value"),
                        "BASE_TYPE_STRING",
                        "Could not interpret value as string.",
                    )
                elif isinstance(value, str) and len(value) > limits.TEXT_INPUT_VALUE_MAX:
                    errors.max_length(("data", "components", index, "value"), value, limits.TEXT_INPUT_VALUE_MAX)
        errors.raise_if_any()
        return {"custom_id": modal.custom_id, "components": submitted, "id": str(modal.interaction_id)}

    # --- the bot's side -----------------------------------------------------------------------------------------
    def interaction_for_callback(self, interaction_id: int, token: str) -> Interaction:
        interaction = self._by_token.get(token)
        if interaction is None or interaction.id != interaction_id:
            raise unknown("interaction", 10062)
        if interaction.failed or self._state.clock() - interaction.created_at > self.deadline:
            if not interaction.failed:
                self._spawn(self._missed(interaction))
            raise unknown("interaction", 10062)
        return interaction

    async def callback(self, interaction: Interaction, body: Any, uploads: list[Upload]) -> CallbackResult:
        if interaction.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if not isinstance(body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        kind, data = body.get("type"), body.get("data")
        data = data if isinstance(data, dict) else {}
        allowed = _RESPONSES.get(interaction.kind, set())
        from_message = interaction.source_message_id is not None
        if kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and not from_message:
            allowed = allowed - {DEFERRED_UPDATE, UPDATE_MESSAGE}
        if not _is_int(kind) or kind not in allowed:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": f"Value must be one of {sorted(allowed)} for this interaction.",
                            }
                        ]
                    }
                },
            )
        after: list[After] = []
        message: JSON | None = None
        channel = self._state.channel(interaction.channel_id)
        origin = self._origin(interaction)
        if kind == CHANNEL_MESSAGE:
            message = await self._messages.create(
                channel, self._state.bot_id, data, uploads, origin=origin, errors_under="data", announce=False
            )
            interaction.original_message_id = int(message["id"])
            after.append(self._announce("MESSAGE_CREATE", message))
        elif kind == DEFERRED_MESSAGE:
            flags = (data.get("flags") or 0) & limits.EPHEMERAL if _is_int(data.get("flags") or 0) else 0
            message = await self._messages.create(
                channel, self._state.bot_id, {"flags": flags}, [], origin=origin, loading=True, announce=False
            )
            interaction.original_message_id = int(message["id"])
            after.append(self._announce("MESSAGE_CREATE", message))
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            assert interaction.source_message_id is not None
            interaction.original_message_id = interaction.source_message_id
            if kind == UPDATE_MESSAGE:
                source = await self._messages.find(interaction.source_message_id)
                if source is None:
                    raise unknown("Message", 10008)
                message = await self._messages.edit(source, data, uploads, errors_under="data", announce=False)
                after.append(self._announce("MESSAGE_UPDATE", message))
        elif kind == AUTOCOMPLETE_RESULT:
            errors = FormErrors()
            with errors.under("data"):
                limits.check_choices(data.get("choices"), errors)
            errors.raise_if_any()
            choices = copy.deepcopy(data["choices"])
            after.append(
                lambda: self._to_member(
                    interaction,
                    "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE",
                    {"nonce": interaction.nonce, "choices": choices, "application_id": str(self._state.application_id)},
                )
            )
        elif kind == MODAL:
            errors = FormErrors()
            with errors.under("data"):
                limits.check_modal(data, errors)
            errors.raise_if_any()
            modal = self._remember_modal(interaction, data)
            after.append(
                lambda: self._to_member(
                    interaction,
                    "INTERACTION_MODAL_CREATE",
                    {
                        "id": str(interaction.id),
                        "nonce": interaction.nonce,
                        "channel_id": str(interaction.channel_id),
                        "custom_id": modal.custom_id,
                        "title": data["title"],
                        "components": copy.deepcopy(modal.data["components"]),
                        "application": {
                            k: v for k, v in self._state.application_out().items() if k in ("id", "name", "icon", "bot")
                        },
                    },
                )
            )
        interaction.acknowledged = True
        interaction.response_type = kind
        if interaction.timer is not None:
            interaction.timer.cancel()
        if kind != AUTOCOMPLETE_RESULT:
            after.append(
                lambda: self._to_member(
                    interaction, "INTERACTION_SUCCESS", {"id": str(interaction.id), "nonce": interaction.nonce}
                )
            )
        answer: JSON = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.kind,
                "response_message_loading": kind == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message is not None and message["flags"] & limits.EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        if interaction.original_message_id is not None and kind in (CHANNEL_MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE):
            answer["interaction"]["response_message_id"] = str(interaction.original_message_id)
        if message is not None:
            answer["resource"]["message"] = self._state.message_out(message)
        return CallbackResult(200, answer, after)

    def _origin(self, interaction: Interaction) -> Origin:
        return Origin(
            interaction_id=interaction.id,
            kind=interaction.kind,
            user_id=interaction.user_id,
            name=interaction.name if interaction.kind == APPLICATION_COMMAND else None,
            source_message_id=interaction.source_message_id,
            triggering=interaction.triggering,
        )

    def _remember_modal(self, interaction: Interaction, data: JSON) -> OpenModal:
        modal = OpenModal(
            interaction_id=interaction.id,
            custom_id=data["custom_id"],
            channel_id=interaction.channel_id,
            data=copy.deepcopy(data),
            source_message_id=interaction.source_message_id,
            origin_kind=interaction.kind,
            origin_name=interaction.name,
            created_at=self._state.clock(),
        )
        modals = self._modals.setdefault(interaction.user_id, [])
        modals.append(modal)
        del modals[:-OPEN_MODALS_PER_USER]
        return modal

    def interaction_for_webhook(self, application_id: int, token: str) -> Interaction:
        """The interaction behind a webhook token: 10015 when unknown, 50027 once 15 minutes have passed."""
        interaction = self._by_token.get(token)
        if application_id != self._state.application_id or interaction is None:
            raise unknown("Webhook", 10015)
        if self._state.clock() - interaction.created_at > TOKEN_LIFETIME:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return interaction

    async def webhook_message(self, interaction: Interaction, message_id: str) -> JSON:
        if message_id == "@original":
            if interaction.original_message_id is None:
                raise unknown("Message", 10008)
            message = await self._messages.find(interaction.original_message_id)
        else:
            message = await self._messages.find(int(message_id))
            if message is not None and message.get("webhook_id") != str(self._state.application_id):
                message = None
        owner = None if message is None else self._messages.ephemeral_owner(message)
        if message is None or owner not in (None, interaction.user_id):
            raise unknown("Message", 10008)
        return message

    async def followup(self, interaction: Interaction, body: JSON, uploads: list[Upload]) -> JSON:
        if not interaction.acknowledged:
            raise unknown("Webhook", 10015)
        if interaction.response_type == DEFERRED_MESSAGE and interaction.original_message_id is not None:
            original = await self._messages.find(interaction.original_message_id)
            if original is not None and original["flags"] & LOADING:
                # The first follow-up of a deferred response fills in the "thinking…" message (and keeps the
                # deferral's visibility: ephemeral or not was decided when deferring).
                edit = {k: v for k, v in body.items() if k != "flags"}
                return await self._messages.edit(original, edit, uploads)
        channel = self._state.channel(interaction.channel_id)
        return await self._messages.create(channel, self._state.bot_id, body, uploads, origin=self._origin(interaction))

    # --- plumbing -----------------------------------------------------------------------------------------------
    def _announce(self, event: str, message: JSON) -> After:
        return lambda: self._messages.emit(event, message)

    async def _to_member(self, interaction: Interaction, event: str, data: JSON) -> None:
        await self._gateway.to_users(event, data, users=[interaction.user_id], session_id=interaction.session_id)

    def _on_deadline(self, interaction: Interaction) -> None:
        if not interaction.acknowledged:
            self._spawn(self._missed(interaction))

    async def _missed(self, interaction: Interaction) -> None:
        if interaction.acknowledged or interaction.failed:
            return
        interaction.failed = True
        log.info("interaction %d was not answered within %.1fs", interaction.id, self.deadline)
        await self._to_member(
            interaction,
            "INTERACTION_FAILURE",
            {"id": str(interaction.id), "nonce": interaction.nonce, "reason": DID_NOT_RESPOND},
        )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget_old(self) -> None:
        now = self._state.clock()
        while self._by_token:
            token, oldest = next(iter(self._by_token.items()))
            if now - oldest.created_at <= TOKEN_LIFETIME:
                break
            del self._by_token[token]

    async def close(self) -> None:
        for interaction in self._by_token.values():
            if interaction.timer is not None:
                interaction.timer.cancel()
        for task in list(self._tasks):
            task.cancel()


_RESPONSES = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}
_NOUNS = {USER: "user", CHANNEL: "channel", ROLE: "role", MENTIONABLE: "user or role"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer_text(text: str) -> bool:
    stripped = text.strip()
    return stripped.lstrip("-").isdigit() and len(stripped) <= 20


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) <= 1e300:
        return value
    return None


def _snowflake(value: Any, name: str) -> int:
    if is_snowflake(value):
        return int(value)
    raise ApiError(
        400, 50035, "Invalid Form Body", errors=_tree(name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
    )


def _tree(dotted: str, code: str, message: str) -> JSON:
    tree: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(dotted.split(".")):
        tree = {part: tree}
    return tree


def _children(component: JSON) -> list[JSON]:
    found: list[JSON] = [c for c in component.get("components") or [] if isinstance(c, dict)]
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            found.append(component[key])
    return found


def _find_component(components: list[JSON], custom_id: str) -> JSON | None:
    for component in components:
        if not isinstance(component, dict):
            continue
        if component.get("custom_id") == custom_id and component.get("type") != limits.ACTION_ROW:
            return component
        inner = _find_component(_children(component), custom_id)
        if inner is not None:
            return inner
    return None


def _modal_inputs(components: list[Any]) -> dict[str, JSON]:
    """Every input with a custom_id in a modal's (or a submission's) component tree."""
    found: dict[str, JSON] = {}
    for component in components:
        if not isinstance(component, dict):
            continue
        if isinstance(component.get("custom_id"), str):
            found[component["custom_id"]] = component
        found.update(_modal_inputs(_children(component)))
    return found
