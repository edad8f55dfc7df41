// Small formatting helpers shared by the renderers: sizes, colours, dates as Discord's client shows them.

export function fileSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return `${n} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(2)} ${units[unit]}`;
}

/** An integer colour (as in embeds and roles) to "#rrggbb"; null for 0/missing (Discord's "no colour"). */
export function intColour(value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 0xffffff) return null;
  return `#${n.toString(16).padStart(6, "0")}`;
}

function locale() {
  return navigator.language || "en-US";
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function timeShort(date) {
  return new Intl.DateTimeFormat(locale(), { hour: "numeric", minute: "2-digit" }).format(date);
}

/** A message header's time: "Today at 4:20 PM", "Yesterday at 4:20 PM" or "7/10/21, 4:20 PM". */
export function calendarTime(date, now = new Date()) {
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, now)) return `Today at ${timeShort(date)}`;
  if (sameDay(date, yesterday)) return `Yesterday at ${timeShort(date)}`;
  const day = new Intl.DateTimeFormat(locale(), { year: "2-digit", month: "numeric", day: "numeric" }).format(date);
  return `${day}, ${timeShort(date)}`;
}

/** The long form shown in tooltips and day dividers. */
export function longDate(date) {
  return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "long", day: "numeric" }).format(date);
}

export function fullDateTime(date) {
  const day = new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  }).format(date);
  return `${day} ${timeShort(date)}`;
}

export { sameDay };
