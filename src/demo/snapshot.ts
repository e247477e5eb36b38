import type { MonitoringSnapshot } from "../monitoring/snapshot.js";
import type { PositionManager } from "../trading/portfolio/position-manager.js";
import type { RiskMonitor } from "../trading/risk/risk-monitor.js";

export interface SnapshotSourceOptions {
  exchange: string;
  positions: PositionManager;
  risk: RiskMonitor;
  /** Orders acknowledged so far. */
  placedTotal: () => number;
  connected: () => boolean;
  lastApiCallAt: () => number | undefined;
  lastTickAt: () => number | undefined;
  startedAtMs: number;
  now: () => number;
}

/**
 * Builds the {@link MonitoringSnapshot} from the live trading state. Costs a pass over
 * the positions; callers build it lazily (the demo hands listeners a getter, not a snapshot).
 */
export function createSnapshotSource(options: SnapshotSourceOptions): () => MonitoringSnapshot {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return () => {
    const { positions, risk } = options;
    const totals = positions.totals();
    const all = positions.all();
    const open = all.filter((p) => p.quantity !== 0);
    let maxPositionValue = 0;
    for (const p of open) {
      maxPositionValue = Math.max(
        maxPositionValue,
        Math.abs(p.quantity) * (Number.isNaN(p.mark) ? p.averagePrice : p.mark),
      );
    }
    const now = options.now();
    return {
      timestamp: new Date(now).toISOString(),
      heartbeat: {
        last_tick: iso(options.lastTickAt()),
        uptime_seconds: Math.max(0, (now - options.startedAtMs) / 1000),
      },
      positions: {
        count: open.length,
        total_value: totals.grossNotional,
        symbols: open.map((p) => p.symbol),
      },
      pnl: { daily: totals.daily, unrealized: totals.unrealized, realized: totals.realized },
      risk: {
        circuit_breaker_active: risk.breakerActive,
        daily_loss_pct: risk.dailyLossPct(),
        max_position_value: maxPositionValue,
        position_limit_breaches: risk.positionLimitBreaches(all),
        exposure_ratio: totals.equity > 0 ? totals.grossNotional / totals.equity : 0,
      },
      orders: { placed_total: options.placedTotal(), rejected_total: risk.rejectedTotal },
      connectivity: {
        exchange: options.exchange,
        exchange_connected: options.connected(),
        last_api_call: iso(options.lastApiCallAt()),
      },
    };
  };
}
