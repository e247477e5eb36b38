/**
 * Config keys that were removed because another key owns the same setting. An old key in a
 * config file is an error that names its replacement, never silently ignored: a threshold
 * that no longer applies would be a lie. The list for users is `docs/config-changes.md`.
 */
export const MOVED_KEYS: Readonly<Record<string, { to: string; why: string }>> = {
  "alerts.max_open_positions": {
    to: "monitoring.rules.open_positions.max",
    why: "open_positions_high is raised by the monitoring rules only",
  },
  "alerts.rejection_rate_threshold": {
    to: "monitoring.rules.rejection_rate.threshold",
    why: "order_rejection_rate_high is raised by the monitoring rules only",
  },
  "monitoring.retention.alerts_days": {
    to: "alerts.jsonl.retention_days",
    why: "alert files are deleted by the JSONL channel that writes them",
  },
};

/** The first moved key set in `raw` (a parsed config file), with where it went. */
export function findMovedKey(raw: unknown): { from: string; to: string; why: string } | undefined {
  for (const [from, target] of Object.entries(MOVED_KEYS)) {
    let node: unknown = raw;
    let found = true;
    for (const part of from.split(".")) {
      if (node === null || typeof node !== "object" || Array.isArray(node) || !Object.hasOwn(node, part)) {
        found = false;
        break;
      }
      node = (node as Record<string, unknown>)[part];
    }
    if (found) return { from, ...target };
  }
  return undefined;
}
