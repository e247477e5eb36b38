/**
 * Data from outside the process is validated before use: alert-log lines (written by other
 * processes, torn writes, hand edits) and `/health` answers from whatever listens at the URL.
 */
import { createServer, type Server } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { foldAlertLines } from "../../src/alert-log/store.js";
import { parseAlertLogLine } from "../../src/alert-log/log-line.js";
import { TicktraceError } from "../../src/errors.js";
import { checkHealth } from "../../src/monitoring/health-check.js";
import { listenOnFreePort } from "../support/processes.js";

const SEED = 20_261_201;
const FULL = {
  timestamp: "2026-01-01T00:00:00.000Z",
  severity: "WARNING",
  rule: "exchange_disconnected",
  message: "simex down",
  context: { reason: "closed" },
  acknowledged: false,
  id: "a-1",
  fingerprint: "exchange_disconnected{exchange=simex}",
  status: "firing",
  title: "Exchange simex disconnected",
  labels: { exchange: "simex" },
  event: "firing",
  event_time: "2026-01-01T00:00:00.000Z",
};

describe("alert-log lines", () => {
  it("regression: a line with a key of the wrong type was merged into the alert; it is skipped", () => {
    const good = JSON.stringify(FULL);
    const bad = JSON.stringify({ id: "a-1", labels: "oops", acknowledged: "yes" });
    expect(parseAlertLogLine(bad)).toBeUndefined();
    const [alert] = foldAlertLines([good, bad]);
    expect(alert).toMatchObject({ id: "a-1", labels: { exchange: "simex" }, acknowledged: false });
  });

  it("random lines never throw, and what the fold returns is well-typed", () => {
    const line = fc.oneof(
      fc.string(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc
        .dictionary(fc.constantFrom(...Object.keys(FULL)), fc.jsonValue({ maxDepth: 1 }))
        .map((patch) => JSON.stringify({ ...FULL, ...patch })),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        for (const alert of foldAlertLines(lines)) {
          expect(typeof alert.id).toBe("string");
          expect(["INFO", "WARNING", "ERROR", "CRITICAL"]).toContain(alert.level);
          expect(typeof alert.acknowledged).toBe("boolean");
          for (const value of Object.values(alert.labels)) expect(typeof value).toBe("string");
        }
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});

describe("/health answers", () => {
  let server: Server;
  let url = "";
  let answer = "";
  beforeAll(async () => {
    server = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end(answer),
    );
    url = `http://127.0.0.1:${await listenOnFreePort(server)}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("regression: a 200 with a status but a malformed report was read as a health report; it is REJECTED", async () => {
    for (const body of [
      JSON.stringify({ status: "healthy", components: "everything" }),
      JSON.stringify({
        status: "healthy",
        ready: true,
        timestamp: "t",
        uptime_seconds: 1,
        components: { x: { status: "fine" } },
      }),
      "[]",
      "null",
    ]) {
      answer = body;
      const error = await checkHealth(url).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, body).toBeInstanceOf(TicktraceError);
      expect((error as TicktraceError).code).toBe("REJECTED");
    }
    answer = JSON.stringify({
      status: "degraded",
      ready: true,
      timestamp: "2026-01-01T00:00:00.000Z",
      uptime_seconds: 5,
      components: {
        exchanges: { simex: { status: "degraded", detail: "slow" } },
        telemetry: { status: "up" },
      },
    });
    const result = await checkHealth(url);
    expect(result.exitCode).toBe(1);
    expect(result.components.map((row) => row.name)).toEqual(["exchanges.simex", "telemetry"]);
  });
});
