/**
 * What the bot says, as pure functions from data to Telegram HTML. No I/O: every reply is tested
 * by comparing text. Every piece of outside text goes through `escapeHtml`; tags only wrap short
 * labels at the start of a block, so a long block can be cut without breaking a tag.
 */
import { formatNumber } from "../format/number.js";
import { escapeHtml, splitMessage, TELEGRAM_MAX_MESSAGE_CHARS } from "../format/telegram-html.js";
import { traceLink, type GrafanaLinkOptions } from "../format/trace-link.js";
import type { Alert, AlertLevel } from "../alert-model/types.js";
import type { DecisionSummary, SessionEvent, SessionRecord, SessionTrace } from "../decisions/types.js";
import type { ComponentReport, HealthReport } from "../health/registry.js";
import { forEachComponent } from "../health/report.js";

/** One message to send: HTML text and optional inline buttons. */
export interface BotReply {
  text: string;
  buttons?: InlineButton[][];
}

export interface InlineButton {
  text: string;
  callbackData: string;
}

/** Items (steps, tool calls, usage, decision) per page of `/reasoning`. */
export const REASONING_PAGE_SIZE = 10;

/** Callback data of a `/reasoning` page button: `rsn:<session id>:<page>` (page from 1). */
export const reasoningCallback = (sessionId: string, page: number): string => `rsn:${sessionId}:${page}`;

/** Parses `rsn:<id>:<page>`; undefined for anything else. */
export function parseReasoningCallback(data: string): { sessionId: string; page: number } | undefined {
  const match = /^rsn:(.+):(\d+)$/.exec(data);
  if (!match) return undefined;
  const [, sessionId = "", page] = match;
  return { sessionId, page: Number(page) };
}

/** Bold, escaped. */
export const b = (text: string): string => `<b>${escapeHtml(text)}</b>`;
/** Monospace, escaped (ids, so they copy with a tap). */
export const code = (text: string): string => `<code>${escapeHtml(text)}</code>`;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** `12,345.67`: money and prices in the bot's replies. */
const amount = (value: number, decimals = 2): string =>
  formatNumber(value, { decimals, fixed: true, grouping: true });

const signed = (value: number) => `${value >= 0 ? "+" : ""}${amount(value)}`;
const usd = (value: number) =>
  `$${value < 0.01 && value > 0 ? value.toPrecision(2) : amount(value, value < 1 ? 4 : 2)}`;

/** Shortens plain text to `max` characters, saying how long it was. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (${text.length} chars)`;
  return `${text.slice(0, Math.max(0, max - note.length))}${note}`;
}

/** The decision on one line: action, regime, confidence, risk, approved or rejected and why. */
export function decisionLine(decision: DecisionSummary): string {
  const parts = [
    code(decision.action),
    `regime ${escapeHtml(decision.regime)}`,
    `confidence ${decision.confidence.toFixed(2)}`,
  ];
  if (decision.riskScore !== undefined) parts.push(`risk ${decision.riskScore.toFixed(2)}`);
  const verdict = decision.approved ? "✅ approved" : "⛔ rejected";
  return `${parts.join(" · ")} · ${verdict}${decision.reason ? `: ${escapeHtml(decision.reason)}` : ""}`;
}

/** One event as a block; `step` is its number among the thinking steps; `maxChars` caps outside text. */
function eventBlock(event: SessionEvent, step: number, maxChars: number): string {
  switch (event.kind) {
    case "step":
      return `${b(`${step}.`)} ${escapeHtml(clip(event.text, maxChars))}`;
    case "tool_call": {
      const lines = [
        `🔧 ${b("Tool")}: ${code(event.name)}`,
        `   Args: ${escapeHtml(clip(JSON.stringify(event.args), maxChars))}`,
      ];
      if (event.error !== undefined) lines.push(`   ⚠️ failed: ${escapeHtml(clip(event.error, maxChars))}`);
      else if (event.resultChars > 0) {
        // Tool responses are collapsed: a one-line preview and the size.
        const preview = clip(event.result.replace(/\s+/g, " "), Math.min(80, maxChars));
        lines.push(
          `   ↳ result (${event.resultChars} chars${event.truncated ? ", truncated in storage" : ""}): ${escapeHtml(preview)}`,
        );
      }
      return lines.join("\n");
    }
    case "model_usage":
      return `📊 Tokens: ${event.inputTokens + event.outputTokens} (in ${event.inputTokens} / out ${event.outputTokens}) · ${escapeHtml(
        `${event.provider}/${event.model}`,
      )}${event.costUsd > 0 ? ` · ${usd(event.costUsd)}` : ""}`;
    case "decision":
      return `🎯 ${b("Decision")}: ${decisionLine(event)}`;
  }
}

function sessionHeader(session: SessionRecord, title: string): string {
  const facts = [`agent ${escapeHtml(session.agent)}`, `strategy ${escapeHtml(session.strategyId)}`];
  if (session.symbol) facts.push(escapeHtml(session.symbol));
  facts.push(escapeHtml(session.status), iso(session.startedAtMs));
  return `🧠 ${b(title)} · session ${code(session.id)}\n${facts.join(" · ")}`;
}

function sessionFooter(session: SessionRecord, grafana: GrafanaLinkOptions | undefined): string {
  const parts: string[] = [];
  if (session.inputTokens + session.outputTokens > 0) {
    parts.push(`Σ tokens ${session.inputTokens + session.outputTokens}`);
    if (session.costUsd > 0) parts.push(`cost ${usd(session.costUsd)}`);
  }
  if (session.error) parts.push(`error: ${escapeHtml(clip(session.error, 300))}`);
  if (session.traceId) {
    const link = traceLink(grafana, session.traceId);
    parts.push(
      link
        ? `<a href="${escapeHtml(link)}">trace ${escapeHtml(session.traceId)}</a>`
        : `trace ${code(session.traceId)}`,
    );
  }
  return parts.join(" · ");
}

export interface ReasoningView {
  /** The messages to send (several only when one page is longer than a message). */
  replies: BotReply[];
  page: number;
  pages: number;
}

/**
 * `/reasoning`: numbered thinking steps, tool calls with their arguments (responses collapsed),
 * token usage and the decision. Up to {@link REASONING_PAGE_SIZE} items show at once; longer
 * sessions get one page per message with ◀/▶ buttons, each item shortened so the page fits one
 * message. A short session whose text is long is split over several messages instead.
 */
export function formatReasoning(
  trace: SessionTrace,
  options: { page?: number; title?: string; grafana?: GrafanaLinkOptions | undefined; limit?: number } = {},
): ReasoningView {
  const limit = options.limit ?? TELEGRAM_MAX_MESSAGE_CHARS;
  const { session, events } = trace;
  const pages = Math.max(1, Math.ceil(events.length / REASONING_PAGE_SIZE));
  const page = Math.min(pages, Math.max(1, options.page ?? 1));
  const header =
    sessionHeader(session, options.title ?? "Agent reasoning") +
    (pages > 1 ? ` · page ${page}/${pages}` : "");
  const footer = sessionFooter(session, options.grafana);
  const stepNumbers = new Map<number, number>();
  let step = 0;
  for (const event of events) if (event.kind === "step") stepNumbers.set(event.seq, ++step);
  const items = events.slice((page - 1) * REASONING_PAGE_SIZE, page * REASONING_PAGE_SIZE);

  if (events.length === 0) {
    return {
      replies: [{ text: [header, "<i>No steps recorded.</i>", footer].filter(Boolean).join("\n\n") }],
      page,
      pages,
    };
  }
  if (pages === 1) {
    const blocks = [
      header,
      ...items.map((e) => eventBlock(e, stepNumbers.get(e.seq) ?? 0, Number.MAX_SAFE_INTEGER)),
      footer,
    ];
    return { replies: splitMessage(blocks.filter(Boolean), limit).map((text) => ({ text })), page, pages };
  }
  // Paged: the page is edited in place, so it must fit one message. Long items are shortened
  // to the largest common cap that fits (short items keep their full text).
  const render = (cap: number) =>
    [header, ...items.map((e) => eventBlock(e, stepNumbers.get(e.seq) ?? 0, cap)), footer]
      .filter(Boolean)
      .join("\n\n");
  let text = render(Number.MAX_SAFE_INTEGER);
  if (text.length > limit) {
    let low = 20;
    let high = limit;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (render(mid).length <= limit) low = mid;
      else high = mid - 1;
    }
    text = render(low);
  }
  const nav: InlineButton[] = [];
  if (page > 1) nav.push({ text: "◀ Prev", callbackData: reasoningCallback(session.id, page - 1) });
  if (page < pages) nav.push({ text: "Next ▶", callbackData: reasoningCallback(session.id, page + 1) });
  return { replies: [{ text: text.slice(0, limit), buttons: [nav] }], page, pages };
}

/** Lists recent sessions for a "which id?" hint. */
export function recentSessionsHint(sessions: readonly SessionRecord[]): string {
  if (sessions.length === 0) return "No sessions have been recorded yet.";
  const lines = sessions.map(
    (s) =>
      `• ${code(s.id)} · ${escapeHtml(s.strategyId)}${s.symbol ? ` · ${escapeHtml(s.symbol)}` : ""}${
        s.decision ? ` · ${escapeHtml(s.decision.action)}` : ""
      } · ${iso(s.startedAtMs)}`,
  );
  return `Recent sessions:\n${lines.join("\n")}`;
}

/** A position as `/portfolio` shows it; the trading side provides these. */
export interface PortfolioPosition {
  symbol: string;
  /** Signed quantity in the base asset; 0 is flat (not shown). */
  quantity: number;
  exchange?: string;
  strategyId?: string;
  entryPrice?: number;
  markPrice?: number;
  unrealizedPnl?: number;
}

/** `/portfolio`: open positions, each with the reasoning of the latest decision on its symbol. */
export function formatPortfolio(
  positions: readonly PortfolioPosition[],
  reasons: ReadonlyMap<string, SessionTrace>,
): string[] {
  const open = positions.filter((p) => p.quantity !== 0 && Number.isFinite(p.quantity));
  if (open.length === 0) return ["💼 <b>Portfolio</b>\n\nNo open positions."];
  const blocks = [`💼 ${b("Portfolio")} · ${open.length} open position${open.length === 1 ? "" : "s"}`];
  for (const position of open) {
    const side = position.quantity > 0 ? "long" : "short";
    const facts = [`${side} ${formatNumber(Math.abs(position.quantity), { decimals: 6, grouping: true })}`];
    if (position.entryPrice !== undefined) facts.push(`entry ${amount(position.entryPrice)}`);
    if (position.markPrice !== undefined) facts.push(`mark ${amount(position.markPrice)}`);
    if (position.unrealizedPnl !== undefined) facts.push(`uPnL ${signed(position.unrealizedPnl)}`);
    const lines = [
      `${b(position.symbol)}${position.exchange ? ` (${escapeHtml(position.exchange)})` : ""}: ${facts.join(" · ")}`,
    ];
    const reason = reasons.get(position.symbol);
    if (reason?.session.decision) {
      lines.push(`Why: ${decisionLine(reason.session.decision)}`);
      const steps = reason.events.filter((e) => e.kind === "step");
      for (const [i, event] of steps.slice(0, 3).entries())
        lines.push(`${i + 1}. ${escapeHtml(clip(event.text, 300))}`);
      lines.push(
        `Full reasoning: /reasoning ${escapeHtml(reason.session.id)} (${iso(reason.session.startedAtMs)})`,
      );
    } else {
      lines.push("<i>No recorded decision for this symbol.</i>");
    }
    blocks.push(lines.join("\n"));
  }
  return blocks;
}

/** What the trading process reports for `/status`. */
export interface BotStatus {
  /** `running`, `paused`, `stopped`, `degraded`, ... */
  state: string;
  strategyId?: string;
  realizedPnlUsd?: number;
  unrealizedPnlUsd?: number;
  dailyPnlUsd?: number;
  breaker?: { active: boolean; reason?: string };
  /** Extra facts shown as they are (no secrets). */
  fields?: Record<string, string | number | boolean>;
}

const LEVEL_EMOJI: Record<AlertLevel, string> = { INFO: "ℹ️", WARNING: "⚠️", ERROR: "🔴", CRITICAL: "🚨" };
const STATE_EMOJI: Record<string, string> = {
  up: "🟢",
  degraded: "🟡",
  down: "🔴",
  healthy: "🟢",
  unhealthy: "🔴",
};

/** `/status`: running state, PnL, circuit breaker, open alerts. */
export function formatStatus(
  status: BotStatus | undefined,
  alerts: readonly Alert[] | undefined,
  health: HealthReport | undefined,
): string[] {
  const lines: string[] = [`📈 ${b("Status")}`];
  if (status) {
    lines.push(
      `State: ${b(status.state)}${status.strategyId ? ` · strategy ${escapeHtml(status.strategyId)}` : ""}`,
    );
    const pnl: string[] = [];
    if (status.realizedPnlUsd !== undefined) pnl.push(`realized ${signed(status.realizedPnlUsd)}`);
    if (status.unrealizedPnlUsd !== undefined) pnl.push(`unrealized ${signed(status.unrealizedPnlUsd)}`);
    if (status.dailyPnlUsd !== undefined) pnl.push(`today ${signed(status.dailyPnlUsd)}`);
    if (pnl.length > 0) lines.push(`PnL (USD): ${pnl.join(" · ")}`);
    if (status.breaker) {
      lines.push(
        status.breaker.active
          ? `Circuit breaker: 🔴 ${b("TRIPPED")}${status.breaker.reason ? ` (${escapeHtml(status.breaker.reason)})` : ""}`
          : "Circuit breaker: 🟢 armed",
      );
    }
    for (const [key, value] of Object.entries(status.fields ?? {}))
      lines.push(`${escapeHtml(key)}: ${escapeHtml(String(value))}`);
  } else {
    lines.push("<i>The trading process does not report its state to the bot.</i>");
  }
  if (health) lines.push(`Health: ${STATE_EMOJI[health.status] ?? ""} ${escapeHtml(health.status)}`);
  if (alerts) {
    const open = alerts.filter((a) => a.status === "firing");
    const unacked = open.filter((a) => !a.acknowledged).length;
    lines.push(
      open.length === 0
        ? "Open alerts: none"
        : `Open alerts: ${open.length} (${unacked} unacknowledged) · /alerts`,
    );
  }
  return [lines.join("\n")];
}

function componentLine(name: string, report: ComponentReport, indent: string): string {
  const extras: string[] = [];
  if (report.detail) extras.push(report.detail);
  if (report.last_run_ago) extras.push(`last run ${report.last_run_ago}`);
  if (report.latency_ms !== undefined) extras.push(`${report.latency_ms} ms`);
  return `${indent}${STATE_EMOJI[report.status] ?? "⚪"} ${escapeHtml(name)}${extras.length ? `: ${escapeHtml(extras.join(", "))}` : ""}`;
}

/** `/health`: the health registry's snapshot, grouped as on `/health`. */
export function formatHealth(report: HealthReport): string[] {
  const lines = [
    `🩺 ${b("Health")}: ${STATE_EMOJI[report.status] ?? ""} ${escapeHtml(report.status)} · ready ${report.ready ? "yes" : "no"} · up ${report.uptime_seconds}s`,
  ];
  let lastGroup: string | undefined;
  forEachComponent(report, (name, component, group) => {
    if (group !== undefined && group !== lastGroup) lines.push(b(group));
    lastGroup = group;
    lines.push(componentLine(name, component, group === undefined ? "" : "  "));
  });
  return [lines.join("\n")];
}

/** `/alerts`: firing alerts, newest first, with the id `/ack` takes. */
export function formatAlerts(alerts: readonly Alert[]): string[] {
  const open = alerts.filter((a) => a.status === "firing");
  if (open.length === 0) return ["✅ No active alerts."];
  const blocks = [`🔔 ${b("Active alerts")} · ${open.length}`];
  for (const alert of open) {
    const ack = alert.acknowledged
      ? ` · ✔️ acknowledged${alert.acknowledgedBy ? ` by ${escapeHtml(alert.acknowledgedBy)}` : ""}`
      : "";
    blocks.push(
      `${LEVEL_EMOJI[alert.level]} ${b(alert.title)}\n${escapeHtml(clip(alert.message, 500))}\nid ${code(alert.id)} · since ${escapeHtml(alert.timestamp)}${ack}${
        alert.acknowledged ? "" : `\n/ack ${escapeHtml(alert.id)}`
      }`,
    );
  }
  return blocks;
}

export const HELP_TEXT = [
  `🤖 ${b("ticktrace bot")}`,
  [
    "/reasoning &lt;session_id&gt; — the agent's reasoning, step by step",
    "/last_decision &lt;strategy_id&gt; — the latest decision of a strategy and why",
    "/portfolio — open positions and why the agent holds them",
    "/status — running state, PnL, circuit breaker, open alerts",
    "/health — component health",
    "/alerts — active alerts",
    "/ack &lt;alert_id&gt; — acknowledge an alert (stops repeats)",
    "/help — this list",
  ].join("\n"),
].join("\n\n");

/** The bot's commands for `setMyCommands` (the menu in Telegram clients). */
export const BOT_COMMANDS: readonly { command: string; description: string }[] = [
  { command: "reasoning", description: "Agent reasoning for a session id" },
  { command: "last_decision", description: "Latest decision of a strategy" },
  { command: "portfolio", description: "Open positions and why" },
  { command: "status", description: "Running state, PnL, breaker, alerts" },
  { command: "health", description: "Component health" },
  { command: "alerts", description: "Active alerts" },
  { command: "ack", description: "Acknowledge an alert by id" },
  { command: "help", description: "List commands" },
];
