const MS_PER_DAY = 86_400_000;
let cachedMs = Number.NaN;
let cachedIso = "";
let cachedSecondMs = Number.NaN;
let cachedSecondPrefix = "";
let cachedDayMs = Number.NaN;
let cachedDayPrefix = "";

/**
 * `new Date(ms).toISOString()`, several times cheaper: `raise()` stamps every alert on the
 * caller's thread, and `toISOString` alone costs about as much as the rest of the call. The text
 * up to the second is kept (bursts share it), the date part is formatted once per UTC day and the
 * time of day by arithmetic.
 */
export function isoTimestamp(epochMs: number): string {
  const ms = Math.trunc(epochMs); // as Date does
  if (ms === cachedMs) return cachedIso;
  const millis = ((ms % 1000) + 1000) % 1000;
  const secondMs = ms - millis;
  if (secondMs !== cachedSecondMs) {
    cachedSecondPrefix = secondPrefix(secondMs);
    cachedSecondMs = secondMs;
  }
  cachedMs = ms;
  cachedIso = `${cachedSecondPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
  return cachedIso;
}

/** `2026-11-23T11:10:53.` for a whole second. */
function secondPrefix(secondMs: number): string {
  const dayMs = Math.floor(secondMs / MS_PER_DAY) * MS_PER_DAY;
  if (dayMs !== cachedDayMs) {
    const iso = new Date(dayMs).toISOString();
    cachedDayPrefix = iso.slice(0, iso.indexOf("T") + 1);
    cachedDayMs = dayMs;
  }
  let rest = (secondMs - dayMs) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  return `${cachedDayPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.`;
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}
