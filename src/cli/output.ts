import pc from "picocolors";
import type { AlertLevel } from "../alert-model/types.js";

/** Where a command writes; the real process streams, or buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether to colour (default: picocolors' own detection of a TTY, NO_COLOR and FORCE_COLOR). */
  color?: boolean;
}

export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(io: CliIo): Colors {
  return pc.createColors(io.color ?? pc.isColorSupported);
}

/** Colours a level name: CRITICAL red on bold, ERROR red, WARNING yellow, INFO cyan. */
export function colorLevel(c: Colors, level: string): string {
  switch (level as AlertLevel) {
    case "CRITICAL":
      return c.bold(c.red(level));
    case "ERROR":
      return c.red(level);
    case "WARNING":
      return c.yellow(level);
    case "INFO":
      return c.cyan(level);
    default:
      return level;
  }
}

/** Colours a health status: healthy/up green, degraded yellow, anything else red. */
export function colorStatus(c: Colors, status: string): string {
  if (status === "healthy" || status === "up") return c.green(status);
  if (status === "degraded") return c.yellow(status);
  return c.red(status);
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const visibleLength = (text: string): number => text.replace(ANSI, "").length;

/** A plain text table: a header row, then rows; columns padded to the widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], c: Colors): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)),
      )
      .join("  ")
      .trimEnd();
  return [c.bold(line(header)), ...rows.map(line)].join("\n") + "\n";
}

/** Alert labels as `status` and `tail` show them: `exchange=simex,symbol=BTC/USDT`. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
