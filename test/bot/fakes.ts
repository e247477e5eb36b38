import { Writable } from "node:stream";
import winston from "winston";
import type { Alert, Alerter, RaiseAlertInput } from "../../src/alert-model/types.js";
import { TicktraceError } from "../../src/errors.js";
import { createLogger, type Logger } from "../../src/logging/logger.js";

/** An in-memory Alerter: alerts raised by the test, acknowledgements recorded. */
export function createFakeAlerter(now = () => Date.UTC(2026, 0, 1, 12)) {
  const alerts: Alert[] = [];
  let next = 1;
  const alerter: Alerter & { acknowledgements: { id: string; by?: string }[] } = {
    acknowledgements: [],
    raise(input: RaiseAlertInput) {
      const alert: Alert = {
        id: `al-${next++}`,
        fingerprint: `${input.rule}|${JSON.stringify(input.labels ?? {})}`,
        rule: input.rule,
        level: input.level,
        title: input.title,
        message: input.message,
        timestamp: new Date(now()).toISOString(),
        labels: input.labels ?? {},
        fields: input.fields ?? {},
        status: "firing",
        acknowledged: false,
      };
      alerts.unshift(alert);
      return alert;
    },
    resolve() {
      return undefined;
    },
    acknowledge(id, by) {
      const index = alerts.findIndex((a) => a.id === id);
      if (index === -1) throw new TicktraceError("NOT_FOUND", `no firing alert has id "${id}"`);
      const acked: Alert = { ...alerts[index]!, acknowledged: true, ...(by ? { acknowledgedBy: by } : {}) };
      alerts[index] = acked;
      alerter.acknowledgements.push({ id, ...(by ? { by } : {}) });
      return acked;
    },
    active: () => [...alerts],
  };
  return alerter;
}

/** A JSON logger whose entries the test reads. */
export function createCapturingLogger(): { logger: Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) entries.push(JSON.parse(line));
      callback();
    },
  });
  return {
    logger: createLogger({ level: "debug", transports: [new winston.transports.Stream({ stream })] }),
    entries,
  };
}
