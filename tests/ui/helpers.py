"""What a member sees and does, in a few words: forms by their labels, buttons by their ids, files by their names."""

from __future__ import annotations

import re
from typing import Any

import discord

WAV = b"RIFF"
PNG = b"\x89PNG"


def form(shown: Any) -> dict[str, dict[str, Any]]:
    """The text inputs of the modal a member was shown, by label (as the member reads them)."""
    assert shown.modal is not None, f"expected a form, got {shown!r}"
    inputs: dict[str, dict[str, Any]] = {}
    for row in shown.modal["components"]:
        for control in row.get("components") or [row.get("component")]:
            inputs[control["label"]] = control
    return inputs


def defaults(shown: Any) -> dict[str, str]:
    """The form's pre-filled values, by label (blank fields are absent)."""
    return {label: control["value"] for label, control in form(shown).items() if control.get("value")}


async def submit(member: Any, shown: Any, **by_label: str) -> Any:
    """Submit a form as a member would: pre-filled text stays unless changed; values are keyed by label.

    SimCord keys modal values by custom_id and sends "" for a field that isn't given, while Discord sends the
    pre-filled text back; so every pre-filled value is passed on explicitly, as the member's client would.
    """
    inputs = form(shown)
    values: dict[str, str] = {c["custom_id"]: c["value"] for c in inputs.values() if c.get("value")}
    for label, value in by_label.items():
        assert label in inputs, f"no field {label!r} in {sorted(inputs)}"
        values[inputs[label]["custom_id"]] = value
    return await member.submit_modal(shown, values)


def _components(message: Any) -> list[Any]:
    found: list[Any] = []
    for row in message.components:
        found.extend(row.children if isinstance(row, discord.ActionRow) else row.get("components", []))
    return found


def button_ids(message: Any) -> list[str]:
    """custom_ids of a message's buttons, in order (a discord.Message or a SimCord ResponseMessage)."""
    ids: list[str] = []
    for child in _components(message):
        if isinstance(child, discord.Button):
            custom_id = child.custom_id
        elif isinstance(child, dict) and child.get("type") == 2:
            custom_id = child.get("custom_id")
        else:
            continue
        if custom_id:
            ids.append(custom_id)
    return ids


def menus(message: Any) -> dict[str, list[str]]:
    """A message's select menus: custom_id -> the option labels it offers, in order (as a member reads them)."""
    found: dict[str, list[str]] = {}
    for child in _components(message):
        if isinstance(child, discord.SelectMenu):
            found[child.custom_id or ""] = [o.label for o in child.options]
        elif isinstance(child, dict) and child.get("type") == 3:
            found[str(child.get("custom_id"))] = [str(o.get("label")) for o in child.get("options", [])]
    return found


def track_id(post: discord.Message) -> int:
    """The track number in a track post's footer ("Track #3 · sandbox")."""
    found = re.match(r"Track #(\d+)", post.embeds[0].footer.text or "")
    assert found, post.embeds[0].footer.text
    return int(found.group(1))


def fields(embed: discord.Embed) -> dict[str, str]:
    return {f.name or "": f.value or "" for f in embed.fields}


async def files(message: discord.Message) -> dict[str, bytes]:
    """A message's attachments, by filename, with their bytes (from SimCord's CDN)."""
    return {a.filename: await a.read() for a in message.attachments}


def reference_of(text: str) -> str:
    """The short reference an unexpected error shows the member."""
    found = re.search(r"reference[^*]*\*\*([0-9A-F]{6})\*\*", text)
    assert found, text
    return found.group(1)
