import { z } from "zod";
import { alertLevelSchema, httpUrlSchema, positiveMsSchema, section } from "./common.js";

export const alertsSection = section({
  /** Master switch; the log channel stays on as the fallback either way. */
  enabled: z.boolean().default(true),
  log: section({
    /** Lowest level the log channel writes (one structured line, `component="alert"`). */
    min_level: alertLevelSchema.default("INFO"),
  }),
  jsonl: section({
    /** Append every alert to a daily JSONL file (what `ticktrace monitor tail` and `status` read). */
    enabled: z.boolean().default(true),
    /** Daily files `<dir>/<YYYY-MM-DD>.jsonl`. */
    dir: z.string().min(1).default("logs/alerts"),
    /** Daily files older than this are deleted in the background (the one owner of alert-file retention). */
    retention_days: z.int().min(1).default(90),
    /** Lowest level written to the JSONL log. */
    min_level: alertLevelSchema.default("INFO"),
  }),
  slack: section({
    /** Send alerts to Slack; needs `webhook_url`. */
    enabled: z.boolean().default(false),
    /** Incoming-webhook URL (a secret: use `${SLACK_WEBHOOK_URL}`); never logged. */
    webhook_url: z.string().default(""),
    /** Channel override (`#trading-alerts`); empty uses the webhook's own channel. */
    channel: z.string().default(""),
    /** Lowest level sent to Slack. */
    min_level: alertLevelSchema.default("WARNING"),
    /** Per-attempt timeout; a failed attempt is retried with backoff. */
    timeout_ms: positiveMsSchema.default(5_000),
  }),
  telegram: section({
    /** Send alerts to Telegram; needs `bot_token` and `chat_id`. */
    enabled: z.boolean().default(false),
    /** Bot token from @BotFather (a secret: use `${TELEGRAM_BOT_TOKEN}`); never logged. */
    bot_token: z.string().default(""),
    /** Chat (user, group or channel id) that receives alerts; also the bot's default admin chat. */
    chat_id: z.string().default(""),
    /** Bot API base URL; point it at a proxy or a local test server. */
    api_url: httpUrlSchema.default("https://api.telegram.org"),
    /** Lowest level sent to Telegram. */
    min_level: alertLevelSchema.default("WARNING"),
    /** Per-attempt timeout; a failed attempt is retried with backoff (429s wait `retry_after`). */
    timeout_ms: positiveMsSchema.default(5_000),
  }),
  alertmanager: section({
    /** Post alerts to a Prometheus Alertmanager (dedup, grouping and routing across bot instances). */
    enabled: z.boolean().default(false),
    /**
     * Alertmanager base URL, or a list of them: every instance of an Alertmanager cluster, as
     * Prometheus's `alertmanagers` lists them. Alerts are posted to `<url>/api/v2/alerts` of each;
     * the cluster deduplicates, so one instance down loses nothing.
     */
    url: z
      .union([httpUrlSchema, z.array(httpUrlSchema).min(1, "expected at least one Alertmanager URL")])
      .default("http://localhost:9093"),
    /** Lowest level posted to Alertmanager. */
    min_level: alertLevelSchema.default("WARNING"),
    /** Firing alerts are re-sent at this interval so Alertmanager keeps them active. */
    resend_interval_ms: positiveMsSchema.default(60_000),
    /** Per-attempt timeout. */
    timeout_ms: positiveMsSchema.default(5_000),
  }),
  outbox: section({
    /**
     * Alerts wait here until every enabled channel has accepted them. One process per directory
     * (a lock file enforces it): give each bot run from one folder its own.
     */
    dir: z.string().min(1).default("data/alerts-outbox"),
    /** Delivery attempts give up after this long; the alert is then logged as undeliverable. */
    max_age_ms: positiveMsSchema.default(24 * 3_600_000),
    /**
     * An alert still firing when the previous run ended is resolved after this long unless this
     * run raises it again (which notifies as a new alert).
     */
    restart_grace_ms: positiveMsSchema.default(300_000),
  }),
  /** A firing alert with the same fingerprint is not re-sent before this interval. */
  repeat_interval_ms: positiveMsSchema.default(3_600_000),
  /** Storm control: more than `max_per_window` alerts in `window_ms` collapse into one summary. */
  storm: section({
    /** Sliding window for storm control. */
    window_ms: positiveMsSchema.default(60_000),
    /** Alerts per window sent individually; beyond this they are folded into one summary. */
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
});
