"""The content filter: what it catches, what it must leave alone, and that hostile regexes stay bounded.

Made-up words stand in for real blocked terms, so this file does not have to spell out slurs.
"""

from __future__ import annotations

import itertools
import logging
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.content_filter import (
    DEFAULT_BLOCKLIST,
    TIMED_OUT_RULE,
    BlockRule,
    ContentCheckTimedOut,
    ContentFilter,
    validate_regex,
    validate_word,
)
from bot.domain.errors import Blocked, InvalidRequest

LOGGER = "bot.core.content_filter"
TERMS = ("grumbleflux", "sleazotron", "snickerplum")
PHRASE = "wobble tinker"


@pytest.fixture
def content_filter() -> ContentFilter:
    rules = [BlockRule(term, id=i) for i, term in enumerate(TERMS, start=1)]
    return ContentFilter([*rules, BlockRule(PHRASE, id=9)], include_defaults=False)


def hit(f: ContentFilter, text: str) -> str | None:
    rule = f.find(text)
    return rule.pattern if rule else None


# --- what it catches -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "grumbleflux",
        "I sing about grumbleflux tonight",
        "(grumbleflux)",
        "#grumbleflux!",
        "grumbleflux's",
        "sleazotrons",  # plurals
        "grumblefluxes",
    ],
)
def test_plain_hits(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) is not None


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("GRUMBLEFLUX", "grumbleflux"),
        ("GrUmBlEfLuX", "grumbleflux"),
        ("grúmbléflüx", "grumbleflux"),
        ("GRÜMBLÉFLUX", "grumbleflux"),
        ("s\u0301leazotron", "sleazotron"),  # combining accent written separately
    ],
)
def test_case_and_accents(content_filter: ContentFilter, text: str, term: str) -> None:
    assert hit(content_filter, text) == term


@pytest.mark.parametrize(
    "text",
    [
        "g r u m b l e f l u x",
        "g  r  u  m  b  l  e  f  l  u  x",
        "g. r. u. m. b. l. e. f. l. u. x.",
        "gr u mbleflux",  # single letters split off either side
        "g\nr\tu m b l e f l u x",
    ],
)
def test_spaced_letters(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) == "grumbleflux"


@pytest.mark.parametrize(
    "text",
    ["g.r.u.m.b.l.e.f.l.u.x", "g-r-u-m-b-l-e-f-l-u-x", "grum_ble*flux", "grumble-flux", "grum'bleflux"],
)
def test_punctuation_inside_a_word(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) == "grumbleflux"


@pytest.mark.parametrize("text", ["gruuuuumbleflux", "GGGrumbleeeeefluxxxx", "g r r r u m b l e f l u x"])
def test_repeated_letters(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) == "grumbleflux"


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("grum8leflux", "grumbleflux"),
        ("9rumbleflux", "grumbleflux"),
        ("grumb1ef1ux", "grumbleflux"),
        ("grumb|eflux", "grumbleflux"),
        ("5|3@z07r0n", "sleazotron"),
        ("$leazotron", "sleazotron"),
        ("sle4zotron", "sleazotron"),
        ("sn!ckerplum", "snickerplum"),
        ("sn1ckerp1um", "snickerplum"),  # "1" stands for i in one place and l in another
        ("s n 1 c k 3 r p l u m", "snickerplum"),
    ],
)
def test_leetspeak(content_filter: ContentFilter, text: str, term: str) -> None:
    assert hit(content_filter, text) == term


@pytest.mark.parametrize(
    "text",
    ["grum\u200bbleflux", "g\u200dr\u200cumbleflux", "\ufeffgrumbleflux", "grum\u00adbleflux", "grum\u2060bleflux"],
)
def test_zero_width_and_invisible_characters(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) == "grumbleflux"


def test_full_width_and_look_alike_letters(content_filter: ContentFilter) -> None:
    assert hit(content_filter, "ＧＲＵＭＢＬＥＦＬＵＸ") == "grumbleflux"
    assert hit(content_filter, "ｇｒｕｍｂｌｅｆｌｕｘ") == "grumbleflux"
    assert hit(content_filter, "sl\u0435az\u043etron") == "sleazotron"  # Cyrillic e and o
    # A Cyrillic el (U+043B) is a real letter, not a look-alike, so this is not the term.
    assert hit(content_filter, "\u0455\u043b\u0435\u0430zotron") is None


@pytest.mark.parametrize(
    "text",
    ["wobble tinker", "Wobble, tinker!", "wobbletinker", "wobble-tinker", "w o b b l e t i n k e r", "w0bble t1nker"],
)
def test_phrases(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) == PHRASE


def test_phrase_words_alone_are_fine(content_filter: ContentFilter) -> None:
    assert hit(content_filter, "wobble the tinker") is None
    assert hit(content_filter, "a tinker and a wobble") is None


# --- what it must leave alone --------------------------------------------------------------------------

MILD = [BlockRule("ass", id=21), BlockRule("tit", id=22), BlockRule("hell", id=23), BlockRule("cum", id=24)]


@pytest.mark.parametrize(
    "text",
    [
        "class",
        "a first-class bass line",
        "assassin",
        "passage",
        "as you wish",
        "title",
        "petition",
        "hello shell",
        "cucumber",
        "circumstance",
        "document",
        "Scunthorpe",
        "455 people",  # a number, not leetspeak
        "4 55",
    ],
)
def test_no_scunthorpe_false_positives(text: str) -> None:
    assert hit(ContentFilter(MILD), text) is None


def test_mild_rules_still_hit_when_meant() -> None:
    f = ContentFilter(MILD)
    for text in ("ass", "ASSES", "asss", "a55", "@$$", "a s s", "a.s.s", "helllll", "t i t"):
        assert f.find(text) is not None, text


def test_separate_real_words_do_not_fuse(content_filter: ContentFilter) -> None:
    # Splitting into multi-letter pieces is deliberately not matched: two real words side by side ("lol icon",
    # "the rapist") would otherwise hit.
    assert hit(content_filter, "grumble flux") is None
    assert ContentFilter([]).find("lol icon") is None
    assert ContentFilter([]).find("lolicon") is not None
    # Nor may a lone letter borrow its twin from the next word (found by the property test below).
    assert ContentFilter([]).find("lol i icon") is None
    assert ContentFilter([]).find("lol i con") is not None  # spelled out around the single letter: still meant
    assert hit(content_filter, "gr r umbleflux") == "grumbleflux"  # the lone letter joins a run of its own


def test_numbers_next_to_words_stay_numbers() -> None:
    f = ContentFilter([BlockRule("shover")], include_defaults=False)
    assert f.find("my top 5 hover boards") is None
    assert f.find("5hover") is not None


def test_defaults_leave_innocent_lookalikes_alone() -> None:
    f = ContentFilter([])
    for text in ("snigger", "niggardly", "wet back", "kick", "rag head", "spices", "therapist", "class act"):
        assert f.find(text) is None, text


# --- built-in list -------------------------------------------------------------------------------------


def test_default_blocklist_is_short_builtin_and_on_by_default() -> None:
    assert 0 < len(DEFAULT_BLOCKLIST) <= 25
    assert all(rule.builtin and not rule.is_regex for rule in DEFAULT_BLOCKLIST)
    on = ContentFilter([])
    off = ContentFilter([], include_defaults=False)
    for rule in DEFAULT_BLOCKLIST:
        assert on.find(f"some words {rule.pattern.upper()} more words") == rule
        assert off.find(rule.pattern) is None


def test_builtin_labels_do_not_repeat_the_term() -> None:
    for rule in DEFAULT_BLOCKLIST:
        assert rule.label.startswith("built-in: ")
        assert rule.pattern not in rule.label


def test_labels() -> None:
    assert BlockRule("grumbleflux").label == "word: grumbleflux"
    assert BlockRule(r"grumble\s+flux", is_regex=True).label == r"regex: grumble\s+flux"


# --- check() and the Blocked error ---------------------------------------------------------------------


def test_check_raises_blocked_with_field_and_rule(content_filter: ContentFilter) -> None:
    with pytest.raises(Blocked) as caught:
        content_filter.check({"title": "Night drive", "lyrics": "la la grumbleflux la"})
    err = caught.value
    assert err.field == "lyrics"
    assert err.rule == "word: grumbleflux"
    assert str(err) == "Your lyrics contain a blocked word or phrase, so nothing was generated or charged."
    assert "grumbleflux" not in str(err)


@pytest.mark.parametrize(
    ("field", "start"),
    [("prompt", "Your prompt contains"), ("title", "Your title contains"), ("file_name", "Your file name contains")],
)
def test_member_message_names_the_field(content_filter: ContentFilter, field: str, start: str) -> None:
    with pytest.raises(Blocked) as caught:
        content_filter.check({field: "grumbleflux"})
    assert str(caught.value).startswith(start)


def test_check_reports_the_first_field_and_skips_empty_ones(content_filter: ContentFilter) -> None:
    with pytest.raises(Blocked) as caught:
        content_filter.check({"title": None, "prompt": "", "style": "sleazotron", "lyrics": "grumbleflux"})
    assert caught.value.field == "style"
    content_filter.check({"title": None, "prompt": "", "lyrics": "a clean song"})


def test_regex_rule_text_stays_out_of_the_message() -> None:
    f = ContentFilter([BlockRule(r"secret\d+code", is_regex=True, id=3)], include_defaults=False)
    with pytest.raises(Blocked) as caught:
        f.check({"prompt": "the secret42code"})
    assert caught.value.rule == r"regex: secret\d+code"
    assert "secret" not in str(caught.value)


# --- regex rules ---------------------------------------------------------------------------------------


def test_regex_rules_see_raw_folded_and_normalised_text() -> None:
    f = ContentFilter([BlockRule(r"grumble\s*flux", is_regex=True, id=5)], include_defaults=False)
    assert f.find("GRUMBLE flux") is not None  # case-insensitive on the raw text
    assert f.find("grümble  flux") is not None  # folded
    assert f.find("g.r.u.m.b.l.e f-l-u-x") is not None  # normalised
    assert f.find("a grumbling flux") is None
    raw_only = ContentFilter([BlockRule(r"https?://\S+\.zip\b", is_regex=True)], include_defaults=False)
    assert raw_only.find("get it at http://example.zip now") is not None


@pytest.mark.parametrize(
    ("pattern", "meant", "innocent"),
    [
        (r"\bgrumble\s*flux(es)?\b", "GRUMBLE   fluxes tonight", "grumbling fluxes"),
        (r"buy (cheap|free) \w+ now", "buy free pills now", "buy a free ticket later"),
        ("x" * 200, "x" * 200, "x" * 199),  # as long as a pattern may be
    ],
)
def test_a_sound_pattern_is_accepted_and_then_blocks_what_it_was_written_for(
    pattern: str, meant: str, innocent: str
) -> None:
    assert validate_regex(pattern) is None  # the admin's pattern is accepted as it is
    f = ContentFilter([BlockRule(pattern, is_regex=True, id=1)], include_defaults=False)
    with pytest.raises(Blocked) as caught:
        f.check({"prompt": meant})
    assert caught.value.rule == f"regex: {pattern}"
    f.check({"prompt": innocent})  # raises if it is blocked


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("(unclosed", "not a valid regular expression"),
        ("[z-a]", "not a valid regular expression"),
        ("*grumble", "not a valid regular expression"),
        ("a*", "matches empty text"),
        ("x?", "matches empty text"),
        (r"\b", "matches empty text"),
        ("(?=a)", "matches empty text"),
        ("^$", "matches empty text"),
        ("a" * 201, "200"),
    ],
)
def test_validate_regex_rejects_bad_patterns(pattern: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_regex(pattern)
    assert says in str(caught.value)


# Catastrophic backtracking in a backtracking engine; none of them matches the empty string, so the only
# thing wrong with them is speed.
PATHOLOGICAL = [r"(a+)+$", r"(\w+\s?)+$", r"(a|aa)+$", r"(a+)+b", r"(\s*\w+)+\d"]


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
def test_validate_regex_rejects_slow_patterns(pattern: str) -> None:
    with pytest.raises(InvalidRequest, match="too slow to run safely"):
        validate_regex(pattern)


def test_a_slow_rule_forced_into_the_filter_refuses_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    patterns = [*PATHOLOGICAL, r"(\w+\s?)*$"]
    rules = [BlockRule(p, is_regex=True, id=100 + i) for i, p in enumerate(patterns)]
    f = ContentFilter(rules, include_defaults=False, regex_timeout=0.05)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with pytest.raises(ContentCheckTimedOut) as caught:
            f.check({"lyrics": "a" * 3999 + "!"})  # never let through unchecked
        assert caught.value.field == "lyrics" and caught.value.rule == TIMED_OUT_RULE
        assert "shorten or simplify" in str(caught.value)
        for hostile in ("a " * 1999 + "!", "ab" * 1999 + "\n!"):
            with pytest.raises((ContentCheckTimedOut, Blocked)):  # a refusal or a hit, never a pass unchecked
                f.check({"lyrics": hostile})
    assert "Block rule 100 timed out" in caplog.text
    assert "aaaa" not in caplog.text  # the member's text never reaches the log


def test_many_slow_rules_refuse_when_the_budget_is_spent(caplog: pytest.LogCaptureFixture) -> None:
    rules = [BlockRule(r"(\w+\s?)*$", is_regex=True, id=i) for i in range(40)]
    f = ContentFilter(rules, include_defaults=False, regex_timeout=0.05, check_budget=0.3)
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(ContentCheckTimedOut):
        f.find("a " * 2000 + "!")
    assert "refused" in caplog.text


class SteppingClock:
    """A fake monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


ELEVEN = [BlockRule(f"[àé]+{d}", is_regex=True, id=d) for d in range(10)] + [
    BlockRule(r"grumble\s*flux", is_regex=True, id=11)
]
ISSUE_TEXT = "é" * 2900 + " grumbleflux"


def test_the_issues_case_fails_closed_when_the_budget_runs_out() -> None:
    """Ten valid admin regexes and 2,900 characters of é used to spend the budget and let the eleventh rule's word
    through. The clock here moves 60 ms per reading, so the budget runs out on every machine, fast or slow."""
    for rule in ELEVEN:
        validate_regex(rule.pattern)  # each one an admin could add
    f = ContentFilter(ELEVEN, include_defaults=False, clock=SteppingClock(0.06))
    with pytest.raises(ContentCheckTimedOut) as caught:
        f.check({"lyrics": ISSUE_TEXT})
    assert caught.value.field == "lyrics" and caught.value.timed_out
    assert str(caught.value).startswith("Your lyrics were too long or too complex to check")


def test_the_issues_case_on_the_real_clock_is_never_let_through() -> None:
    f = ContentFilter(ELEVEN, include_defaults=False)
    with pytest.raises((Blocked, ContentCheckTimedOut)) as caught:
        f.check({"lyrics": ISSUE_TEXT})
    if isinstance(caught.value, Blocked):
        assert caught.value.rule == r"regex: grumble\s*flux"


def test_the_budget_is_shared_by_every_field() -> None:
    rules = [BlockRule(r"grumble\s*flux", is_regex=True)]
    f = ContentFilter(rules, include_defaults=False, check_budget=0.5, clock=SteppingClock(0.2))
    with pytest.raises(ContentCheckTimedOut) as caught:
        f.check({"style": "grumble", "title": "flux", "lyrics": "tonight"})
    assert caught.value.field == "lyrics"  # style and title fit in the budget; lyrics did not


def test_a_word_rule_that_times_out_refuses() -> None:
    f = ContentFilter([BlockRule("grumbleflux")], include_defaults=False, clock=SteppingClock(10.0))
    with pytest.raises(ContentCheckTimedOut):
        f.find("grumble flux and more")


def test_a_stored_regex_that_no_longer_compiles_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        f = ContentFilter([BlockRule("(oops", is_regex=True, id=77), BlockRule("grumbleflux")])
    assert "77" in caplog.text
    assert f.find("grumbleflux") is not None
    assert f.find("(oops") is None


def test_an_unusable_rule_does_not_disable_the_rules_after_it() -> None:
    rules = [
        BlockRule("!!!", id=1),  # nothing in it can be matched
        BlockRule("...", id=2),
        BlockRule("grumbleflux", id=3),
        BlockRule("(oops", is_regex=True, id=4),  # no longer compiles
        BlockRule("[", is_regex=True, id=5),
        BlockRule(r"snicker\d+plum", is_regex=True, id=6),
    ]
    f = ContentFilter(rules, include_defaults=False)
    assert hit(f, "a grumbleflux here") == "grumbleflux"
    assert hit(f, "snicker42plum") == r"snicker\d+plum"
    assert hit(f, "fine words !!! ...") is None


# --- word validation -----------------------------------------------------------------------------------


def test_validate_word() -> None:
    assert validate_word("  grumbleflux ") == "grumbleflux"
    for bad, says in (("", "empty"), ("   ", "empty"), ("!!! ...", "no letters"), ("x" * 101, "100")):
        with pytest.raises(InvalidRequest) as caught:
            validate_word(bad)
        assert says in str(caught.value)


# --- performance ---------------------------------------------------------------------------------------


def test_full_lyrics_against_a_hundred_rules_pass_within_the_budget() -> None:
    """Ordinary lyrics are checked, not refused for time (no speed is asserted: the default budget is generous)."""
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [BlockRule("".join(rng.choices(letters, k=rng.randint(5, 10))), id=i) for i in range(90)]
    patterns = [r"buy\s+now", r"\bfoo\w*bar\b", r"https?://\S+\.xyz", r"\d{3}-\d{4}", r"spam+y", r"casino"]
    regexes = [BlockRule(p, is_regex=True, id=200 + i) for i, p in enumerate(patterns)]
    f = ContentFilter([*words, *regexes], check_budget=30.0)
    vocabulary = ["neon", "rain", "on", "the", "avenue", "I", "keep", "running", "back", "to", "you", "oh", "la"]
    lyrics = " ".join(rng.choice(vocabulary) for _ in range(1200))[:4000]
    f.check({"title": "Neon", "prompt": "synthwave, female vocals", "lyrics": lyrics})  # raises if refused
    # The same filter does run every rule over the whole text: one word near the end is found.
    last_word = words[-1].pattern
    with pytest.raises(Blocked) as caught:
        f.check({"title": "Neon", "prompt": "synthwave, female vocals", "lyrics": f"{lyrics[:3900]} {last_word} la"})
    assert (caught.value.field, caught.value.rule) == ("lyrics", f"word: {last_word}")
    with pytest.raises(Blocked) as caught:
        f.check({"title": "Neon", "lyrics": f"{lyrics[:3900]} call 555-0199"})
    assert caught.value.rule == r"regex: \d{3}-\d{4}"


# --- properties ----------------------------------------------------------------------------------------

LEET = {"a": "4@", "b": "8", "e": "3", "g": "9", "i": "1|", "l": "1|", "o": "0", "s": "5$", "t": "7"}
SEPARATORS = ["", "", "", ".", "-", "_", "*", "'", "\u200b", " ", "  ", ". ", " . "]
CONTEXT = ["we", "sing", "tonight", "under", "neon", "lights", "and", "the", "night", "is", "young"]


@st.composite
def obfuscated(draw: st.DrawFn) -> str:
    term = draw(st.sampled_from(TERMS))
    units: list[str] = []  # one written character per letter of the term, repeats included
    plain: list[str] = []
    for letter in term:
        for _ in range(draw(st.integers(1, 3))):
            units.append(draw(st.sampled_from([letter, letter.upper(), *LEET.get(letter, "")])))
            plain.append(letter)
    gaps = [draw(st.sampled_from(SEPARATORS)) for _ in units[1:]]
    _respect_the_spacing_rule(units, plain, gaps)
    body = units[0] + "".join(gap + unit for gap, unit in zip(gaps, units[1:], strict=True))
    before = " ".join(draw(st.lists(st.sampled_from(CONTEXT), max_size=3)))
    after = " ".join(draw(st.lists(st.sampled_from(CONTEXT), max_size=3)))
    return f"{before} {body} {after}"


def _fragments(units: list[str], gaps: list[str]) -> list[list[int]]:
    pieces: list[list[int]] = [[0]]
    for k, gap in enumerate(gaps, start=1):
        if gap.strip(" ") != gap:  # contains a space: a new token starts
            pieces.append([])
        pieces[-1].append(k)
    return pieces


def _respect_the_spacing_rule(units: list[str], plain: list[str], gaps: list[str]) -> None:
    """Shape a random obfuscation into what the filter promises to catch.

    A space may only sit next to a one-letter piece (otherwise two real words could fuse); inside a run of one
    letter, only before a one-letter piece (so a lone letter cannot borrow its twin from the next word); and a
    run of one-letter pieces needs a letter in it for its digits to read as leetspeak ("top 5 hits" stays a
    number).
    """
    changed = True
    while changed:
        changed = False
        pieces = _fragments(units, gaps)
        for left, right in itertools.pairwise(pieces):
            start = right[0]
            if (len(left) > 1 and len(right) > 1) or (plain[start] == plain[start - 1] and len(right) > 1):
                gaps[start - 1] = ""
                changed = True
                break
    # Where a token or a run of one-letter tokens is all digits and symbols, it reads as a number: give it a letter.
    pieces = _fragments(units, gaps)
    groups: list[list[int]] = []
    for piece, previous in zip(pieces, [None, *pieces[:-1]], strict=True):
        if len(piece) == 1 and previous is not None and len(previous) == 1:
            groups[-1].extend(piece)
        else:
            groups.append(list(piece))
    for group in groups:
        if not any(units[k].isalpha() for k in group):
            units[group[0]] = plain[group[0]]


@settings(max_examples=300, deadline=None)
@given(obfuscated())
def test_any_obfuscation_of_a_blocked_term_is_caught(text: str) -> None:
    f = ContentFilter([BlockRule(term) for term in TERMS])
    assert f.find(text) is not None, text


SAFE_VOCABULARY = [
    "a",
    "i",
    "as",
    "class",
    "bass",
    "grass",
    "assassin",
    "passage",
    "title",
    "petition",
    "titan",
    "hello",
    "shell",
    "cucumber",
    "document",
    "circumstance",
    "scunthorpe",
    "therapist",
    "analysis",
    "cocktail",
    "spices",
    "snigger",
    "niggardly",
    "wet",
    "back",
    "rag",
    "head",
    "towel",
    "lol",
    "icon",
    "child",
    "kick",
    "grumble",
    "flux",
    "sleaze",
    "tron",
    "snicker",
    "plum",
    "neon",
    "night",
    "heart",
    "dancing",
    "oh",
    "la",
    "baby",
    "don't",
    "stop",
    "we",
    "sing",
    "hits",
    "top",
    "its",
    "2024",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SAFE_VOCABULARY), st.sampled_from([" ", ", ", "\n", ". ", " - ", "! "])),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_innocent_words_are_never_blocked(words: list[tuple[str, str]], shout: bool) -> None:
    text = "".join(word + sep for word, sep in words)
    f = ContentFilter([*MILD, *(BlockRule(term) for term in TERMS)])
    assert f.find(text.upper() if shout else text) is None, text


# --- what members and admins read, and edges that mutation testing found unguarded (issue 14) ----------------------


@pytest.mark.parametrize(
    "text",
    [
        "grumbleeeeeeeeeeeeeeeeeflux",  # 18 e's: more than the filter keeps of a run
        "ggggggggggggggggrumbleflux",
        "g r r r r r r r r r r r r r u m b l e f l u x",  # a long spaced-out run
        "GRUMBLEFLUXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    ],
)
def test_nine_or_more_repeated_letters_do_not_get_a_word_through(content_filter: ContentFilter, text: str) -> None:
    assert hit(content_filter, text) == "grumbleflux"


def test_a_term_with_a_long_run_of_its_own_is_still_found() -> None:
    f = ContentFilter([BlockRule("zzzzzzzzzzzzbop")], include_defaults=False)  # twelve z's
    assert f.find("zzzzzzzzzzzzzzzzzzzzbop") is not None
    assert f.find("z z z z z z z z z z z z z z b o p") is not None


@pytest.mark.parametrize("text", ["count 4 5 5 and go", "1 2 3 4 5", "$ 5 0", "4 55", "top 5 5 hits"])
def test_spaced_out_digits_stay_numbers(text: str) -> None:
    assert hit(ContentFilter(MILD), text) is None


def test_a_blocked_number_phrase_is_found_written_together() -> None:
    f = ContentFilter([BlockRule("14 88")], include_defaults=False)
    for text in ("1488", "we were 14 88", "14-88"):
        assert hit(f, text) == "14 88", text
    assert hit(f, "14 89") is None and hit(f, "1 4 8") is None and hit(f, "21488") is None


# Built from look-alike letters only: Cyrillic dze, er, o, o, ka, te, a, ha read "spooktax".
ALL_LOOK_ALIKES = "\u0455\u0440\u043e\u043e\u043a\u0442\u0430\u0445"


def test_a_word_written_wholly_in_look_alike_letters_is_found() -> None:
    f = ContentFilter([BlockRule("spooktax")], include_defaults=False)
    assert hit(f, ALL_LOOK_ALIKES) == "spooktax"
    assert hit(f, ALL_LOOK_ALIKES.upper()) == "spooktax"
    assert hit(f, f"la la {ALL_LOOK_ALIKES}!") == "spooktax"


@pytest.mark.parametrize(
    "text",
    [
        "Привет, как дела? Я пою о море",  # Russian: "как" is all look-alikes, "Привет" is not
        "Καλημέρα κόσμε, τα λέμε",  # Greek
        "сок и кот",
    ],
)
def test_russian_and_greek_lyrics_are_left_alone(text: str) -> None:
    f = ContentFilter([*MILD, BlockRule("grumbleflux"), BlockRule("pop")])
    assert f.find(text) is None


def test_builtin_labels_keep_first_and_last_letters_only() -> None:
    labels = {rule.pattern: rule.label for rule in DEFAULT_BLOCKLIST}
    assert labels["child porn"] == "built-in: c***d p**n"
    assert labels["lolicon"] == "built-in: l*****n"
    assert labels["pthc"] == "built-in: p**c"
    assert BlockRule("x y zap", builtin=True).label == "built-in: x y z*p"  # one- and two-letter words stay
    assert BlockRule("ab cde", builtin=True).label == "built-in: ab c*e"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("filename", "Your file name contains a blocked word or phrase, so nothing was generated or charged."),
        ("idea", "Your idea contains a blocked word or phrase, so nothing was generated or charged."),
        ("style", "Your style contains a blocked word or phrase, so nothing was generated or charged."),
        ("tags", "Your tags contain a blocked word or phrase, so nothing was generated or charged."),
    ],
)
def test_the_refusal_names_what_the_member_wrote(content_filter: ContentFilter, field: str, message: str) -> None:
    with pytest.raises(Blocked) as caught:
        content_filter.check({field: "grumbleflux"})
    assert str(caught.value) == message and caught.value.field == field


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "prompt",
            "Your prompt was too long or too complex to check for blocked words in time; shorten or simplify it "
            "and try again. Nothing was generated or charged.",
        ),
        (
            "lyrics",
            "Your lyrics were too long or too complex to check for blocked words in time; shorten or simplify it "
            "and try again. Nothing was generated or charged.",
        ),
        (
            "filename",
            "Your file name was too long or too complex to check for blocked words in time; shorten or simplify it "
            "and try again. Nothing was generated or charged.",
        ),
    ],
)
def test_the_time_refusal_says_what_to_do(field: str, message: str) -> None:
    f = ContentFilter([BlockRule("grumbleflux")], include_defaults=False, clock=SteppingClock(10.0))
    with pytest.raises(ContentCheckTimedOut) as caught:
        f.check({field: "grumble flux and more"})  # near enough to a rule that its search must run
    assert str(caught.value) == message
    assert (caught.value.field, caught.value.rule, caught.value.timed_out) == (field, TIMED_OUT_RULE, True)


def test_find_names_the_text_when_it_runs_out_of_time() -> None:
    f = ContentFilter([BlockRule("grumbleflux")], include_defaults=False, clock=SteppingClock(10.0))
    with pytest.raises(ContentCheckTimedOut) as caught:
        f.find("grumble flux and more")
    assert caught.value.field == "text"
    assert str(caught.value).startswith("Your text was too long or too complex to check")


def test_word_rules_keep_to_what_is_left_of_the_budget(caplog: pytest.LogCaptureFixture) -> None:
    """With a sliver of the budget left, a long text is refused instead of searched past the deadline."""
    f = ContentFilter(
        [BlockRule("grumbleflux", id=7)], include_defaults=False, check_budget=1.0, clock=SteppingClock(1.0 - 1e-9)
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(ContentCheckTimedOut):
        f.find("la " * 2000 + "grumbleflux")
    assert "Block rule 7 timed out on a 6011-character text" in caplog.text  # which rule, never the text


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "The pattern is empty; give a regular expression to block."),
        ("a*", "That pattern matches empty text, so it would block everything; make it match at least one character."),
        (
            r"(a+)+$",
            "That pattern is too slow to run safely; avoid nested repeats such as (a+)+ or (\\w+\\s?)* and try a "
            "simpler pattern.",
        ),
        ("a" * 201, "That pattern is 201 characters long; keep it to 200 or fewer."),
        ("(unclosed", "That is not a valid regular expression: missing ) at position 9."),
        (
            "a{1001}",
            "That pattern repeats too much: counts such as {3} or {2,5} may come to 1000 at most (nested counts "
            "multiply); use + or * instead.",
        ),
    ],
)
def test_what_an_admin_reads_when_a_pattern_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_regex(pattern)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("  ", "The word or phrase to block is empty."),
        ("x" * 101, "Keep a blocked word or phrase to 100 characters or fewer."),
        ("!!! ...", "That has no letters or digits to match; block a word or phrase instead."),
    ],
)
def test_what_an_admin_reads_when_a_word_is_refused(word: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_word(word)
    assert str(caught.value) == message


def test_a_word_as_long_as_allowed_is_accepted_and_blocks() -> None:
    word = "grumbleflux " * 8 + "x" * 4  # 100 characters
    assert len(word) == 100 and validate_word(word) == word.strip()
    assert ContentFilter([BlockRule(word)], include_defaults=False).find(word) is not None


def test_a_skipped_rule_is_logged_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    """An operator must be able to find the stored rule that no longer works."""
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        ContentFilter([BlockRule("!!!", id=31), BlockRule("(oops", is_regex=True, id=32)], include_defaults=False)
    assert "block rule 31: nothing in it can be matched" in caplog.text
    assert "block rule 32: its pattern does not compile" in caplog.text


@pytest.mark.parametrize("pattern", [r"\d{3}-\d{4}", "a{1000}", "x{10}y{10}z{10}", "[a-z]{2,30}", "a{5,}", "(ab){2}c"])
def test_patterns_with_modest_counts_are_accepted(pattern: str) -> None:
    assert validate_regex(pattern) is None


@pytest.mark.parametrize("pattern", ["a{1001}", "a{,2000}", "a{3,1001}", "(?:a{100}){11}", "(?:x{40}|y){30}"])
def test_patterns_whose_counts_come_to_more_than_a_thousand_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidRequest, match="repeats too much"):
        validate_regex(pattern)


def test_a_huge_count_is_refused_before_it_is_compiled() -> None:
    """Compiling "a{2147483647}" asks for hundreds of gigabytes: the admin adding it would bring the bot down.

    Run in a child process held to 2 GiB of address space, so that should the refusal ever go, this test fails
    with a MemoryError instead of exhausting the machine.
    """
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from bot.core.content_filter import validate_regex\n"
        "from bot.domain.errors import InvalidRequest\n"
        "for pattern in ('a{2147483647}', '(?:(?:a{1000}){1000}){1000}', 'b{99999999999999999999}'):\n"
        "    try:\n"
        "        validate_regex(pattern)\n"
        "    except InvalidRequest as exc:\n"
        "        print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("That pattern repeats too much") == 3, done.stdout


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?-i)(a+)+$",  # case-sensitive: only a run of lower-case a's shows it
        r"(?-i)(a |a a )+$",  # only spaced-out letters show it
        r"(1|11)+$",  # only a run of digits shows it
    ],
)
def test_slow_patterns_that_only_one_kind_of_text_shows_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidRequest, match="too slow to run safely"):
        validate_regex(pattern)


def test_a_budget_spent_to_the_last_instant_refuses() -> None:
    """The check may not start a rule with no time left, even on a text it could finish at once."""
    rules = [BlockRule("zzz+", is_regex=True, id=1)]
    f = ContentFilter(rules, include_defaults=False, check_budget=0.5, clock=SteppingClock(0.5))
    with pytest.raises(ContentCheckTimedOut):
        f.check({"title": "hi"})
    roomy = ContentFilter(rules, include_defaults=False, check_budget=0.5, clock=SteppingClock(0.25))
    roomy.check({"title": "hi"})  # a quarter of the budget left: checked and passed
