/**
 * Rules across keys (a channel that is on needs its secret, ...), apart from the zod schema so
 * the fast config check (shape.ts) applies them without loading zod. The schema's refinement
 * reports each issue at its path.
 */
/**
 * The keys the rules read. Written out rather than taken from `Config`, which is inferred from
 * the schema whose refinement calls these rules.
 */
export interface ConfigRuleInput {
  alerts: {
    slack: { enabled: boolean; webhook_url: string };
    telegram: { enabled: boolean; bot_token: string; chat_id: string };
  };
  decisions: { enabled: boolean; store: string; postgres_url: string };
  bot: { enabled?: boolean | undefined };
}

/** One broken rule: the key path it concerns and what is wrong. */
export interface ConfigRuleIssue {
  path: string[];
  message: string;
}

/** The cross-key rules a parsed config breaks; empty when it keeps them all. */
export function configRuleIssues(config: ConfigRuleInput): ConfigRuleIssue[] {
  const issues: ConfigRuleIssue[] = [];
  const requireWhen = (enabled: boolean, value: string, path: string[], what: string) => {
    if (enabled && value.trim() === "") {
      issues.push({
        path,
        message: `${what} is required when ${path.slice(0, -1).join(".")}.enabled is true`,
      });
    }
  };
  const { slack, telegram } = config.alerts;
  requireWhen(
    slack.enabled,
    slack.webhook_url,
    ["alerts", "slack", "webhook_url"],
    "a Slack incoming-webhook URL",
  );
  requireWhen(
    telegram.enabled,
    telegram.bot_token,
    ["alerts", "telegram", "bot_token"],
    "a Telegram bot token",
  );
  requireWhen(telegram.enabled, telegram.chat_id, ["alerts", "telegram", "chat_id"], "a Telegram chat id");
  if (slack.enabled && slack.webhook_url !== "" && !/^https?:\/\//.test(slack.webhook_url)) {
    issues.push({ path: ["alerts", "slack", "webhook_url"], message: "expected an http(s) URL" });
  }
  if (
    config.decisions.enabled &&
    config.decisions.store === "postgres" &&
    config.decisions.postgres_url === ""
  ) {
    issues.push({
      path: ["decisions", "postgres_url"],
      message: "a PostgreSQL URL is required when decisions.store is postgres",
    });
  }
  if (config.bot.enabled === true && config.alerts.telegram.bot_token === "") {
    issues.push({
      path: ["bot", "enabled"],
      message: "the bot needs alerts.telegram.bot_token (and api_url) to be set",
    });
  }
  return issues;
}
