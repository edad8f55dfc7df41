"""Core speaks in structured values; every word members read, and all Discord markup, is made in bot/ui."""

from __future__ import annotations

import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
# Mentions (<@id>, <@&role>, <#channel>), timestamps (<t:…>) and custom emoji (<:name:id>) are Discord's markup.
MARKUP = re.compile(r"<(@&?|#|t:|a?:\w+:)\{?[\w.()]*\}?")


def test_no_discord_markup_is_built_in_core_or_domain() -> None:
    found = [
        f"{path.relative_to(BOT.parent)}:{n}: {line.strip()}"
        for layer in ("core", "domain")
        for path in sorted((BOT / layer).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if MARKUP.search(line)
    ]
    assert found == []


def test_the_check_would_see_markup() -> None:
    assert MARKUP.search('f"<@{member_id}>"') and MARKUP.search('f"<#{c}>"') and MARKUP.search('f"<t:{when}:R>"')
