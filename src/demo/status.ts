import type { Logger } from "../logging/logger.js";

/** What the live status shows. */
export interface StatusInfo {
  scenario: string;
  ticks: number;
  positions: { symbol: string; quantity: number }[];
  pnl: number;
  dailyPnl: number;
  breakerActive: boolean;
  connected: boolean;
  strategyState: string;
  /** Firing alerts, when an alert provider is wired; undefined shows "-". */
  openAlerts: number | undefined;
}

export interface StatusOptions {
  read: () => StatusInfo;
  /** A terminal: one line refreshed in place every second. */
  tty?: NodeJS.WriteStream;
  /** Off a terminal: a log line this often. */
  logger: Logger;
  logIntervalMs: number;
}

/** Formats one status line (pure). `ticksPerSecond` comes from the caller's sampling. */
export function formatStatus(info: StatusInfo, ticksPerSecond: number): string {
  const positions = info.positions.map((p) => `${p.symbol} ${signed(p.quantity, 4)}`).join("  ");
  return [
    `[${info.scenario}] ${ticksPerSecond.toFixed(1)} ticks/s`,
    positions,
    `PnL ${signed(info.pnl, 2)} (day ${signed(info.dailyPnl, 2)})`,
    `breaker ${info.breakerActive ? "TRIPPED" : "off"}`,
    `exchange ${info.connected ? "up" : "DOWN"}`,
    `strategy ${info.strategyState}`,
    `alerts ${info.openAlerts ?? "-"}`,
  ].join(" | ");
}

function signed(value: number, digits: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
}

/**
 * The live status: on a terminal one line refreshed in place; otherwise a periodic log line.
 * Returns a stop function (idempotent) that ends the line on a terminal.
 */
export function startStatus(options: StatusOptions): () => void {
  let lastTicks = options.read().ticks;
  let lastMs = performance.now();
  const sample = () => {
    const info = options.read();
    const now = performance.now();
    const rate = ((info.ticks - lastTicks) * 1000) / Math.max(1, now - lastMs);
    lastTicks = info.ticks;
    lastMs = now;
    return { info, rate };
  };
  const tty = options.tty;
  const timer = setInterval(
    () => {
      const { info, rate } = sample();
      const line = formatStatus(info, rate);
      if (tty) tty.write(`\r\x1b[2K${line.slice(0, Math.max(20, (tty.columns || 120) - 1))}`);
      else options.logger.info(`status: ${line}`, { component: "status" });
    },
    tty ? 1_000 : options.logIntervalMs,
  );
  timer.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (tty) tty.write("\n");
  };
}
