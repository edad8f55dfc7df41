"""A server's blocked words and patterns: the stored rules and their compiled filter, cached per server.

The one owner of the filter cache: admission checks through it, and every change (a rule added or removed, the
built-in list switched) goes through it too, so the cache never serves stale rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.core.content_filter import BlockRule, ContentFilter, validate_regex, validate_word
from bot.core.settings import SettingsBook
from bot.domain.errors import InvalidRequest, NotFound
from bot.domain.ports import BlockedTerm, Clock, ModerationStore


class BlockList:
    def __init__(self, store: ModerationStore, settings: SettingsBook, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._filters: dict[int, ContentFilter] = {}
        # Servers without rules of their own share one compiled filter per built-in setting (most servers).
        self._plain: dict[bool, ContentFilter] = {}

    def prepare(self) -> None:
        """Compile the built-in list now (at start-up), so the first member's command does not wait for it."""
        for builtin in (True, False):
            self._plain.setdefault(builtin, ContentFilter([], include_defaults=builtin))

    async def check(self, guild_id: int, fields: Mapping[str, str | None]) -> None:
        """Raise :class:`Blocked` for the first field (in mapping order) that breaks a rule of the server."""
        content_filter = self._filters.get(guild_id)
        if content_filter is None:
            settings = await self._settings.get(guild_id)
            rules = [_rule(term) for term in await self._store.blocked_terms(guild_id)]
            builtin = settings.use_default_blocklist
            if rules:
                content_filter = ContentFilter(rules, include_defaults=builtin)
            else:
                content_filter = self._plain.get(builtin) or self._plain.setdefault(
                    builtin, ContentFilter([], include_defaults=builtin)
                )
            self._filters[guild_id] = content_filter
        content_filter.check(fields)

    async def rules(self, guild_id: int) -> tuple[list[BlockRule], bool]:
        """The server's own rules, and whether the built-in list is on."""
        terms = await self._store.blocked_terms(guild_id)
        settings = await self._settings.get(guild_id)
        return [_rule(term) for term in terms], settings.use_default_blocklist

    async def add(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int) -> BlockRule:
        """Refuse a word, phrase or (validated, time-bounded) regular expression from now on."""
        pattern = pattern.strip()
        if is_regex:
            validate_regex(pattern)
        else:
            pattern = validate_word(pattern)
        terms = await self._store.blocked_terms(guild_id)
        # Words match whatever their case, so "Kazoo" after "kazoo" would be the same rule twice.
        same = not is_regex and any(not t.is_regex and _same_word(t.pattern, pattern) for t in terms)
        added = not same and await self._store.add_blocked_term(
            guild_id, pattern, is_regex=is_regex, added_by=added_by, now=self._clock.now()
        )
        if not added:
            raise InvalidRequest("That rule is already on the list.")
        self.forget(guild_id)
        return BlockRule(pattern=pattern, is_regex=is_regex)

    async def remove(self, guild_id: int, pattern: str) -> str:
        """Stop refusing a rule: a regex exactly as listed, a word in any case. Returns the rule as it was stored."""
        pattern = pattern.strip()
        terms = await self._store.blocked_terms(guild_id)
        stored = next((t.pattern for t in terms if t.pattern == pattern), None) or next(
            (t.pattern for t in terms if not t.is_regex and _same_word(t.pattern, pattern)), None
        )
        if stored is None or not await self._store.remove_blocked_term(guild_id, stored):
            raise NotFound("That rule is not on the list (use /studio block list to see them).")
        self.forget(guild_id)
        return stored

    def forget(self, guild_id: int) -> None:
        """Drop a server's compiled filter (its rules or its built-in list setting changed)."""
        self._filters.pop(guild_id, None)


def _rule(term: BlockedTerm) -> BlockRule:
    return BlockRule(pattern=term.pattern, is_regex=term.is_regex, id=term.id)


def _same_word(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# In a file name these separate words ("my-song_demo.wav"); in a prompt the filter reads them as obfuscation
# inside one word ("b.a-d"), so a name is checked both ways.
_NAME_SEPARATORS = re.compile(r"[\s_.\-+~,;:()\[\]{}]+")


def file_name_text(filename: str) -> str:
    """An upload's file name as the content filter should read it: as typed, without its extension, and as words."""
    stem = filename.rsplit(".", 1)[0] if "." in filename.strip(".") else filename
    words = _NAME_SEPARATORS.sub(" ", stem).strip()
    return "\n".join(dict.fromkeys(v for v in (filename, stem, words) if v))
