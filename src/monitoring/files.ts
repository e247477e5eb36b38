import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TicktraceError } from "../errors.js";
import type { TimedSnapshot } from "./history.js";
import { monitoringSnapshotSchema } from "./snapshot.js";

/**
 * The files monitoring keeps: snapshots `<dir>/metrics_<timestamp>.json`. File names carry
 * their time, so listing, windowing and retention never need to open a file. (The alert
 * module's JSONL files are kept by their channel, `alerts.jsonl.retention_days`.)
 */

const DAY_MS = 86_400_000;
const SNAPSHOT_FILE = /^metrics_(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z\.json$/;

/** `metrics_2026-01-01T12-30-00-000Z.json`: the ISO time with `:` and `.` made file-safe. */
export function snapshotFileName(timeMs: number): string {
  return `metrics_${new Date(timeMs).toISOString().replace(/[:.]/g, "-")}.json`;
}

/** The time in a snapshot file name, or undefined for any other file. */
export function snapshotFileTime(name: string): number | undefined {
  const m = SNAPSHOT_FILE.exec(name);
  if (!m) return undefined;
  const [, day = "", hours = "", minutes = "", seconds = "", millis = ""] = m;
  const ms = Date.parse(`${day}T${hours}:${minutes}:${seconds}.${millis}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Writes a snapshot atomically (temp file + rename); creates the directory. Returns the path. */
export async function writeSnapshotFile(dir: string, timeMs: number, json: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, snapshotFileName(timeMs));
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, json);
  await rename(temp, path);
  return path;
}

/** Snapshot file names with their times, oldest first. Throws NOT_FOUND for a missing directory. */
export async function listSnapshotFiles(
  dir: string,
): Promise<{ name: string; path: string; timeMs: number }[]> {
  const names = await readDir(dir, "snapshot directory", "--snapshots-dir or monitoring.snapshot_dir");
  const out: { name: string; path: string; timeMs: number }[] = [];
  for (const name of names) {
    const timeMs = snapshotFileTime(name);
    if (timeMs !== undefined) out.push({ name, path: join(dir, name), timeMs });
  }
  return out.sort((a, b) => a.timeMs - b.timeMs);
}

export interface ReadSnapshotsResult {
  snapshots: TimedSnapshot[];
  /** Files that could not be read or failed the snapshot schema. */
  skipped: { path: string; reason: string }[];
}

/** Reads and validates the snapshots whose file time lies in [sinceMs, untilMs]. */
export async function readSnapshots(
  dir: string,
  range: { sinceMs?: number; untilMs?: number } = {},
): Promise<ReadSnapshotsResult> {
  const files = (await listSnapshotFiles(dir)).filter(
    (f) => f.timeMs >= (range.sinceMs ?? -Infinity) && f.timeMs <= (range.untilMs ?? Infinity),
  );
  const result: ReadSnapshotsResult = { snapshots: [], skipped: [] };
  for (const file of files) {
    try {
      const parsed = monitoringSnapshotSchema.safeParse(JSON.parse(await readFile(file.path, "utf8")));
      if (parsed.success) result.snapshots.push({ timeMs: file.timeMs, snapshot: parsed.data });
      else
        result.skipped.push({
          path: file.path,
          reason: parsed.error.issues[0]?.message ?? "invalid snapshot",
        });
    } catch (error) {
      result.skipped.push({
        path: file.path,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return result;
}

export interface RetentionResult {
  snapshotsDeleted: string[];
}

export interface RetentionOptions {
  snapshotDir: string;
  snapshotsDays: number;
  nowMs: number;
}

/**
 * Deletes snapshots older than `snapshotsDays`. A missing directory are not an error (nothing was written yet); a file
 * that cannot be deleted is reported through `onError` and the rest goes on.
 */
export async function applyRetention(
  options: RetentionOptions,
  onError: (path: string, error: unknown) => void,
): Promise<RetentionResult> {
  const result: RetentionResult = { snapshotsDeleted: [] };
  const snapshotCutoff = options.nowMs - options.snapshotsDays * DAY_MS;
  for (const name of await readDirOrEmpty(options.snapshotDir)) {
    const timeMs = snapshotFileTime(name);
    if (timeMs !== undefined && timeMs < snapshotCutoff) {
      await remove(join(options.snapshotDir, name), result.snapshotsDeleted, onError);
    }
  }
  return result;
}

async function remove(
  path: string,
  deleted: string[],
  onError: (path: string, error: unknown) => void,
): Promise<void> {
  try {
    await unlink(path);
    deleted.push(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") onError(path, error);
  }
}

async function readDirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** Lists a directory; a missing one is a NOT_FOUND error that names the directory and the fix. */
export async function readDir(dir: string, what: string, fix: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new TicktraceError("NOT_FOUND", `${what} ${dir} does not exist (set ${fix})`, { cause: error });
    if (code === "ENOTDIR")
      throw new TicktraceError("INVALID_ARGUMENT", `${what} ${dir} is not a directory (set ${fix})`, {
        cause: error,
      });
    throw new TicktraceError("IO", `cannot read ${what} ${dir}: ${code ?? String(error)}`, { cause: error });
  }
}

/** The modification time of a file, or null with the error code when it cannot be stat'ed. */
export async function fileMtime(path: string): Promise<{ mtimeMs: number | null; error?: string }> {
  try {
    return { mtimeMs: (await stat(path)).mtimeMs };
  } catch (error) {
    return { mtimeMs: null, error: (error as NodeJS.ErrnoException).code ?? String(error) };
  }
}
