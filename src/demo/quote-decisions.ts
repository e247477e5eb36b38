import type { QuoteDecisionSink as QuoteDecisionHook, QuoteDecisionRecord } from "../trading/index.js";
import type { DecisionRecorder } from "../decisions/recorder.js";

export interface QuoteDecisionAdapterOptions {
  /** The strategy id sessions are filed under (`/last_decision <strategy_id>`). */
  strategyId: string;
  /** Agent name on the sessions and their root spans. Default `market_maker`. */
  agent?: string;
}

/** `volatility 5.1 bps: spread x2.5` in the strategy's own reason text. */
const SPREAD_PATTERN = /volatility ([\d.]+) bps: spread x([\d.]+)/;
/** `long 0.42 of limit` / `short 0.42 of limit`. */
const INVENTORY_PATTERN = /(long|short) ([\d.]+) of limit/;

/**
 * Plugs the recorder into the reference market maker's `decisionRecorder` hook: every quoting
 * decision the strategy reports (throttled by `decisions.record_interval_ms`) becomes a session
 * with the strategy's own reasoning as steps, the risk check as a tool call with its verdict, and
 * the decision. The market maker is rule-based, so there is no model usage, and the numbers the
 * decision carries are derived from its rules, as `details.basis` says:
 * - regime: `volatile` when volatility widened the spread, else `calm`;
 * - confidence: 1 / spread multiplier (a wider spread means less certainty about fair value);
 * - risk score: the share of the position limit in use.
 */
export function createQuoteDecisionAdapter(
  recorder: DecisionRecorder,
  options: QuoteDecisionAdapterOptions,
): QuoteDecisionHook {
  const agent = options.agent ?? "market_maker";
  return {
    recordQuoteDecision(input: QuoteDecisionRecord) {
      const spread = SPREAD_PATTERN.exec(input.reason);
      const inventory = INVENTORY_PATTERN.exec(input.reason);
      const multiplier = spread ? Number(spread[2]) : 1;
      const inventoryRatio = inventory ? Number(inventory[2]) : 0;
      const side = input.skewBps > 0 ? "down" : input.skewBps < 0 ? "up" : undefined;
      const action = side ? `quote_skew_${side}` : "quote";

      const session = recorder.startSession({ agent, strategyId: options.strategyId, symbol: input.symbol });
      session.step(
        `Market ${input.symbol}: mid ${input.mid.toFixed(2)}; position ${input.position >= 0 ? "+" : ""}${round(input.position)} (base).`,
      );
      session.step(`Strategy reasoning: ${input.reason}.`);
      session.step(
        side === "down"
          ? `Skew ${round(input.skewBps)} bps: both quotes move down so the ask fills first and the long position shrinks.`
          : side === "up"
            ? `Skew ${round(input.skewBps)} bps: both quotes move up so the bid fills first and the short position shrinks.`
            : "No skew: quotes centred on the mid.",
      );
      session.toolCall({
        name: "risk_check",
        args: {
          symbol: input.symbol,
          position: input.position,
          mid: input.mid,
          skew_bps: round(input.skewBps),
        },
        result: input.approved ? "approved" : `rejected: ${input.riskReason ?? "no reason given"}`,
      });
      if (!input.approved) {
        session.step(
          `Risk monitor rejected the quotes (${input.riskReason ?? "no reason given"}): nothing is sent for ${input.symbol} this tick.`,
        );
      }
      session.decision({
        action,
        symbol: input.symbol,
        regime: multiplier > 1 ? "volatile" : "calm",
        confidence: 1 / Math.max(1, multiplier),
        approved: input.approved,
        riskScore: Math.min(1, inventoryRatio),
        reason: input.approved ? input.reason : (input.riskReason ?? "rejected by risk"),
        details: {
          mid: input.mid,
          position: input.position,
          skew_bps: round(input.skewBps),
          spread_multiplier: multiplier,
          ...(spread ? { volatility_bps: Number(spread[1]) } : {}),
          basis: "rule-based: confidence = 1/spread multiplier, risk = share of position limit",
        },
      });
      session.end("completed");
    },
  };
}

const round = (value: number): number => Math.round(value * 10_000) / 10_000;
