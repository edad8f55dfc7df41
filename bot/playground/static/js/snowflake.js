// Discord snowflakes: 64-bit ids whose top bits are milliseconds since Discord's epoch. Compared as strings
// (length first) so no precision is lost; BigInt only where we make new ones.

export const DISCORD_EPOCH = 1420070400000n;
let increment = 0n;

export function compareIds(a, b) {
  a = String(a);
  b = String(b);
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function timestampOf(id) {
  try {
    return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
  } catch {
    return 0;
  }
}

/** A fresh snowflake for nonces and page-local messages. */
export function makeSnowflake(ms = Date.now()) {
  increment = (increment + 1n) & 0xfffn;
  return String(((BigInt(ms) - DISCORD_EPOCH) << 22n) | increment);
}
