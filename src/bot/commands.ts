/**
 * The bot's commands, apart from Telegram: each takes its argument text and who asked, reads the
 * injected providers and returns the replies to send. Nothing here throws: a failing provider
 * becomes a short reply naming what failed, never a stack trace.
 */
import { escapeHtml, splitMessage } from "../format/telegram-html.js";
import type { GrafanaLinkOptions } from "../format/trace-link.js";
import type { Alert, Alerter } from "../alert-model/types.js";
import { SESSION_ID_PATTERN, type DecisionReader, type SessionTrace } from "../decisions/types.js";
import { describeError, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import {
  b,
  clip,
  code,
  formatAlerts,
  formatHealth,
  formatPortfolio,
  formatReasoning,
  formatStatus,
  HELP_TEXT,
  recentSessionsHint,
  type BotReply,
  type BotStatus,
  type PortfolioPosition,
} from "./format.js";

/**
 * What the user typed, shown back in a reply: clipped, so an argument of thousands of characters
 * cannot push the reply past Telegram's 4096-character limit (the Bot API then refuses it).
 */
const MAX_ECHO_CHARS = 80;
const echo = (text: string): string => code(clip(text, MAX_ECHO_CHARS));

/** What the Telegram command bot shows about your process, for `/status` and `/portfolio`. */
export interface BotStatusProviders {
  /** Running state, PnL and breaker, for `/status`; undefined when the process has none to report (yet). */
  status?: () => BotStatus | undefined | Promise<BotStatus | undefined>;
  /** Open positions, for `/portfolio`; undefined when the process does not report them (yet). */
  portfolio?: () =>
    | readonly PortfolioPosition[]
    | undefined
    | Promise<readonly PortfolioPosition[] | undefined>;
}

/** What the bot reads. Every provider is optional: a command without one says so. */
export interface BotProviders extends BotStatusProviders {
  /** The decision store's read side (`recorder.reader`), for `/reasoning`, `/last_decision`, `/portfolio`. */
  decisions?: DecisionReader;
  /** The alert manager, for `/alerts`, `/ack`, the Acknowledge button and `/status`. */
  alerter?: Alerter;
  /** For `/health` and `/status`. */
  health?: HealthRegistry;
  /** Grafana links to traces in `/reasoning` (`grafana.url`). */
  grafana?: GrafanaLinkOptions;
}

/** Who sent an update. */
export interface Actor {
  chatId: string;
  userId?: string;
  username?: string;
}

/** How an actor is named in an acknowledgement: `telegram:@alice` or `telegram:12345`. */
export const actorName = (actor: Actor): string =>
  `telegram:${actor.username ? `@${actor.username}` : (actor.userId ?? actor.chatId)}`;

export type AckResult = { ok: true; alert: Alert } | { ok: false; message: string };

export interface CommandHandlers {
  /** Runs `/name args`; unknown names get the help hint. */
  run(name: string, args: string, actor: Actor): Promise<BotReply[]>;
  /** One page of `/reasoning` for a button press; undefined when the session is gone. */
  reasoningPage(sessionId: string, page: number): Promise<BotReply | undefined>;
  /** Acknowledges through the alert module, audited in the log. */
  acknowledge(alertId: string, actor: Actor, via: "command" | "button"): AckResult;
}

const plain = (texts: readonly string[]): BotReply[] => splitMessage(texts).map((text) => ({ text }));

/** The reply for a failure: what failed and, for our own errors, the message (no stack). */
function failure(what: string, error: unknown): BotReply[] {
  const detail =
    error instanceof TicktraceError ? describeError(error) : "unexpected error (see the process log)";
  return [{ text: `⚠️ Could not ${escapeHtml(what)}: ${escapeHtml(detail)}` }];
}

export function createCommandHandlers(providers: BotProviders, logger: Logger): CommandHandlers {
  const { decisions, alerter, health } = providers;
  const log = logger.child({ component: "bot" });

  async function recentHint(): Promise<string> {
    if (!decisions) return "";
    try {
      return recentSessionsHint(await decisions.recentSessions({ limit: 5 }));
    } catch {
      return "";
    }
  }

  async function reasoning(args: string): Promise<BotReply[]> {
    if (!decisions) return [{ text: "Decision traces are not enabled in this process (decisions.enabled)." }];
    const id = args.split(/\s+/)[0] ?? "";
    if (id === "") return plain(["Usage: /reasoning &lt;session_id&gt;", await recentHint()].filter(Boolean));
    if (!SESSION_ID_PATTERN.test(id)) {
      return plain([`${code(id.slice(0, 60))} is not a session id.`, await recentHint()].filter(Boolean));
    }
    const trace = await decisions.getSession(id);
    if (!trace)
      return plain(
        [`No session ${echo(id)} found (it may be past retention).`, await recentHint()].filter(Boolean),
      );
    return formatReasoning(trace, { grafana: providers.grafana }).replies;
  }

  async function lastDecision(args: string): Promise<BotReply[]> {
    if (!decisions) return [{ text: "Decision traces are not enabled in this process (decisions.enabled)." }];
    const strategyId = args.split(/\s+/)[0] ?? "";
    if (strategyId === "") {
      const recent = await decisions.recentSessions({ limit: 50 });
      const strategies = [...new Set(recent.map((s) => s.strategyId))];
      return [
        {
          text: `Usage: /last_decision &lt;strategy_id&gt;${
            strategies.length ? `\nStrategies with recent sessions: ${strategies.map(code).join(", ")}` : ""
          }`,
        },
      ];
    }
    const trace = await decisions.latestDecision(strategyId);
    if (!trace) return [{ text: `No decision recorded for strategy ${echo(strategyId)}.` }];
    return formatReasoning(trace, { title: "Latest decision", grafana: providers.grafana }).replies;
  }

  async function portfolio(): Promise<BotReply[]> {
    const positions = providers.portfolio ? await providers.portfolio() : undefined;
    if (!positions) return [{ text: "This process does not report positions to the bot." }];
    const symbols = positions.filter((p) => p.quantity !== 0).map((p) => p.symbol);
    let reasons = new Map<string, SessionTrace>();
    let note = "";
    if (decisions && symbols.length > 0) {
      try {
        reasons = await decisions.latestDecisionsBySymbol(symbols);
      } catch (error) {
        note = `⚠️ Reasoning unavailable: ${escapeHtml(describeError(error))}`;
      }
    }
    return plain([...formatPortfolio(positions, reasons), note].filter(Boolean));
  }

  async function status(): Promise<BotReply[]> {
    const state = providers.status ? await providers.status() : undefined;
    return plain(formatStatus(state, alerter?.active(), health?.snapshot()));
  }

  function acknowledge(alertId: string, actor: Actor, via: "command" | "button"): AckResult {
    const audit = {
      chat_id: actor.chatId,
      user_id: actor.userId,
      username: actor.username,
      alert_id: alertId,
      via,
      audit: true,
    };
    if (!alerter) return { ok: false, message: "Alerts are not enabled in this process." };
    try {
      const alert = alerter.acknowledge(alertId, actorName(actor));
      log.info("alert acknowledged from Telegram", { ...audit, rule: alert.rule });
      return { ok: true, alert };
    } catch (error) {
      log.warn("alert acknowledgement from Telegram refused", { ...audit, error: describeError(error) });
      if (error instanceof TicktraceError && error.code === "NOT_FOUND") {
        return {
          ok: false,
          message: `No active alert has id ${echo(alertId)} (resolved already?). /alerts lists them.`,
        };
      }
      return {
        ok: false,
        message: `Could not acknowledge ${echo(alertId)}: ${escapeHtml(clip(describeError(error), 300))}`,
      };
    }
  }

  const commands: Record<string, (args: string, actor: Actor) => Promise<BotReply[]> | BotReply[]> = {
    reasoning,
    last_decision: lastDecision,
    portfolio,
    status,
    health: () =>
      health ? plain(formatHealth(health.snapshot())) : [{ text: "No health registry in this process." }],
    alerts: () =>
      alerter ? plain(formatAlerts(alerter.active())) : [{ text: "Alerts are not enabled in this process." }],
    ack(args, actor) {
      const id = args.split(/\s+/)[0] ?? "";
      if (id === "") return [{ text: "Usage: /ack &lt;alert_id&gt; (/alerts lists the ids)" }];
      const result = acknowledge(id, actor, "command");
      return [
        {
          text: result.ok
            ? `✔️ Acknowledged ${b(result.alert.title)} (${code(result.alert.id)}).`
            : result.message,
        },
      ];
    },
    help: () => [{ text: HELP_TEXT }],
    start: () => [{ text: HELP_TEXT }],
  };

  return {
    async run(name, args, actor) {
      const handler = commands[name];
      if (!handler) return [{ text: `Unknown command /${escapeHtml(name)}. /help lists the commands.` }];
      try {
        return await handler(args.trim(), actor);
      } catch (error) {
        log.warn("bot command failed", { command: name, chat_id: actor.chatId, error: describeError(error) });
        return failure(`run /${name}`, error);
      }
    },
    async reasoningPage(sessionId, page) {
      const trace = await decisions?.getSession(sessionId);
      if (!trace) return undefined;
      return formatReasoning(trace, { page, grafana: providers.grafana }).replies[0];
    },
    acknowledge,
  };
}
