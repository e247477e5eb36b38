/**
 * A duration for people: "45s", "12m", "3h 5m", "2d 4h". Used for how long ago and how long,
 * everywhere a duration is shown (`/health`'s `last_run_ago`, alert messages, the CLI, the bot).
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}

/** "2m ago". */
export function formatAgo(ms: number): string {
  return `${formatDuration(ms)} ago`;
}
