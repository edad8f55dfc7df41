// Karaoke: an .lrc lyrics timeline posted next to audio in the same message plays along with it: the current
// line is highlighted while the <audio> element plays. Registered as an attachment renderer that claims the pair.
import { h } from "../dom.js";
import { attachmentUrl, extensionOf, fileMeta, isAudio, registerAttachmentRenderer, renderAudio } from "./attachments.js";

const LINE = /^((?:\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\])+)(.*)$/;
const STAMP = /\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]/g;

/** Parse LRC text into [{time (seconds), text}] sorted by time; metadata tags ([ar:...]) are skipped. */
export function parseLrc(text) {
  const lines = [];
  let offset = 0;
  for (const raw of String(text).split(/\r?\n/)) {
    const meta = /^\[offset:\s*([+-]?\d+)\]/i.exec(raw.trim());
    if (meta) offset = Number(meta[1]) / 1000;
    const m = LINE.exec(raw.trim());
    if (!m) continue;
    const words = m[2].trim();
    for (const stamp of m[1].matchAll(STAMP)) {
      const fraction = stamp[3] ? Number(`0.${stamp[3]}`) : 0;
      const time = Number(stamp[1]) * 60 + Number(stamp[2]) + fraction - offset;
      if (Number.isFinite(time)) lines.push({ time: Math.max(0, time), text: words });
    }
  }
  return lines.sort((a, b) => a.time - b.time);
}

/** Index of the line being sung at `seconds` (-1 before the first). */
export function currentLine(lines, seconds) {
  let lo = 0;
  let hi = lines.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid].time <= seconds) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const isLrc = (att) => extensionOf(att) === "lrc";

function renderKaraoke(audioAtt, lrcAtt) {
  const box = renderAudio(audioAtt);
  const audio = box.querySelector("audio");
  const panel = h("ol", { class: "karaoke", "aria-label": "Lyrics", "aria-live": "off" });
  box.append(panel, h("div", { class: "file-row karaoke-file" }, fileMeta(lrcAtt)));
  const url = attachmentUrl(lrcAtt);
  if (!url) return box;
  fetch(url)
    .then((r) => (r.ok ? r.text() : ""))
    .then((text) => {
      const lines = parseLrc(text);
      panel.replaceChildren(...lines.map((l) => h("li", { "data-time": l.time }, l.text || "♪")));
      let active = -1;
      const sync = () => {
        const index = currentLine(lines, audio.currentTime);
        if (index === active) return;
        panel.children[active]?.classList.remove("current");
        panel.children[active]?.removeAttribute("aria-current");
        active = index;
        const li = panel.children[active];
        if (li) {
          li.classList.add("current");
          li.setAttribute("aria-current", "true");
          panel.scrollTop = li.offsetTop - panel.clientHeight / 2 + li.clientHeight / 2;
        }
      };
      audio.addEventListener("timeupdate", sync);
      audio.addEventListener("seeked", sync);
      // Clicking a line seeks there.
      panel.addEventListener("click", (event) => {
        const li = event.target.closest("li[data-time]");
        if (li) audio.currentTime = Number(li.dataset.time);
      });
    })
    .catch(() => panel.replaceChildren(h("li", null, "Lyrics unavailable")));
  return box;
}

registerAttachmentRenderer({
  name: "karaoke",
  // An .lrc beside audio in the same message waits for the audio, which claims it.
  defers: (att, ctx) => isLrc(att) && ctx.siblings.some((s) => isAudio(s) && !ctx.consumed.has(s)),
  match: (att, ctx) => isAudio(att) && ctx.siblings.some((s) => isLrc(s) && !ctx.consumed.has(s)),
  render: (att, ctx) => {
    const lrc = ctx.siblings.find((s) => isLrc(s) && !ctx.consumed.has(s));
    ctx.consumed.add(lrc);
    return renderKaraoke(att, lrc);
  },
});
