import { z } from "zod";
import { alertLevelSchema, httpUrlSchema, positiveMsSchema, section } from "./common.js";

export const alertsSection = section({
  /** Master switch; the log channel stays on as the fallback either way. */
  enabled: z.boolean().default(true),
  log: section({
    min_level: alertLevelSchema.default("INFO"),
  }),
  jsonl: section({
    enabled: z.boolean().default(true),
    /** Daily files `<dir>/<YYYY-MM-DD>.jsonl`. */
    dir: z.string().min(1).default("logs/alerts"),
    retention_days: z.int().min(1).default(90),
    min_level: alertLevelSchema.default("INFO"),
  }),
  slack: section({
    enabled: z.boolean().default(false),
    webhook_url: z.string().default(""),
    channel: z.string().default(""),
    min_level: alertLevelSchema.default("WARNING"),
    timeout_ms: positiveMsSchema.default(5_000),
  }),
  telegram: section({
    enabled: z.boolean().default(false),
    bot_token: z.string().default(""),
    chat_id: z.string().default(""),
    /** Bot API base URL; point it at a proxy or a local test server. */
    api_url: httpUrlSchema.default("https://api.telegram.org"),
    min_level: alertLevelSchema.default("WARNING"),
    timeout_ms: positiveMsSchema.default(5_000),
  }),
  alertmanager: section({
    enabled: z.boolean().default(false),
    /** Alertmanager base URL; alerts are posted to `<url>/api/v2/alerts`. */
    url: httpUrlSchema.default("http://localhost:9093"),
    min_level: alertLevelSchema.default("WARNING"),
    /** Firing alerts are re-sent at this interval so Alertmanager keeps them active. */
    resend_interval_ms: positiveMsSchema.default(60_000),
    timeout_ms: positiveMsSchema.default(5_000),
  }),
  outbox: section({
    /** Alerts wait here until every enabled channel has accepted them. */
    dir: z.string().min(1).default("data/alerts-outbox"),
    /** Delivery attempts give up after this long; the alert is then logged as undeliverable. */
    max_age_ms: positiveMsSchema.default(24 * 3_600_000),
  }),
  /** A firing alert with the same fingerprint is not re-sent before this interval. */
  repeat_interval_ms: positiveMsSchema.default(3_600_000),
  /** Storm control: more than `max_per_window` alerts in `window_ms` collapse into one summary. */
  storm: section({
    window_ms: positiveMsSchema.default(60_000),
    max_per_window: z.int().min(1).default(10),
  }),
  escalation: section({
    /** An exchange disconnect lasting longer than this escalates from WARNING to ERROR. */
    exchange_disconnect_ms: positiveMsSchema.default(30_000),
  }),
  /**
   * A single fill with a notional (quote currency) at or above this raises a large-execution
   * alert (INFO). The default suits the demo, whose usual fill is 500 USDT; set it to about ten
   * times your usual fill.
   */
  large_fill_notional: z.number().positive().default(5_000),
  /** Raise an alert when more than this many positions are open. */
  max_open_positions: z.int().min(1).default(50),
  /** Raise an alert when the order rejection rate over the last minute exceeds this ratio. */
  rejection_rate_threshold: z.number().min(0).max(1).default(0.1),
});
