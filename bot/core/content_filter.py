"""Blocked words and patterns for prompts, lyrics, titles and upload file names (design §1 `/studio block`, §2).

Pure: no I/O, so admission can run it before anything is reserved or sent to a provider.

How a word rule matches, and why:

* Text and terms go through the same normaliser: zero-width and other format characters are dropped, then
  NFKD + casefold + NFKD again (casefold can emit combining marks) and combining marks are dropped, which folds
  case, accents and full-width letters in one go. A few Cyrillic/Greek look-alikes are mapped to Latin letters in
  words that are Latin or made only of look-alikes (so Russian or Greek words are left alone).
* Text is split on whitespace into tokens; punctuation inside a token is dropped ("b.a-d" -> "bad") and common
  digit/symbol swaps are mapped to letters, but not in bare numbers, so "455" and "$5" stay numbers while "a55"
  and "@$$" read "ass". "1", "|" can mean i or l: they map to a marker that both i and l accept.
* A term matches a run of whole tokens only (no match inside a word: "class" never hits "ass"). Inside the match
  a space may only be skipped next to a single-letter token, so "b a d", "ba d" and "b. a. d." join up, while two
  real words never fuse ("lol icon" is not "lolicon", "the rapist" is not "therapist").
* Repeated letters: each run of one letter in the term needs at least as many in the text, more are fine.
  So "baaaad" hits "bad", but "as" never hits "ass" (collapsing runs on both sides would). Inside a run a space
  is skipped only before a single-letter token, so a lone letter cannot borrow its twin from the next word
  ("lol i icon" is not "lolicon").
* A trailing plural "s" (or "es" after s, x, z, ch, sh) is accepted: slurs are as often written in the plural.

Regex rules (validated with :func:`validate_regex` when an admin adds them) run on the raw, the folded and the
normalised text with the `regex` module's ``timeout=``, and a per-check budget bounds the total time however many
rules there are.

The filter fails closed: when a rule times out on a text, or the budget is spent before every rule has run, the
text is refused with :class:`ContentCheckTimedOut` (a message the member can act on: shorten or simplify it), never
let through unchecked. A rule that cannot be used at all (a stored pattern that no longer compiles, a word with
nothing to match) is skipped alone and logged; the rules after it still run.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import regex

from bot.domain.errors import Blocked, InvalidRequest

log = logging.getLogger(__name__)

DEFAULT_REGEX_TIMEOUT = 0.05
# Upper bound for one check() however many regex rules a server has; 10 slow rules must not hold admission.
DEFAULT_CHECK_BUDGET = 0.5
MAX_REGEX_LENGTH = 200
MAX_WORD_LENGTH = 100
# Counted repeats ("a{1000}") are unrolled when the `regex` module compiles a pattern, and nested ones multiply: one
# admin's "a{2147483647}" asked for hundreds of gigabytes and the process was killed. Blocked words need small counts.
MAX_REPEAT = 1000
# How the audit log names a refusal that no rule made: the check could not finish in time.
TIMED_OUT_RULE = "check ran out of time (refused unchecked)"


class ContentCheckTimedOut(InvalidRequest):
    """The text could not be checked within the time budget, so it is refused (the filter fails closed).

    Not :class:`Blocked`: the member broke no rule. ``rule`` and ``field`` say what the audit log should note;
    ``timed_out`` tells it apart from other refusals.
    """

    timed_out = True

    def __init__(self, field: str) -> None:
        noun = _noun(field)
        verb = "were" if noun in _PLURAL_FIELDS else "was"
        super().__init__(
            f"Your {noun} {verb} too long or too complex to check for blocked words in time; shorten or simplify "
            "it and try again. Nothing was generated or charged."
        )
        self.rule = TIMED_OUT_RULE
        self.field = field


class _OutOfTime(Exception):
    """Internal: a rule timed out or the budget ran out; :meth:`ContentFilter.check` turns it into a refusal."""


@dataclass(frozen=True, slots=True)
class BlockRule:
    """One blocked word, phrase or regular expression."""

    pattern: str
    is_regex: bool = False
    builtin: bool = False
    id: int | None = None

    @property
    def label(self) -> str:
        """How admins see the rule (audit log, `/studio block list`); never shown to the member who hit it."""
        if self.builtin:
            # Built-in entries are slurs and abuse terms: masked so the audit-log channel does not repeat them.
            return f"built-in: {self.pattern if self.is_regex else _mask(self.pattern)}"
        return f"{'regex' if self.is_regex else 'word'}: {self.pattern}"


def _mask(phrase: str) -> str:
    return " ".join(w if len(w) <= 2 else w[0] + "*" * (len(w) - 2) + w[-1] for w in phrase.split())


def _rot13(*words: str) -> tuple[str, ...]:
    return tuple(codecs.decode(w, "rot13") for w in words)


# Slurs are stored rot13-encoded so they don't show up in code search, diffs and reviews in plain text.
# Kept to words with no common innocent meaning; deliberately left out: words with a real second sense
# ("chink", "fag", "coon", "tranny", "retard", "beaner") and the "-a" spelling of the n-word, which is common
# in hip-hop lyrics. Admins can add any of them for their server.
_SLURS = _rot13("avttre", "snttbg", "xvxr", "jrgonpx", "enturnq", "gbjryurnq")
# Terms for sexual content involving minors; none has an innocent reading. ("jailbait" is a song title; left out.)
_MINOR_ABUSE = (
    "child porn",
    "child porno",
    "child pornography",
    "kiddie porn",
    "kiddy porn",
    "preteen porn",
    "underage porn",
    "lolicon",
    "shotacon",
    "pthc",
)
DEFAULT_BLOCKLIST: tuple[BlockRule, ...] = tuple(BlockRule(w, builtin=True) for w in (*_SLURS, *_MINOR_ABUSE))


# ---------------------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------------------

_FORMAT_CHARS = regex.compile(r"\p{Cf}+")  # zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks
_COMBINING = regex.compile(r"\p{Mn}+")
_AMBIGUOUS = "1"  # "1" and "|" read as i or l; both letters accept it in a term
_LEET = str.maketrans(
    {
        "0": "o",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "€": "e",
        "|": _AMBIGUOUS,
        "!": "i",
    }
)
_LEET_CHARS = frozenset("01345789@$€|!")
# Only look-alikes whose lower and upper case both read as the same Latin letter (after casefold).
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "һ": "h",
        "н": "h",
        "і": "i",
        "ј": "j",
        "к": "k",
        "ӏ": "l",
        "м": "m",
        "о": "o",
        "р": "p",
        "с": "c",
        "ѕ": "s",
        "т": "t",
        "у": "y",
        "х": "x",
        "ԁ": "d",
        "ɡ": "g",
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)
_CONFUSABLE_CHARS = frozenset(chr(c) for c in _CONFUSABLES)
_LATIN = regex.compile(r"[a-z]")


def _fold(text: str) -> str:
    """Case, accents, full-width forms and invisible characters folded away; punctuation and spacing kept."""
    text = _FORMAT_CHARS.sub("", text)
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return str(_COMBINING.sub("", text))


def _core(raw: str) -> str:
    """The characters of a folded token that can carry meaning: letters, digits and look-alike symbols."""
    if raw.isalpha() and raw.isascii():
        return raw  # the common case in lyrics, kept cheap
    kept = "".join(ch for ch in raw if ch.isalnum() or ch in _LEET_CHARS)
    # "!" is an i only between other characters ("sh!t"); at either end it is punctuation ("hey!").
    return kept.strip("!")


def _unconfuse(core: str) -> str:
    if _CONFUSABLE_CHARS.isdisjoint(core):
        return core
    letters = [ch for ch in core if ch.isalpha()]
    if _LATIN.search(core) or all(ch in _CONFUSABLE_CHARS for ch in letters):
        return core.translate(_CONFUSABLES)
    return core


def _normalise(text: str) -> list[str]:
    """Normalised tokens of ``text`` (see the module docstring); empty tokens are dropped."""
    cores = [c for c in (_core(raw) for raw in _fold(text).split()) if c]
    tokens: list[str] = []
    # Runs of one-character tokens ("n 1 c e") are one spaced-out word: whether digits in it are letters
    # depends on the whole run, not on each lone character.
    for single, group in itertools.groupby(cores, key=lambda c: len(c) == 1):
        members = list(group)
        if single:
            spelled = _spelled("".join(members))
            tokens.extend(_map_token(c, spelled) for c in members)
        else:
            tokens.extend(_map_token(c, _spelled(c)) for c in members)
    return [t for t in tokens if t]


def _spelled(chars: str) -> bool:
    """Whether digits and symbols here stand for letters: yes next to a letter ("a55") or with no digit at all
    ("@$$"); a bare number ("455", "$5") stays a number, so "top 5 hits" never reads as "top s hits"."""
    return any(ch.isalpha() for ch in chars) or not any(ch.isdigit() for ch in chars)


def _map_token(core: str, spelled: bool) -> str:
    if not core.isascii():
        core = _unconfuse(core)
    if spelled:
        return core.translate(_LEET)
    return "".join(ch for ch in core if ch.isdigit())  # a number or stray symbols, not leetspeak


# ---------------------------------------------------------------------------------------------------------
# Word rules -> one regex per term over the normalised text ("tok tok tok", single spaces)
# ---------------------------------------------------------------------------------------------------------

# An optional space inside a word of the term, allowed only when the token before or after it is one character.
_SEP = r"(?: (?:(?<!\S\S )|(?=\S(?!\S))))?"
# Inside a run of one letter, only when the token after it is one character: "b a a d" and "ba a d" still join,
# but a lone letter cannot borrow its twin from the next word ("lol i icon" is not "lolicon").
_SEP_REPEAT = r"(?: (?=\S(?!\S)))?"
_LETTER_CLASS = {"i": "[i1]", "l": "[l1]", _AMBIGUOUS: "[1il]"}
# Spaced letters give one token start per character; more than this many copies of one letter in a row add
# nothing to a match and only give the engine more to backtrack over.
_RUN_CAP = 8
_LONG_RUN = regex.compile(rf"(\S)\1{{{_RUN_CAP},}}")
_LONG_SPACED_RUN = regex.compile(rf"(?<!\S)(\S)(?: \1(?!\S)){{{_RUN_CAP},}}")


def _term_regex(words: list[str]) -> str:
    parts: list[str] = []
    for i, word in enumerate(words):
        if i:
            parts.append("(?: )?")  # the term's own word breaks may be written or left out ("childporn")
        for j, (ch, run) in enumerate(itertools.groupby(word)):
            if j:
                parts.append(_SEP)
            cls = _LETTER_CLASS.get(ch) or regex.escape(ch)
            count = min(len(list(run)), _RUN_CAP)
            parts.append(cls if count == 1 else f"{cls}(?:{_SEP_REPEAT}{cls}){{{count - 1}}}")
            parts.append(f"(?:{_SEP_REPEAT}{cls})*")
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _compile_term(words: tuple[str, ...]) -> regex.Pattern[str]:
    # Cached per term, not per filter: filters are rebuilt per request from the server's rules.
    # A plural ending is accepted: "-s" always, "-es" only after s, x, z, ch or sh, where English puts it
    # (so a blocked "tap" does not reach "tapes").
    plural = f"(?:{_SEP}e)?" if words[-1].endswith(("s", "x", "z", "ch", "sh")) else ""
    return regex.compile(rf"(?<!\S){_term_regex(list(words))}(?:{plural}{_SEP}[sz])?(?!\S)")


# For the cheap pre-check: i, l and the i-or-l marker become one symbol and letter runs collapse to one, which
# maps any text a term matches onto the term's own skeleton; a term whose skeleton is not in the text's cannot
# match, so most terms are ruled out with a substring test instead of a regex search.
_SKELETON_IL = str.maketrans({"i": _AMBIGUOUS, "l": _AMBIGUOUS})
_REPEATS = regex.compile(r"(.)\1+")


def _skeleton(tokens: Iterable[str]) -> str:
    return str(_REPEATS.sub(r"\1", "".join(tokens).translate(_SKELETON_IL)))


def _cap_runs(text: str) -> str:
    text = str(_LONG_RUN.sub(lambda m: m[1] * _RUN_CAP, text))
    return str(_LONG_SPACED_RUN.sub(lambda m: " ".join([m[1]] * _RUN_CAP), text))


def validate_word(pattern: str) -> str:
    """Check an admin's blocked word or phrase; returns it stripped, or raises :class:`InvalidRequest`."""
    pattern = pattern.strip()
    if not pattern:
        raise InvalidRequest("The word or phrase to block is empty.")
    if len(pattern) > MAX_WORD_LENGTH:
        raise InvalidRequest(f"Keep a blocked word or phrase to {MAX_WORD_LENGTH} characters or fewer.")
    if not _normalise(pattern):
        raise InvalidRequest("That has no letters or digits to match; block a word or phrase instead.")
    return pattern


# ---------------------------------------------------------------------------------------------------------
# Regex rules
# ---------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _compile_regex(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.IGNORECASE)


def _probes() -> tuple[str, ...]:
    lyric = (
        "Neon rain on the avenue, I keep on running back to you! 1, 2, 3 — à la carte, naïve café. "
        "Don't stop the music (oh-oh-oh), hold on... "
    )
    return (
        "a" * 5000 + "!",
        "a " * 2500 + "!",
        (lyric * 40)[:4000] + "!",
        "1" * 4000 + "x",
        "ab" * 2500 + "\n",
    )


# Text shaped to make backtracking patterns blow up: long runs that almost match and then fail at the end.
_PROBES = _probes()
_COUNTED_REPEAT = regex.compile(r"\{([0-9]*)(?:,([0-9]*))?\}")


def _repeat_weight(pattern: str) -> int:
    """The product of every counted repeat's largest count: at least what compiling unrolls (nested repeats
    multiply; side by side they only add, so this errs on the safe side)."""
    weight = 1
    for match in _COUNTED_REPEAT.finditer(pattern):
        counts = [int(count) for count in match.groups() if count]
        if counts:
            weight *= max(counts)
    return weight


def validate_regex(pattern: str, *, timeout: float = DEFAULT_REGEX_TIMEOUT) -> None:
    """Check an admin's blocked regular expression; raises :class:`InvalidRequest` saying what is wrong."""
    if not pattern or not pattern.strip():
        raise InvalidRequest("The pattern is empty; give a regular expression to block.")
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidRequest(f"That pattern is {len(pattern)} characters long; keep it to {MAX_REGEX_LENGTH} or fewer.")
    if _repeat_weight(pattern) > MAX_REPEAT:
        raise InvalidRequest(
            f"That pattern repeats too much: counts such as {{3}} or {{2,5}} may come to {MAX_REPEAT} at most "
            "(nested counts multiply); use + or * instead."
        )
    try:
        compiled = _compile_regex(pattern)
    except regex.error as exc:
        raise InvalidRequest(f"That is not a valid regular expression: {exc}.") from exc
    except (OverflowError, RecursionError, ValueError) as exc:
        raise InvalidRequest("That is not a valid regular expression: it is too large or too deeply nested.") from exc
    empty = InvalidRequest(
        "That pattern matches empty text, so it would block everything; make it match at least one character."
    )
    if compiled.search("") is not None:
        raise empty
    for probe in _PROBES:
        try:
            found = compiled.search(probe, timeout=timeout)
        except TimeoutError as exc:
            raise InvalidRequest(
                "That pattern is too slow to run safely; avoid nested repeats such as (a+)+ or (\\w+\\s?)* "
                "and try a simpler pattern."
            ) from exc
        if found is not None and found.end() == found.start():
            raise empty


# ---------------------------------------------------------------------------------------------------------
# The filter
# ---------------------------------------------------------------------------------------------------------

_PLURAL_FIELDS = frozenset({"lyrics", "tags"})


def _noun(field: str) -> str:
    noun = field.replace("_", " ")
    return "file name" if noun == "filename" else noun


def _member_message(field: str) -> str:
    noun = _noun(field)
    verb = "contain" if noun in _PLURAL_FIELDS else "contains"
    return f"Your {noun} {verb} a blocked word or phrase, so nothing was generated or charged."


class ContentFilter:
    """A server's blocked words and patterns (plus the built-in list), checked before anything is spent."""

    def __init__(
        self,
        rules: Iterable[BlockRule],
        *,
        include_defaults: bool = True,
        regex_timeout: float = DEFAULT_REGEX_TIMEOUT,
        check_budget: float = DEFAULT_CHECK_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._regex_timeout = regex_timeout
        self._budget = check_budget
        self._clock = clock
        all_rules = [*DEFAULT_BLOCKLIST, *rules] if include_defaults else list(rules)
        terms: dict[tuple[str, ...], BlockRule] = {}
        self._regex_rules: list[tuple[BlockRule, regex.Pattern[str]]] = []
        for rule in all_rules:
            if rule.is_regex:
                try:
                    self._regex_rules.append((rule, _compile_regex(rule.pattern)))
                except (regex.error, OverflowError, RecursionError, ValueError):
                    # Stored rules were validated when added; one that no longer compiles must not take the
                    # whole filter down, so it is skipped and an operator told.
                    log.warning("Skipping block rule %s: its pattern does not compile", rule.id)
                continue
            words = tuple(_normalise(rule.pattern))
            if not words:
                log.warning("Skipping block rule %s: nothing in it can be matched", rule.id)
                continue
            terms.setdefault(words, rule)  # the first rule for a term is the one reported
        self._terms = [(rule, _skeleton(words), _compile_term(words)) for words, rule in terms.items()]

    def find(self, text: str) -> BlockRule | None:
        """The rule ``text`` breaks, or None. Word rules are tried first, then regex rules, each in order.

        Raises :class:`ContentCheckTimedOut` (field "text") when the check cannot finish in time.
        """
        try:
            return self._find(text, self._clock() + self._budget)
        except _OutOfTime:
            raise ContentCheckTimedOut("text") from None

    def check(self, fields: Mapping[str, str | None]) -> None:
        """Raise :class:`Blocked` for the first field (in mapping order) that breaks a rule, or
        :class:`ContentCheckTimedOut` for the first one that could not be checked in time."""
        deadline = self._clock() + self._budget
        for field, text in fields.items():
            if not text:
                continue
            try:
                rule = self._find(text, deadline)
            except _OutOfTime:
                raise ContentCheckTimedOut(field) from None
            if rule is not None:
                raise Blocked(_member_message(field), rule=rule.label, field=field)

    def _remaining(self, deadline: float, size: int, rules_left: int) -> float:
        remaining = deadline - self._clock()
        if remaining <= 0:
            log.warning(
                "Content check of a %d-character text ran out of time with %d rule(s) not run; refused",
                size,
                rules_left,
            )
            raise _OutOfTime
        return remaining

    def _find(self, text: str, deadline: float) -> BlockRule | None:
        tokens = _normalise(text)
        normalised = " ".join(tokens)
        rule = self._find_word(tokens, normalised, len(text), deadline)
        if rule is not None or not self._regex_rules:
            return rule
        # The same text seen three ways, so a rule written for either raw or folded input still fires.
        views = list(dict.fromkeys((text, _fold(text), normalised)))
        for index, (rule, compiled) in enumerate(self._regex_rules):
            for view in views:
                remaining = self._remaining(deadline, len(text), len(self._regex_rules) - index)
                try:
                    found = compiled.search(view, timeout=min(self._regex_timeout, remaining))
                except TimeoutError:
                    log.warning("Block rule %s timed out on a %d-character text; refused", rule.id, len(text))
                    raise _OutOfTime from None
                if found is not None:
                    return rule
        return None

    def _find_word(self, tokens: list[str], normalised: str, size: int, deadline: float) -> BlockRule | None:
        if not tokens or not self._terms:
            return None
        skeleton = _skeleton(tokens)
        capped: str | None = None
        for index, (rule, term_skeleton, compiled) in enumerate(self._terms):
            if term_skeleton not in skeleton:
                continue
            if capped is None:
                capped = _cap_runs(normalised)
            remaining = self._remaining(deadline, size, len(self._terms) - index + len(self._regex_rules))
            try:
                # Term patterns are ours and near-linear on capped runs; the timeout is only a backstop.
                if compiled.search(capped, timeout=remaining) is not None:
                    return rule
            except TimeoutError:
                log.warning("Block rule %s timed out on a %d-character text; refused", rule.id, size)
                raise _OutOfTime from None
        return None
