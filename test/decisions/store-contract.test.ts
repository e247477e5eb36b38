import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import {
  createPostgresDecisionStore,
  createSqliteDecisionStore,
  type DecisionStore,
  type SessionEvent,
  type SessionRecord,
} from "../../src/decisions/index.js";
import { TicktraceError } from "../../src/errors.js";
import { REFUSING_PORT } from "../support/processes.js";
import { startPgCluster, type PgCluster } from "./pg-cluster.js";

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);

function session(id: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    agent: "market_maker",
    strategyId: "mm-btc",
    status: "completed",
    startedAtMs: T0,
    endedAtMs: T0 + 5,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    eventCount: 0,
    ...overrides,
  };
}

const events = (id: string): SessionEvent[] => [
  {
    sessionId: id,
    seq: 1,
    timeMs: T0 + 1,
    kind: "step",
    text: "Spread 12 bps > 8 bps: quote both sides <b>&</b> 🚀",
  },
  {
    sessionId: id,
    seq: 2,
    timeMs: T0 + 2,
    kind: "tool_call",
    name: "check_risk",
    args: { symbol: "BTC/USDT", qty: 0.01 },
    result: "x".repeat(100),
    resultChars: 5000,
    truncated: true,
    durationMs: 1.5,
  },
  {
    sessionId: id,
    seq: 3,
    timeMs: T0 + 3,
    kind: "model_usage",
    provider: "openai",
    model: "gpt-4o-mini",
    operation: "chat",
    inputTokens: 1200,
    outputTokens: 300,
    costUsd: 0.00036,
  },
  {
    sessionId: id,
    seq: 4,
    timeMs: T0 + 4,
    kind: "decision",
    action: "quote",
    regime: "ranging",
    confidence: 0.8,
    approved: false,
    riskScore: 0.9,
    symbol: "BTC/USDT",
    reason: "position limit",
    details: { position: 1.2, limit: 1 },
  },
];

function contract(name: string, make: () => Promise<DecisionStore>) {
  describe(`${name} decision store`, () => {
    let store: DecisionStore;
    beforeAll(async () => {
      store = await make();
      await store.init();
      await store.init(); // idempotent
    });
    afterAll(async () => {
      await store.close();
      await store.close();
    });

    it("round-trips a session and its events in order", async () => {
      const decision = {
        action: "quote",
        regime: "ranging",
        confidence: 0.8,
        approved: false,
        riskScore: 0.9,
        symbol: "BTC/USDT",
      };
      const s = session("rt-1", {
        symbol: "BTC/USDT",
        inputTokens: 1200,
        outputTokens: 300,
        costUsd: 0.00036,
        eventCount: 4,
        decision,
      });
      await store.write({ sessions: [s], events: events("rt-1") });
      const got = await store.getSession("rt-1");
      expect(got?.session).toEqual(s);
      expect(got?.events).toEqual(events("rt-1"));
    });

    it("ignores a retried batch and updates the session row", async () => {
      const s = session("rt-2", { status: "running" });
      delete s.endedAtMs;
      await store.write({ sessions: [s], events: events("rt-2").slice(0, 2) });
      await store.write({
        sessions: [{ ...s, status: "failed", error: "boom", endedAtMs: T0 + 9 }],
        events: events("rt-2"),
      });
      const got = await store.getSession("rt-2");
      expect(got?.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(got?.session.status).toBe("failed");
      expect(got?.session.error).toBe("boom");
      expect(got?.session.endedAtMs).toBe(T0 + 9);
    });

    it("answers undefined for an unknown session", async () => {
      expect(await store.getSession("nope")).toBeUndefined();
      expect(await store.latestDecision("no-such-strategy")).toBeUndefined();
    });

    it("finds the latest decision by strategy and by symbol, skipping sessions without one", async () => {
      const decide = (symbol: string, action: string) => ({
        action,
        regime: "trending_up",
        confidence: 0.5,
        approved: true,
        symbol,
      });
      await store.write({
        sessions: [
          session("q-old", {
            strategyId: "s-q",
            symbol: "ETH/USDT",
            startedAtMs: T0 + 100,
            decision: decide("ETH/USDT", "old"),
          }),
          session("q-new", {
            strategyId: "s-q",
            symbol: "ETH/USDT",
            startedAtMs: T0 + 200,
            decision: decide("ETH/USDT", "new"),
          }),
          session("q-sol", {
            strategyId: "s-q",
            symbol: "SOL/USDT",
            startedAtMs: T0 + 150,
            decision: decide("SOL/USDT", "sol"),
          }),
          session("q-none", { strategyId: "s-q", symbol: "ETH/USDT", startedAtMs: T0 + 300 }),
        ],
        events: [{ sessionId: "q-new", seq: 1, timeMs: T0 + 200, kind: "step", text: "newest" }],
      });
      const latest = await store.latestDecision("s-q");
      expect(latest?.session.id).toBe("q-new");
      expect(latest?.events).toEqual([
        { sessionId: "q-new", seq: 1, timeMs: T0 + 200, kind: "step", text: "newest" },
      ]);
      const bySymbol = await store.latestDecisionsBySymbol(["ETH/USDT", "SOL/USDT", "DOGE/USDT"]);
      expect([...bySymbol.keys()]).toEqual(["ETH/USDT", "SOL/USDT"]);
      expect(bySymbol.get("ETH/USDT")?.session.decision?.action).toBe("new");
      expect(bySymbol.get("SOL/USDT")?.session.decision?.action).toBe("sol");
      const recent = await store.recentSessions({ strategyId: "s-q", limit: 2 });
      expect(recent.map((r) => r.id)).toEqual(["q-none", "q-new"]);
      expect((await store.recentSessions({ limit: 1 }))[0]?.id).toBe("q-none");
    });

    it("deletes sessions past retention together with their events", async () => {
      await store.write({
        sessions: [
          session("old-1", { startedAtMs: T0 - 40 * 86_400_000 }),
          session("young-1", { startedAtMs: T0 }),
        ],
        events: [...events("old-1"), ...events("young-1")],
      });
      const removed = await store.deleteOlderThan(T0 - 30 * 86_400_000);
      expect(removed).toBe(1);
      expect(await store.getSession("old-1")).toBeUndefined();
      expect((await store.getSession("young-1"))?.events).toHaveLength(4);
    });
  });
}

const tmp = mkdtempSync(join(tmpdir(), "ticktrace-decisions-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

contract("SQLite", () =>
  Promise.resolve(createSqliteDecisionStore({ path: join(tmp, "nested", "decisions.sqlite") })),
);

let cluster: PgCluster | undefined;
contract("PostgreSQL", async () => {
  cluster = await startPgCluster();
  return createPostgresDecisionStore({ url: cluster.url });
});
afterAll(() => cluster?.stop());

describe("PostgreSQL decision store", () => {
  it("keeps the session_events table with JSONB content", async () => {
    const client = new pg.Client({ connectionString: cluster!.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT kind, content->>'text' AS text FROM session_events WHERE session_id = 'rt-1' AND seq = 1",
      );
      expect(rows).toEqual([{ kind: "step", text: "Spread 12 bps > 8 bps: quote both sides <b>&</b> 🚀" }]);
    } finally {
      await client.end();
    }
  });

  it("fails as UNREACHABLE, without the password, when the server is down", async () => {
    const port = REFUSING_PORT;
    const store = createPostgresDecisionStore({
      url: `postgres://bot:s3cret-pw@127.0.0.1:${port}/db`,
      connectTimeoutMs: 1000,
    });
    const error = await store.init().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TicktraceError);
    expect((error as TicktraceError).code).toBe("UNREACHABLE");
    expect((error as TicktraceError).message).toContain(
      `decision store (postgres 127.0.0.1:${port}/db): init failed:`,
    );
    expect((error as TicktraceError).message).not.toContain("s3cret-pw");
    await store.close();
  });
});

describe("SQLite decision store", () => {
  it("uses WAL and rejects calls after close", async () => {
    const path = join(tmp, "wal.sqlite");
    const store = createSqliteDecisionStore({ path });
    await store.init();
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    await store.close();
    await expect(store.getSession("x")).rejects.toThrow(
      `decision store (sqlite ${path}): read failed: the store is closed`,
    );
  });
});
