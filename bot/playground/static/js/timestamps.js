// Discord's <t:unix:STYLE> timestamps, in every style, and the relative ("R") ones kept live.
import { h } from "./dom.js";
import { fullDateTime } from "./format.js";

const DATE_PARTS = {
  d: { year: "numeric", month: "2-digit", day: "2-digit" },
  D: { year: "numeric", month: "long", day: "numeric" },
  F: { weekday: "long", year: "numeric", month: "long", day: "numeric" },
};
const TIME_PARTS = {
  t: { hour: "numeric", minute: "2-digit" },
  T: { hour: "numeric", minute: "2-digit", second: "2-digit" },
};

function fmt(date, options) {
  return new Intl.DateTimeFormat(navigator.language || "en-US", options).format(date);
}

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "in 5 minutes", "3 hours ago": the largest whole unit, as Discord's client words it. */
export function relativeText(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(navigator.language || "en-US", { numeric: "always" });
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === "second") return rtf.format(Math.trunc(seconds / size), unit);
  }
  return "";
}

export function formatTimestamp(date, style = "f") {
  switch (style) {
    case "t":
    case "T":
      return fmt(date, TIME_PARTS[style]);
    case "d":
    case "D":
      return fmt(date, DATE_PARTS[style]);
    case "F":
      return `${fmt(date, DATE_PARTS.F)} ${fmt(date, TIME_PARTS.t)}`;
    case "R":
      return relativeText(date);
    default: // "f"
      return `${fmt(date, DATE_PARTS.D)} ${fmt(date, TIME_PARTS.t)}`;
  }
}

/** The element for a markdown timestamp; R ones carry data-relative and are refreshed by startClock(). */
export function timestampElement(unixSeconds, style) {
  const ms = Number(unixSeconds) * 1000;
  const date = new Date(ms);
  if (!Number.isFinite(ms) || Number.isNaN(date.getTime())) return null;
  return h(
    "time",
    {
      class: style === "R" ? "md-timestamp md-relative" : "md-timestamp",
      datetime: date.toISOString(),
      title: fullDateTime(date),
      "data-relative": style === "R" ? String(ms) : null,
    },
    formatTimestamp(date, style || "f"),
  );
}

let clock = null;
/** One timer for the whole page; it only touches relative timestamps (a live HTMLCollection, no scans). */
export function startClock(root = document) {
  if (clock) return;
  const live = root.getElementsByClassName("md-relative");
  const tick = () => {
    const now = Date.now();
    for (const el of live) {
      const ms = el.dataset.relative;
      if (!ms) continue;
      const text = relativeText(new Date(Number(ms)), now);
      if (el.textContent !== text) el.textContent = text;
    }
  };
  clock = setInterval(tick, 1000);
}
