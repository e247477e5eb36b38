import { z } from "zod";
import type { AlertLogLine } from "./store.js";
import { ALERT_LEVELS } from "../alert-model/types.js";

/**
 * One line of the JSONL alert log as read back from disk, where anything may be found: a torn
 * write, a line another tool appended, a hand edit. Every key is optional (a partial line such
 * as the CLI's acknowledgement names only the id), but a key that is present has its type, so
 * a reader never takes `labels: "x"` for a map. Shared by the fold (`status`, `ack`), `tail`
 * and the running process's pick-up of acknowledgements.
 */
const fieldValue = z.union([z.string(), z.number(), z.boolean()]);
const alertLogLineSchema = z
  .object({
    timestamp: z.string(),
    severity: z.enum(ALERT_LEVELS),
    rule: z.string(),
    message: z.string(),
    context: z.record(z.string(), fieldValue),
    acknowledged: z.boolean(),
    id: z.string().min(1),
    fingerprint: z.string(),
    status: z.enum(["firing", "resolved"]),
    title: z.string(),
    labels: z.record(z.string(), z.string()),
    event: z.enum(["firing", "repeat", "escalated", "acknowledged", "resolved", "summary", "resend"]),
    event_time: z.string(),
    trace_id: z.string(),
    resolved_at: z.string(),
    acknowledged_by: z.string(),
    acknowledged_at: z.string(),
    run_id: z.string(),
    resolve_reason: z.string(),
  })
  .partial()
  .required({ id: true });

// zod drops keys a schema does not name: every key the writer puts in a line must be here, or a
// reader silently loses it (as `run_id` once was, so `monitor status` could not tell runs apart).
type UnreadKeys = Exclude<keyof AlertLogLine, keyof z.infer<typeof alertLogLineSchema>>;
const _everyKeyRead: [UnreadKeys] extends [never] ? true : UnreadKeys = true;

/** A line that parsed and matched: at least its id, and every other key with its right type. */
export type ParsedAlertLogLine = z.infer<typeof alertLogLineSchema>;

/** Parses one alert-log line; undefined for anything that is not a valid line (never throws). */
export function parseAlertLogLine(text: string): ParsedAlertLogLine | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = alertLogLineSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
