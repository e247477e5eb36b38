/**
 * Dashboard panel queries that return no data from the live stack after the flash-crash run of
 * test/stack/pipeline.test.ts, each with the reason. Keep it short: a query missing here that
 * returns nothing fails the test, and so does one listed here that does return data.
 * Keys are `<dashboard title> / <panel title>`.
 */
export const EMPTY_PANELS: Record<string, string> = {
  "Latency / Slowest traces (Tempo)": "TraceQL needs Tempo, which this stack does not build (docs/stack.md)",
};
