import type { Alert, Alerter, RaiseAlertInput } from "../../src/alert-model/types.js";
import { fingerprintOf } from "../../src/alert-model/model.js";
import { TicktraceError } from "../../src/errors.js";
import { configSchema, type Config } from "../../src/config/index.js";
import type { MonitoringSnapshot } from "../../src/monitoring/snapshot.js";

/** A healthy snapshot at `nowMs`; override any part. */
export function makeSnapshot(nowMs: number, patch: DeepPartial<MonitoringSnapshot> = {}): MonitoringSnapshot {
  const iso = new Date(nowMs).toISOString();
  const base: MonitoringSnapshot = {
    timestamp: iso,
    heartbeat: { last_tick: iso, uptime_seconds: 7200 },
    positions: { count: 2, total_value: 15_000, symbols: ["BTC/USDT", "ETH/USDT"] },
    pnl: { daily: 120.5, unrealized: 20.5, realized: 100 },
    risk: {
      circuit_breaker_active: false,
      daily_loss_pct: 0.12,
      max_position_value: 50_000,
      position_limit_breaches: [],
      exposure_ratio: 0.3,
    },
    orders: { placed_total: 1000, rejected_total: 10 },
    sentiment: { last_score: 0.65, provider_errors_total: 3, cache_hit_rate: 0.85 },
    connectivity: { exchange: "simex", exchange_connected: true, last_api_call: iso },
    llm: { cost_usd_total: 1.5 },
  };
  return merge(base, patch);
}

export type DeepPartial<T> = {
  [K in keyof T]?: NonNullable<T[K]> extends unknown[]
    ? T[K]
    : NonNullable<T[K]> extends object
      ? DeepPartial<NonNullable<T[K]>>
      : T[K];
};

function merge<T>(base: T, patch: unknown): T {
  if (patch === undefined) return base;
  if (
    patch === null ||
    typeof patch !== "object" ||
    Array.isArray(patch) ||
    base === null ||
    typeof base !== "object"
  )
    return patch as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) out[key] = merge(out[key], value);
  return out as T;
}

/** The full default config, with optional overrides of the monitoring section. */
export function makeConfig(
  monitoring: Record<string, unknown> = {},
  rest: Record<string, unknown> = {},
): Config {
  return configSchema.parse({ monitoring, ...rest });
}

/**
 * An in-memory Alerter that behaves like the alert manager's contract: one alert per
 * fingerprint while firing, resolve by fingerprint, acknowledge by id. Switch: `failNext`
 * makes the next raise throw.
 */
export class FakeAlerter implements Alerter {
  readonly raised: RaiseAlertInput[] = [];
  readonly resolved: { rule: string; labels: Record<string, string> | undefined }[] = [];
  failNext = false;
  private readonly firing = new Map<string, Alert>();
  private seq = 0;

  raise(input: RaiseAlertInput): Alert {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("alerter down");
    }
    this.raised.push(input);
    const fingerprint = fingerprintOf(input.rule, input.labels);
    const existing = this.firing.get(fingerprint);
    const alert: Alert = {
      id: existing?.id ?? `a-${++this.seq}`,
      fingerprint,
      rule: input.rule,
      level: input.level,
      title: input.title,
      message: input.message,
      timestamp: existing?.timestamp ?? new Date().toISOString(),
      labels: input.labels ?? {},
      fields: input.fields ?? {},
      status: "firing",
      acknowledged: existing?.acknowledged ?? false,
    };
    this.firing.set(fingerprint, alert);
    return alert;
  }

  resolve(rule: string, labels?: Record<string, string>): Alert | undefined {
    this.resolved.push({ rule, labels });
    const fingerprint = fingerprintOf(rule, labels);
    const alert = this.firing.get(fingerprint);
    this.firing.delete(fingerprint);
    return alert ? { ...alert, status: "resolved" } : undefined;
  }

  acknowledge(id: string): Alert {
    for (const [fingerprint, alert] of this.firing) {
      if (alert.id === id) {
        const acked = { ...alert, acknowledged: true };
        this.firing.set(fingerprint, acked);
        return acked;
      }
    }
    throw new TicktraceError("NOT_FOUND", `no active alert with id ${id}`);
  }

  active(): Alert[] {
    return [...this.firing.values()].reverse();
  }

  /** Rules firing now, sorted, as `rule{labels}` fingerprints. */
  firingFingerprints(): string[] {
    return [...this.firing.keys()].sort();
  }
}
