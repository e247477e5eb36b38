import { open } from "node:fs/promises";
import { basename } from "node:path";
import { listAlertLogFiles } from "./store.js";

/**
 * Reading the alert log (`<dir>/<YYYY-MM-DD>.jsonl`, format in `store.ts`) as it grows: the
 * CLI's `tail` and the running process's pick-up of acknowledgements.
 */

export interface AlertLogFollowerOptions {
  dir: string;
  /** Start at the end of the newest file (only new lines) instead of the start of the oldest. Default false. */
  fromEnd?: boolean;
  /** Skip the daily files before this UTC day (`YYYY-MM-DD`) on the first poll. */
  fromDay?: string;
}

/**
 * Follows the daily alert files: each `poll()` returns the complete lines appended since the
 * previous one, across the midnight change to a new file (the rest of the old file first).
 * A line still being written (no newline yet) waits for the next poll; only whole lines are
 * consumed, so a multi-byte character is never split.
 */
export class AlertLogFollower {
  private readonly dir: string;
  private readonly fromEnd: boolean;
  private readonly fromDay: string | undefined;
  private file: string | undefined;
  private offset = 0;
  private primed = false;

  constructor(options: AlertLogFollowerOptions) {
    this.dir = options.dir;
    this.fromEnd = options.fromEnd ?? false;
    this.fromDay = options.fromDay;
  }

  /** New complete lines, oldest first. Throws only for an unreadable directory. */
  async poll(): Promise<string[]> {
    let files = listAlertLogFiles(this.dir);
    if (!this.primed) {
      this.primed = true;
      const fromDay = this.fromDay;
      if (fromDay !== undefined) files = files.filter((f) => basename(f, ".jsonl") >= fromDay);
      const newest = files.at(-1);
      if (this.fromEnd && newest !== undefined) {
        this.file = newest;
        this.offset = (await readFrom(this.file, 0, false)).bytes;
        return [];
      }
    }
    const lines: string[] = [];
    // The current file first, then the newer ones (names sort by date).
    const current = this.file;
    const pending = current === undefined ? files : files.filter((f) => basename(f) >= basename(current));
    for (const [i, file] of pending.entries()) {
      if (file !== this.file) {
        this.file = file;
        this.offset = 0;
      }
      // An older file is finished: its last line counts even without a newline.
      const chunk = await readFrom(file, this.offset, i < pending.length - 1);
      this.offset += chunk.bytes;
      for (const line of chunk.text.split("\n")) if (line.trim() !== "") lines.push(line);
    }
    return lines;
  }
}

/** Reads from `offset` up to the last newline (or to the end when `toEnd`). */
async function readFrom(
  file: string,
  offset: number,
  toEnd: boolean,
): Promise<{ text: string; bytes: number }> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { text: "", bytes: 0 };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { text: "", bytes: 0 };
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const end = toEnd ? bytesRead : buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
    return { text: buffer.subarray(0, end).toString("utf8"), bytes: end };
  } finally {
    await handle.close();
  }
}
