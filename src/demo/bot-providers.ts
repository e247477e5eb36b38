import type { Demo } from "./demo.js";
import type { BotProviders } from "../bot/index.js";

/**
 * What the bot reads from the reference process: `/status` (strategy state, PnL, breaker,
 * exchange connection) and `/portfolio` (positions with entry, mark and unrealized PnL).
 */
export function demoBotProviders(
  demo: Pick<Demo, "positions" | "risk" | "orchestrator" | "client">,
  options: { strategyId?: string } = {},
): Required<Pick<BotProviders, "status" | "portfolio">> {
  return {
    status: () => {
      const totals = demo.positions.totals();
      return {
        state: demo.orchestrator.strategyState,
        ...(options.strategyId ? { strategyId: options.strategyId } : {}),
        realizedPnlUsd: totals.realized,
        unrealizedPnlUsd: totals.unrealized,
        dailyPnlUsd: totals.daily,
        breaker: { active: demo.risk.breakerActive },
        fields: {
          exchange: demo.client.isConnected ? "connected" : "disconnected",
          ticks: demo.orchestrator.ticks,
          open_positions: totals.openPositions,
        },
      };
    },
    portfolio: () =>
      demo.positions.all().map((p) => ({
        symbol: p.symbol,
        quantity: p.quantity,
        ...(p.quantity !== 0 && p.averagePrice > 0 ? { entryPrice: p.averagePrice } : {}),
        ...(Number.isFinite(p.mark) ? { markPrice: p.mark } : {}),
        ...(Number.isFinite(p.mark) && p.averagePrice > 0
          ? { unrealizedPnl: (p.mark - p.averagePrice) * p.quantity }
          : {}),
        ...(options.strategyId ? { strategyId: options.strategyId } : {}),
      })),
  };
}
