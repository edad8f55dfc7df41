"""The message list with 500 messages, in Chromium: the real chat view pages the history 50 at a time and
applies live updates to one node. Times are measured and printed (run with -s), never asserted: speed is
reported, not tested. What is asserted is that the list is complete, ordered and grouped."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness_server import serve

FIXTURES = Path(__file__).parent / "fixtures"
GUILD = json.loads((FIXTURES / "guild.json").read_text())
TRACK = json.loads((FIXTURES / "messages.json").read_text())["track"]

MEASURE = """
async ([fx, track, total]) => {
  const { Chat } = await import('/static/js/chat.js');
  const ctx = window.harness.contextFrom(fx);
  // 500 messages, oldest first: chat lines from two members, a track post (embed, audio, buttons) every tenth.
  const base = 1000000000000000000n;
  const all = [];
  for (let i = 0; i < total; i += 1) {
    const id = String(base + BigInt(i) * 4194304n * 60000n);
    const when = new Date(Date.UTC(2021, 6, 10, 8, 0) + i * 60000).toISOString();
    const m = i % 10 === 9
      ? { ...track, id, timestamp: when, thread: null }
      : { id, channel_id: '1', type: 0, flags: 0, timestamp: when, edited_timestamp: null,
          author: i % 3 ? fx.users[0] : fx.users[1], content: `message **${i}** with <@101> and \\`code\\``,
          embeds: [], attachments: [], components: [], mentions: [] };
    all.push(m);
  }
  const app = {
    api: { get: async (path) => {
      const url = new URL(path, location.href);
      const before = url.searchParams.get('before');
      const limit = Number(url.searchParams.get('limit'));
      const end = before ? all.findIndex((m) => m.id === before) : all.length;
      return all.slice(Math.max(0, end - limit), end).reverse().map((m) => structuredClone(m));
    } },
    renderContext: () => ctx,
    channelName: () => 'studio',
    isThread: () => false,
  };
  const scroller = document.createElement('div');
  scroller.style.cssText = 'height: 800px; overflow-y: auto; width: 900px';
  const historyTop = document.createElement('div');
  const listSlot = document.createElement('div');
  scroller.append(historyTop, listSlot);
  document.getElementById('root').replaceChildren(scroller);
  const chat = new Chat(app, { scroller, historyTop, listSlot });
  const layout = () => scroller.scrollHeight;  // force style and layout, so times include them
  const time = async (fn) => { const t = performance.now(); await fn(); layout(); return performance.now() - t; };
  const firstPage = await time(() => chat.show('1'));
  let pages = 1;
  const history = await time(async () => {
    while (!chat.currentLog.reachedStart) { chat.currentLog.loading = null; await chat.loadOlder(); pages += 1; }
  });
  const middle = all[250];
  const update = await time(() => chat.update(null, { id: middle.id, channel_id: '1', content: 'edited!',
    edited_timestamp: new Date().toISOString() }));
  const nextId = String(BigInt(all[total - 1].id) + 4194304n);
  const create = await time(() => chat.add({ ...all[0], id: nextId, timestamp: new Date().toISOString(),
    content: 'a new message' }));
  const remove = await time(() => chat.remove('1', all[100].id));
  const items = [...document.querySelectorAll('li.message-item')];
  return {
    timings: { firstPage, history, pages, update, create, remove },
    count: document.querySelectorAll('[role=article]').length,
    ordered: items.every((li, i) => i === 0 || BigInt(items[i - 1].dataset.id) < BigInt(li.dataset.id)),
    edited: document.querySelector(`li[data-id="${middle.id}"]`).innerText.includes('edited!'),
    last: items[items.length - 1].innerText.includes('a new message'),
    continuations: document.querySelectorAll('li.continuation').length,
  };
}
"""


@pytest.fixture(scope="module")
def harness_url() -> Iterator[str]:
    with serve() as url:
        yield url


def test_500_messages_render_and_update_incrementally(
    browser: Any, harness_url: str, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    context = browser.new_context(locale="en-US", timezone_id="UTC", reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{harness_url}/harness/index.html")
        page.wait_for_function("window.harnessReady === true")
        result = page.evaluate(MEASURE, [GUILD, TRACK, 500])
    finally:
        context.close()
    assert result["count"] == 500  # 500 - 1 removed + 1 created
    assert result["ordered"]
    assert result["edited"] and result["last"]
    assert result["continuations"] > 100  # runs of one author within 7 minutes are grouped
    t = result["timings"]
    record_property("page_timings_ms", t)
    with capsys.disabled():
        sys.stderr.write(
            f"\n[page] 500 messages: first page {t['firstPage']:.0f} ms, all {t['pages']} pages "
            f"{t['history']:.0f} ms; edit {t['update']:.1f} ms, new message {t['create']:.1f} ms, "
            f"delete {t['remove']:.1f} ms\n"
        )
