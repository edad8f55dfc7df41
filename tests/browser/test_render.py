"""The renderer in a real browser: the page's own modules render fixture Discord objects (static JSON), and the
tests read the DOM as a member (or a screen reader) would: text, roles and accessible names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness_server import serve

FIXTURES = Path(__file__).parent / "fixtures"
GUILD = json.loads((FIXTURES / "guild.json").read_text())
MESSAGES = json.loads((FIXTURES / "messages.json").read_text())
NOW = datetime(2021, 7, 10, 16, 40, tzinfo=UTC)


@pytest.fixture(scope="module")
def harness_url() -> Iterator[str]:
    with serve() as url:
        yield url


def _harness_page(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(
        locale="en-US", timezone_id="UTC", viewport={"width": 1100, "height": 900}, reduced_motion="reduce"
    )
    page = context.new_page()
    page.clock.install(time=NOW)
    return context, page


def _load(page: Any, harness_url: str) -> Any:
    page.goto(f"{harness_url}/harness/index.html")
    page.wait_for_function("window.harnessReady === true")
    return page


@pytest.fixture(scope="module")
def shared_page(browser: Any) -> Iterator[Any]:
    """One browser context for the module's tests: each costs Chromium a renderer process (about a second of CPU).
    Its clock starts at NOW and runs; a test that moves it uses ``own_page``."""
    context, page = _harness_page(browser)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(shared_page: Any, harness_url: str) -> Any:
    """The harness, loaded afresh: nothing an earlier test rendered or opened is left."""
    return _load(shared_page, harness_url)


@pytest.fixture
def own_page(browser: Any, harness_url: str) -> Iterator[Any]:
    """The harness in a context of its own, for a test that moves the clock."""
    context, page = _harness_page(browser)
    try:
        yield _load(page, harness_url)
    finally:
        context.close()


def render(page: Any, *names: str) -> Any:
    page.evaluate("([fx, msgs]) => window.harness.renderMessages(fx, msgs)", [GUILD, [MESSAGES[n] for n in names]])
    return page.get_by_role("article")


def test_markdown_subset(page: Any) -> None:
    article = render(page, "markdown")
    assert article.count() == 1
    assert article.locator("strong").first.inner_text() == "bold"
    assert article.locator("em").all_inner_texts() == ["italic", "also italic"]
    assert article.locator("u").inner_text() == "underline"
    assert article.locator("s").inner_text() == "strike"
    assert article.locator("code.inline-code").inner_text() == "inline code"
    assert article.locator("pre code").inner_text() == "print('hi')"
    assert article.locator("blockquote").inner_text() == "quoted line"
    assert article.get_by_role("heading", name="Big header", level=1).is_visible()
    assert article.get_by_role("listitem").all_inner_texts() == ["first item", "second item"]
    masked = article.get_by_role("link", name="masked")
    assert masked.get_attribute("href") == "https://example.com/masked"
    assert masked.get_attribute("target") == "_blank"
    assert (
        article.get_by_role("link", name="https://example.com/auto").get_attribute("href") == "https://example.com/auto"
    )
    # Hostile input stays text: no javascript: link, no HTML element.
    text = article.inner_text()
    assert "[bad](javascript:alert(1))" in text
    assert article.locator("a[href^='javascript']").count() == 0
    assert "<b>not html</b>" in text
    assert article.locator("b").count() == 0
    assert "*not italic*" in text
    assert article.get_by_text("(edited)").is_visible()


def test_spoiler_reveals_on_click(page: Any) -> None:
    article = render(page, "markdown")
    spoiler = article.get_by_role("button", name="Spoiler")
    assert spoiler.get_attribute("aria-expanded") == "false"
    assert article.locator(".spoiler-content").evaluate("el => getComputedStyle(el).opacity") == "0"
    spoiler.click()
    revealed = article.locator(".spoiler.revealed")
    assert revealed.inner_text() == "secret"
    assert revealed.locator(".spoiler-content").evaluate("el => getComputedStyle(el).opacity") == "1"


def test_mentions_show_names(page: Any) -> None:
    article = render(page, "mentions")
    text = article.inner_text()
    for shown in ("@Ana", "@Ben", "#lounge", "@Admin", "@unknown-user"):
        assert shown in text
    assert "<@" not in text and "<#" not in text
    # The role mention takes the role's colour; the message mentioning the reader is highlighted.
    assert article.locator(".role-mention").evaluate("el => getComputedStyle(el).color") == "rgb(237, 66, 69)"
    assert "mentioned" in (article.get_attribute("class") or "")


def test_timestamps_in_every_style_and_relative_ones_stay_live(own_page: Any) -> None:
    page = own_page
    article = render(page, "timestamps")
    text = article.locator(".content").inner_text()
    assert "t=4:20 PM " in text
    assert "T=4:20:00 PM " in text
    assert "d=07/10/2021 " in text
    assert "D=July 10, 2021 " in text
    assert "f=July 10, 2021 4:20 PM " in text
    assert "F=Saturday, July 10, 2021 4:20 PM " in text
    assert "default=July 10, 2021 4:20 PM " in text
    relative = article.locator("time.md-relative")
    assert relative.inner_text() == "20 minutes ago"
    page.evaluate("import('/static/js/timestamps.js').then(m => m.startClock())")
    page.clock.fast_forward("02:00:00")
    page.wait_for_function("document.querySelector('time.md-relative').textContent === '2 hours ago'")
    # The message header says when, Discord's way.
    assert article.locator(".message-time").inner_text() == "Today at 4:23 PM"


def test_track_post_embed(page: Any) -> None:
    render(page, "track")
    article = page.get_by_role("article", name="Tunesmith")
    header = article.locator(".reply-header")
    assert " ".join(header.inner_text().split()).endswith("@Ana used /music create")
    assert article.locator(".bot-tag").inner_text() == "APP"
    embed = article.locator(".embed")
    assert embed.evaluate("el => getComputedStyle(el).borderLeftColor") == "rgb(124, 92, 255)"
    title = embed.get_by_role("link", name="Night Rain", exact=True)
    assert title.get_attribute("href") == "https://example.com/track/1"
    author = embed.get_by_role("link", name="Tunesmith studio")
    assert author.get_attribute("href") == "https://example.com/studio"
    description = embed.locator(".embed-description")
    assert description.locator("strong").inner_text() == "Style:"
    assert "Cover of Starry Night by @Ben" in description.inner_text()
    names = embed.locator(".embed-field-name").all_inner_texts()
    assert names == ["Author", "Duration", "Model", "Lyrics"]
    columns = embed.locator(".embed-field").evaluate_all("els => els.map(e => getComputedStyle(e).gridColumn)")
    # Beside a thumbnail Discord puts two inline fields a row (one left alone spans it); a block field too.
    assert columns == ["1 / 7", "7 / 13", "1 / 13", "1 / 13"]
    assert embed.locator(".embed-field-value").first.inner_text() == "@Ana"
    # attachment://cover-1.png is the message's own attachment; it shows in the embed, not in the file list.
    image = embed.locator(".embed-image img")
    assert image.get_attribute("src").endswith("/harness/fixtures/cover.png")
    image.evaluate("img => img.decode()")
    assert image.evaluate("img => img.naturalWidth") == 64
    assert embed.locator(".embed-thumbnail").get_attribute("src") == "https://example.com/thumb.png"
    assert article.locator(".attachment", has_text="cover-1.png").count() == 0
    footer = embed.locator(".embed-footer")
    assert footer.inner_text() == "Track #1 · sandbox•Today at 4:30 PM"


def test_attachments_audio_image_file_and_karaoke(page: Any) -> None:
    render(page, "track")
    article = page.get_by_role("article", name="Tunesmith")
    audio_card = article.locator(".attachment-audio")
    assert audio_card.get_by_role("link", name="night-rain-1.wav").is_visible()
    assert "1.00 MB" in audio_card.inner_text()
    audio = audio_card.locator("audio")
    assert audio.get_attribute("controls") is not None
    page.wait_for_function("document.querySelector('audio').duration > 2.9")
    # The .lrc beside the audio plays as karaoke: seeking highlights the line being sung.
    lyrics = article.get_by_role("list", name="Lyrics")
    assert lyrics.get_by_role("listitem").all_inner_texts() == [
        "rain on the window",
        "night in the city",
        "la la la",
        "la la la",
    ]
    audio.evaluate("a => { a.currentTime = 1.2; }")
    current = lyrics.locator("li[aria-current='true']")
    current.wait_for()
    assert current.inner_text() == "night in the city"
    # Other files are downloads; images show inline.
    download = article.get_by_role("link", name="stems.zip")
    assert download.get_attribute("download") == "stems.zip"
    assert "4.88 KB" in article.locator(".attachment-file").inner_text()
    photo = article.get_by_role("img", name="photo.png")
    photo.evaluate("img => img.decode()")
    assert photo.evaluate("img => img.naturalWidth") == 64


def test_components(page: Any) -> None:
    render(page, "track")
    article = page.get_by_role("article", name="Tunesmith")
    styles = {
        "Extend": "button-primary",
        "Swap vocals": "button-secondary",
        "Keep": "button-success",
        "Delete": "button-danger",
        "Open": "button-link",
    }
    for name, css in styles.items():
        button = article.get_by_role("button", name=name, exact=True)
        assert css in button.get_attribute("class"), name
        assert button.evaluate("b => b.tagName") == "BUTTON"
    assert article.get_by_role("button", name="Extend").get_attribute("data-custom-id") == "tunesmith:track:extend:1"
    assert article.get_by_role("button", name="Open").get_attribute("data-url") == "https://example.com/open"
    assert "🎤" in article.get_by_role("button", name="Swap vocals").inner_text()
    assert article.get_by_role("button", name="Older").is_disabled()
    select = article.get_by_role("combobox", name="Pick a model")
    assert select.locator("option").all_inner_texts() == ["Pick a model", "Sandbox", "Producer"]
    thread = article.get_by_role("button", name=re.compile(r"^Night Rain · 3 Messages"))
    assert "3 Messages ›" in thread.inner_text()


def test_grouping_ephemeral_and_deferred(page: Any) -> None:
    articles = render(page, "track", "track_followup", "ephemeral", "deferred")
    items = page.locator("li.message-item")
    assert articles.count() == 4
    classes = items.evaluate_all("els => els.map(e => e.classList.contains('continuation'))")
    # The follow-up by the same author within 7 minutes is grouped; the ephemeral and the command reply are not.
    assert classes == [False, True, False, False]
    assert items.nth(1).locator(".message-header").is_hidden()
    ephemeral = articles.nth(2)
    assert "Only you can see this" in ephemeral.inner_text()
    assert ephemeral.get_by_role("button", name="Dismiss message").is_visible()
    assert "Tunesmith is thinking" in articles.nth(3).inner_text()
    assert articles.nth(3).locator(".reply-command").inner_text() == "/quota"


def test_typed_slash_options_parse_like_discord(page: Any) -> None:
    result = page.evaluate(
        """async () => {
        const s = await import('/static/js/slash.js');
        const commands = [{id: '1', name: 'music', type: 1, options: [
          {type: 1, name: 'create', description: 'a song', options: [
            {type: 3, name: 'prompt', required: true}, {type: 3, name: 'title'}, {type: 5, name: 'instrumental'},
            {type: 4, name: 'seed'}, {type: 10, name: 'weirdness'}]},
          {type: 2, name: 'admin', options: [{type: 1, name: 'reset', options: []}]}]}];
        const entries = s.flattenCommands(commands);
        const text = '/music create prompt:lofi beats in the rain title:Night Rain seed:42 weirdness:0.5 '
          + 'instrumental:yes';
        const m = s.matchEntry(text, entries);
        const parsed = s.parseOptions(text, m.head, m.entry.options);
        const values = Object.fromEntries(parsed.values.map(v => [v.name,
          s.convertValue(m.entry.options.find(o => o.name === v.name), v.value)]));
        const tooLong = s.parseOptions('/music create prompt:x title:' + 'a'.repeat(120), m.head, m.entry.options);
        return {
          paths: entries.map(e => e.path.join(' ')),
          values,
          nested: s.nestOptions(m.entry, [{name: 'prompt', type: 3, value: 'x'}]),
          group: s.nestOptions(entries[0], []),
          missing: s.missingRequired(m.entry, s.parseOptions('/music create title:x', m.head, m.entry.options)),
          longTitle: tooLong.values.find(v => v.name === 'title').value.length,
          focused: s.focusedValue(parsed, text.indexOf('Night') + 2).name,
          seedTyped: s.convertValue({type: 4, name: 'seed'}, 'abc'),
        };
    }"""
    )
    assert result["paths"] == ["music admin reset", "music create"]
    assert result["values"] == {
        "prompt": "lofi beats in the rain",
        "title": "Night Rain",
        "seed": 42,
        "weirdness": 0.5,
        "instrumental": True,
    }
    assert result["nested"] == [{"type": 1, "name": "create", "options": [{"name": "prompt", "type": 3, "value": "x"}]}]
    assert result["group"] == [{"type": 2, "name": "admin", "options": [{"type": 1, "name": "reset", "options": []}]}]
    assert result["missing"] == ["prompt"]
    assert result["longTitle"] == 120  # sent as typed, past the declared limit: the bot's validation must show
    assert result["focused"] == "title"
    assert result["seedTyped"] == "abc"


MODAL = {
    "id": "555",
    "custom_id": "tunesmith:modal:extend:1",
    "title": "Extend Night Rain",
    "components": [
        {
            "type": 1,
            "components": [
                {
                    "type": 4,
                    "custom_id": "starts_at",
                    "label": "Continue from (seconds)",
                    "style": 1,
                    "required": False,
                    "placeholder": "e.g. 30",
                }
            ],
        },
        {
            "type": 1,
            "components": [
                {
                    "type": 4,
                    "custom_id": "sound",
                    "label": "Style",
                    "style": 2,
                    "required": True,
                    "min_length": 3,
                    "max_length": 200,
                    "value": "lofi beats",
                }
            ],
        },
        {
            "type": 18,
            "label": "Title",
            "description": "Shown on the post",
            "component": {"type": 4, "custom_id": "title", "style": 1, "max_length": 80, "required": False},
        },
    ],
}


def test_modal_is_a_dialog_with_labelled_inputs(page: Any) -> None:
    page.evaluate(
        """async (modal) => {
        const { showModal } = await import('/static/js/modal.js');
        window.submitted = [];
        showModal(modal, { appName: 'Tunesmith', submit: async (components) => {
          window.submitted.push(components);
          return window.submitted.length === 1 ? 'The application did not respond' : true;
        } });
    }""",
        MODAL,
    )
    dialog = page.get_by_role("dialog", name="Extend Night Rain")
    start = dialog.get_by_label("Continue from (seconds)")
    assert start.get_attribute("placeholder") == "e.g. 30"
    assert start.evaluate("el => el.tagName") == "INPUT" and not start.evaluate("el => el.required")
    style = dialog.get_by_label("Style")
    assert style.evaluate("el => el.tagName") == "TEXTAREA"
    assert style.input_value() == "lofi beats"  # pre-filled
    assert style.evaluate("el => [el.required, el.minLength, el.maxLength]") == [True, 3, 200]
    assert dialog.get_by_label("Title").get_attribute("maxlength") == "80"
    # Discord's client checks required and minimum lengths before sending.
    style.fill("")
    dialog.get_by_role("button", name="Submit").click()
    assert page.evaluate("window.submitted.length") == 0
    style.fill("jazz trio")
    start.fill("12")
    dialog.get_by_role("button", name="Submit").click()
    # A failed submission keeps the form open with its values and says why.
    dialog.get_by_role("alert").filter(has_text="The application did not respond").wait_for()
    assert page.evaluate("window.submitted[0]") == [
        {"type": 1, "components": [{"type": 4, "custom_id": "starts_at", "value": "12"}]},
        {"type": 1, "components": [{"type": 4, "custom_id": "sound", "value": "jazz trio"}]},
        {"type": 1, "components": [{"type": 4, "custom_id": "title", "value": ""}]},
    ]
    dialog.get_by_role("button", name="Submit").click()
    dialog.wait_for(state="detached")


def test_modal_cancel_closes_without_sending(page: Any) -> None:
    page.evaluate(
        """async (modal) => {
        const { showModal } = await import('/static/js/modal.js');
        window.submitted = 0;
        showModal(modal, { appName: 'Tunesmith', submit: async () => { window.submitted += 1; return true; } });
    }""",
        MODAL,
    )
    dialog = page.get_by_role("dialog", name="Extend Night Rain")
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")
    assert page.evaluate("window.submitted") == 0
