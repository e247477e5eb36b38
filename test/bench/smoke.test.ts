import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { interleave, percentile, summarize } from "../../bench/lib.js";
import { END_MARKER, START_MARKER, blockMarkers, renderFigures, spliceFigures } from "../../bench/report.js";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

interface StoredResults {
  machine: { cpu: string; cores: number; memoryBytes: number };
  node: string;
  date: string;
  mode: string;
  command: string;
  durationSeconds: number;
  figures: {
    name: string;
    value: number | null;
    unit: string;
    baseline: number | null;
    ratio: number | null;
    target: string | null;
    met: boolean | null;
    note?: string;
  }[];
}

async function bench(args: string[]): Promise<StoredResults> {
  const out = join(mkdtempSync(join(tmpdir(), "ticktrace-bench-test-")), "results.json");
  await run(TSX, ["bench/run.ts", ...args, "--out", out], { cwd: ROOT, timeout: 90_000 });
  return JSON.parse(readFileSync(out, "utf8")) as StoredResults;
}

describe("npm run bench", () => {
  it("--quick --only metric-record writes JSON with the machine, Node version, date and figures", async () => {
    const results = await bench(["--quick", "--only", "metric-record"]);
    expect(results.machine.cpu.length).toBeGreaterThan(0);
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.memoryBytes).toBeGreaterThan(0);
    expect(results.node).toBe(process.version);
    expect(Number.isNaN(Date.parse(results.date))).toBe(false);
    expect(results.mode).toBe("quick");
    expect(results.command).toBe("npm run bench -- --quick --only metric-record");
    const names = results.figures.map((f) => f.name);
    expect(names).toContain("metric record: counter add (vs prom-client)");
    expect(names).toContain("metric record: histogram record (vs raw sdk-metrics)");
    expect(names).toContain("metric record: gauge set (vs prom-client)");
    for (const f of results.figures) {
      expect(typeof f.value).toBe("number");
      expect(f.value).toBeGreaterThan(0);
      expect(["ns/op", "ns/value"]).toContain(f.unit);
      expect(typeof f.baseline).toBe("number");
      expect(f.ratio).toBeCloseTo(f.value! / f.baseline!, 6);
      if (f.target === null) expect(f.met).toBeNull();
      else expect(typeof f.met).toBe("boolean");
    }
  }, 120_000);

  it("records an unknown --only name as a not-measured row instead of failing", async () => {
    const results = await bench(["--quick", "--only", "no-such-benchmark"]);
    expect(results.figures).toEqual([
      {
        name: "no-such-benchmark",
        value: null,
        unit: "",
        baseline: null,
        ratio: null,
        target: null,
        met: null,
        note: "not measured: no benchmark or module named no-such-benchmark",
      },
    ]);
  }, 120_000);
});

describe("bench/lib", () => {
  it("percentile interpolates between ranks", () => {
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 25)).toBe(20);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    expect(summarize([1, 2, 3, 4, 100])).toMatchObject({ n: 5, median: 3, mad: 1, min: 1, max: 100 });
  });

  it("interleave rotates which subject goes first and discards warm-up rounds", async () => {
    const order: string[] = [];
    let a = 0;
    let b = 100;
    const result = await interleave({
      rounds: 3,
      warmupRounds: 1,
      subjects: {
        a: () => (order.push("a"), ++a),
        b: () => (order.push("b"), ++b),
      },
    });
    expect(order).toEqual(["a", "b", "b", "a", "a", "b", "b", "a"]);
    expect(result.samples).toEqual({ a: [2, 3, 4], b: [102, 103, 104] });
    expect(result.summaries.a.median).toBe(3);
  });
});

describe("bench/report", () => {
  it("replaces only the generated block of BENCHMARKS.md", () => {
    const block = renderFigures({
      machine: {
        cpu: "Test CPU",
        cores: 2,
        memoryBytes: 2 * 1024 ** 3,
        os: "linux 6",
        loadavgAtStart: [0.5, 0.4, 0.3],
        freeMemoryBytesAtStart: 1,
      },
      node: "v20.0.0",
      date: "2026-01-01T00:00:00.000Z",
      mode: "quick",
      only: null,
      command: "npm run bench -- --quick",
      durationSeconds: 42,
      figures: [
        {
          name: "a | b",
          value: 1234.5,
          unit: "ns/op",
          baseline: 2000,
          ratio: 0.61725,
          target: "faster",
          met: true,
        },
        {
          name: "missing",
          value: null,
          unit: "",
          baseline: null,
          ratio: null,
          target: "<= 5 ms",
          met: null,
          note: "not measured: x",
        },
      ],
    });
    expect(block).toContain("| a \\| b | 1235 | ns/op | 2000 | 0.617 | faster | yes |  |");
    expect(block).toContain("| missing | n/a |  | n/a | n/a | <= 5 ms | - | not measured: x |");
    expect(block).toContain("Test CPU, 2 cores, 2.0 GiB");
    const doc = `# Benchmarks\n\nintro\n\n${START_MARKER}\nold\n${END_MARKER}\n\n## Analysis\nkept\n`;
    const next = spliceFigures(doc, block);
    expect(next).toContain("intro");
    expect(next).toContain("## Analysis\nkept");
    expect(next).not.toContain("\nold\n");
    expect(next).toContain("| missing |");
  });

  it("a named block is replaced on its own, leaving the main block as it was", () => {
    const markers = blockMarkers("tick-trace", "bench/results/tick-trace.json");
    expect(markers.start).toBe(
      "<!-- figures:tick-trace:start (generated by bench/report.ts from bench/results/tick-trace.json) -->",
    );
    const doc = `${START_MARKER}\nmain\n${END_MARKER}\n\n${markers.start}\nold\n${markers.end}\n`;
    const next = spliceFigures(doc, `${markers.start}\nnew\n${markers.end}`, markers);
    expect(next).toBe(`${START_MARKER}\nmain\n${END_MARKER}\n\n${markers.start}\nnew\n${markers.end}\n`);
  });
});
