import fs from "node:fs";
import path from "node:path";
import { describeError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import { OutboxLockedError } from "./lock.js";
import { isAlertLike } from "../alert-model/model.js";
import type { Alert, AlertEvent } from "../alert-model/types.js";

/**
 * The durable outbox: an append-only journal `<dir>/journal.jsonl` of what must be delivered
 * and what was delivered, so a restart delivers what was pending and sends nothing twice.
 *
 * Records, one JSON object per line:
 * - `{"op":"n","id":<notification id>,"at":<epoch ms>,"event":<AlertEvent>,"alert":<Alert>,"ch":[<channel>...],"collapsed"?:[<Alert>...]}`
 *   a notification waiting for the listed channels;
 * - `{"op":"d","id":<notification id>,"ch":<channel>,"outcome":"delivered"|"failed"|"dropped"}`
 *   one channel is done with it (accepted, refused for good, or given up after `max_age_ms`);
 * - `{"op":"s","alert":<Alert>}` an alert that was firing when the journal was compacted.
 *
 * Replay folds the lines: a notification is pending for the channels without a `d` record;
 * the active alerts are the last snapshot of each alert id that is still `firing`. A torn last
 * line (crash mid-write) is skipped. At start, and after every `compactAfterRecords` appends,
 * the journal is rewritten with only the pending notifications and firing alerts (written to a
 * temporary file, synced, then renamed over the journal).
 *
 * Writing never blocks the caller: records are buffered and written in one batch on the next
 * turn of the event loop (`setImmediate`), one batch at a time, in order. fsync policy: each batch
 * is `fdatasync`ed before the next is written (option `fsync`, default true), so a notification
 * is durable a few milliseconds after it was raised; a crash inside that window can lose it.
 * A failing disk never throws: the first failure is logged once, delivery goes on from memory,
 * and {@link Outbox.healthy} turns false until a write succeeds again. While failing, the journal
 * is not appended to (a full disk may have torn the last line); instead it is rewritten whole
 * from memory (compaction) on the next batch and every `retryIntervalMs`, so once the disk
 * takes writes again the journal holds everything still owed. A journal that could not be opened
 * at start is opened then, and what it held is handed to `onOpenedLate`. After {@link Outbox.close}
 * no write turn is sure to come (the process may be exiting), so a record appended then is written
 * synchronously.
 */
export interface NotificationRecord {
  op: "n";
  id: string;
  at: number;
  event: AlertEvent;
  alert: Alert;
  ch: string[];
  collapsed?: Alert[];
}

export interface DoneRecord {
  op: "d";
  id: string;
  ch: string;
  outcome: "delivered" | "failed" | "dropped";
}

export interface StateRecord {
  op: "s";
  alert: Alert;
}

export type OutboxRecord = NotificationRecord | DoneRecord | StateRecord;

/** What a journal held: notifications with the channels still owed, and the firing alerts. */
export interface OutboxContents {
  pending: NotificationRecord[];
  active: Alert[];
}

export interface OutboxOptions {
  dir: string;
  logger: Logger;
  /** Sync every batch to disk (default true). */
  fsync?: boolean;
  /** Rewrite the journal after this many appended records (default 5000). */
  compactAfterRecords?: number;
  /** Supplies the live contents for compaction. */
  contents: () => OutboxContents;
  /** Told when the disk starts or stops failing. */
  onHealth?: (ok: boolean, detail?: string) => void;
  /** Told of every failed write (for a metric). */
  onWriteError?: () => void;
  /** How often a failing journal is retried when no alert comes (default 5000). */
  retryIntervalMs?: number;
  /** Runs before a late open (the outbox lock); throwing stops the retries for good. */
  beforeLateOpen?: () => void;
  /** What a journal opened late (not at start) held, for the owner to merge and deliver. */
  onOpenedLate?: (contents: OutboxContents) => void;
}

export const JOURNAL_FILE = "journal.jsonl";

/** The size of the reused write buffer; a larger batch gets a larger one, dropped after it. */
const WRITE_BUFFER_KEPT_BYTES = 64 * 1024;

/** Folds journal lines into what is still owed (pure; exported for tests and tools). */
export function foldJournal(lines: Iterable<string>): OutboxContents {
  const notifications = new Map<string, { record: NotificationRecord; done: Set<string> }>();
  const latest = new Map<string, Alert>();
  for (const line of lines) {
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // a torn line from a crash mid-write
    }
    // Anything else found on disk (a hand edit, another tool's line, `null`) is skipped, never
    // trusted: only records of the three known shapes with their keys' types are folded.
    if (!isOutboxRecord(parsed)) continue;
    const record = parsed;
    if (record.op === "n" && isAlertLike(record.alert)) {
      latest.set(record.alert.id, record.alert);
      const known = notifications.get(record.id);
      if (known) {
        for (const ch of record.ch) if (!known.record.ch.includes(ch)) known.record.ch.push(ch);
      } else notifications.set(record.id, { record: { ...record, ch: [...record.ch] }, done: new Set() });
    } else if (record.op === "d") {
      notifications.get(record.id)?.done.add(record.ch);
    } else if (record.op === "s" && isAlertLike(record.alert)) {
      latest.set(record.alert.id, record.alert);
    }
  }
  const pending: NotificationRecord[] = [];
  for (const { record, done } of notifications.values()) {
    const ch = record.ch.filter((name) => !done.has(name));
    if (ch.length > 0) pending.push({ ...record, ch });
  }
  const active = [...latest.values()].filter((alert) => alert.status === "firing");
  return { pending, active };
}

/** Whether a parsed journal line has the shape of one of the records the outbox writes. */
function isOutboxRecord(value: unknown): value is OutboxRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  switch (record.op) {
    case "n":
      return (
        typeof record.id === "string" &&
        typeof record.at === "number" &&
        typeof record.event === "string" &&
        Array.isArray(record.ch) &&
        record.ch.every((name) => typeof name === "string") &&
        (record.collapsed === undefined || Array.isArray(record.collapsed))
      );
    case "d":
      return typeof record.id === "string" && typeof record.ch === "string";
    case "s":
      return true; // its alert is checked with isAlertLike where it is used
    default:
      return false;
  }
}

function serialize(contents: OutboxContents): string {
  let out = "";
  for (const alert of contents.active) out += `${JSON.stringify({ op: "s", alert } satisfies StateRecord)}\n`;
  for (const record of contents.pending) out += `${JSON.stringify(record)}\n`;
  return out;
}

export class Outbox {
  /** The outbox directory. */
  readonly dir: string;
  private readonly file: string;
  private readonly options: OutboxOptions;
  private readonly fsync: boolean;
  private readonly compactAfter: number;
  private fd: number | undefined;
  private buffer: OutboxRecord[] = [];
  private scheduled = false;
  private writing = false;
  private appendedSinceCompaction = 0;
  private failing = false;
  /** Whether the journal was opened: otherwise the outbox runs from memory. */
  private opened = false;
  private closing: Promise<void> | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  /** A late open was refused for good (another process took the directory). */
  private gaveUp = false;
  /**
   * The bytes of the batch being written, reused from batch to batch (one batch is written at a
   * time): the lines are encoded straight into it instead of being joined into one string first
   * and copied into a new Buffer, two copies of every batch that ended as garbage.
   */
  private writeBuffer: Buffer = Buffer.allocUnsafe(WRITE_BUFFER_KEPT_BYTES);

  constructor(options: OutboxOptions) {
    this.options = options;
    this.dir = options.dir;
    this.file = path.join(options.dir, JOURNAL_FILE);
    this.fsync = options.fsync ?? true;
    this.compactAfter = options.compactAfterRecords ?? 5000;
  }

  /** Whether the last write succeeded. */
  get healthy(): boolean {
    return !this.failing;
  }

  /**
   * Reads the journal (synchronously: called once at start, before any alert), compacts it and
   * opens it for appending. A missing journal is empty; an unreadable disk is logged and the
   * outbox runs from memory.
   */
  open(): OutboxContents {
    let contents: OutboxContents = { pending: [], active: [] };
    try {
      contents = this.openSync((read) => read);
    } catch (error) {
      this.fail(`cannot open the alert outbox ${this.file}: ${describeError(error)}`);
    }
    return contents;
  }

  /**
   * Reads and folds the journal, rewrites it as `merge(read)` (synced, renamed over) and opens it
   * for appending. Throws on any file-system error.
   */
  private openSync(merge: (read: OutboxContents) => OutboxContents): OutboxContents {
    fs.mkdirSync(this.options.dir, { recursive: true });
    let text = "";
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const read = foldJournal(text.split("\n"));
    const tmp = `${this.file}.tmp`;
    try {
      fs.writeFileSync(tmp, serialize(merge(read)));
      const tmpFd = fs.openSync(tmp, "r+");
      fs.fsyncSync(tmpFd);
      fs.closeSync(tmpFd);
      fs.renameSync(tmp, this.file);
    } catch (error) {
      fs.rmSync(tmp, { force: true }); // a partial file on a full disk holds space
      throw error;
    }
    this.fd = fs.openSync(this.file, "a");
    this.opened = true;
    return read;
  }

  /** While failing: open late (start could not) or rewrite the journal whole from memory. */
  private async repair(): Promise<void> {
    if (this.closed || this.gaveUp) return;
    if (!this.opened) {
      fs.mkdirSync(this.options.dir, { recursive: true });
      try {
        this.options.beforeLateOpen?.();
      } catch (error) {
        if (!(error instanceof OutboxLockedError)) throw error; // still unwritable: retried
        this.gaveUp = true;
        this.options.logger.error(
          `alert outbox ${this.options.dir} stays in memory: ${describeError(error)}`,
          { dir: this.options.dir },
        );
        return;
      }
      // What the journal held is handed over first, so the rewrite (all this run owes) includes it.
      this.openSync((contents) => {
        this.options.onOpenedLate?.(contents);
        return this.options.contents();
      });
    } else {
      await this.compact();
    }
    this.appendedSinceCompaction = 0;
    this.recovered();
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = undefined;
    this.options.logger.info("alert outbox writes succeed again; the journal holds everything owed", {
      dir: this.options.dir,
    });
    this.options.onHealth?.(true);
  }

  /** Queues a record; written on the next turn of the event loop (at once once closed). Never throws. */
  append(record: OutboxRecord): void {
    if (this.closed) {
      this.writeNow([record]);
      return;
    }
    this.buffer.push(record);
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      // Fire-and-forget by design: the write runs off the caller's call; failures are handled inside.
      setImmediate(() => void this.flush());
    }
  }

  /** Resolves when every queued record has been written (or failed). */
  async idle(): Promise<void> {
    if (!this.scheduled && !this.writing && this.buffer.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes what is queued and closes the file; later appends are written synchronously. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await this.idle();
    this.closed = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = undefined;
    const fd = this.fd;
    this.fd = undefined;
    // Appended after the last batch was written but before `closed` was set: written now.
    const left = this.buffer;
    this.buffer = [];
    if (left.length > 0) this.writeNow(left);
    if (fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }

  /**
   * Writes what is queued synchronously (the process is exiting: no further turn comes). The
   * journal is appended to whatever batch is in flight; the fold does not depend on line order
   * between notifications.
   */
  flushSync(): void {
    if (this.buffer.length === 0 || this.failing) return;
    const left = this.buffer;
    this.buffer = [];
    this.writeNow(left);
  }

  /** Synchronous append (after close, or on exit: a shutdown's stragglers). */
  private writeNow(records: readonly OutboxRecord[]): void {
    if (!this.opened) return; // running from memory
    let data = "";
    for (const record of records) data += `${JSON.stringify(record)}\n`;
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, "a");
      fs.writeFileSync(fd, data);
      if (this.fsync) fs.fdatasyncSync(fd);
    } catch (error) {
      this.fail(`alert outbox write failed: ${describeError(error)}; the alert is not journaled`);
    } finally {
      if (fd !== undefined) fs.close(fd, () => undefined);
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.writing = true;
    try {
      if (this.failing && this.buffer.length === 0 && !this.gaveUp) {
        // The retry timer: nothing new to write, but the journal is to be made whole.
        try {
          await this.repair();
        } catch (error) {
          this.fail(`alert outbox write failed: ${describeError(error)}`);
        }
      }
      while (this.buffer.length > 0) {
        const batch = this.buffer;
        this.buffer = [];
        if (this.gaveUp) continue; // running from memory for good
        try {
          if (this.failing || this.fd === undefined) {
            // The batch is part of what the manager owes: a whole rewrite includes it.
            await this.repair();
            continue;
          }
          const length = this.encode(batch);
          await writeAll(this.fd, this.writeBuffer, length);
          if (this.fsync) await datasync(this.fd);
          this.appendedSinceCompaction += batch.length;
          if (this.appendedSinceCompaction >= this.compactAfter) await this.compact();
        } catch (error) {
          this.fail(
            `alert outbox write failed: ${describeError(error)}; alerts are kept in memory until delivered, and the journal is rewritten once the disk takes writes again`,
          );
        }
      }
    } finally {
      this.writing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Encodes the batch as JSON lines into {@link Outbox.writeBuffer}; returns the byte length. */
  private encode(batch: readonly OutboxRecord[]): number {
    if (this.writeBuffer.length > WRITE_BUFFER_KEPT_BYTES)
      this.writeBuffer = Buffer.allocUnsafe(WRITE_BUFFER_KEPT_BYTES); // a burst's buffer is not kept
    let buffer = this.writeBuffer;
    let offset = 0;
    for (const record of batch) {
      const line = JSON.stringify(record);
      // A UTF-16 code unit takes at most 3 bytes in UTF-8; plus the newline.
      const worst = offset + line.length * 3 + 1;
      if (worst > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(worst, buffer.length * 2));
        buffer.copy(grown, 0, 0, offset);
        buffer = grown;
      }
      offset += buffer.write(line, offset);
      buffer[offset++] = 0x0a;
    }
    this.writeBuffer = buffer;
    return offset;
  }

  private async compact(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    try {
      await fs.promises.writeFile(tmp, serialize(this.options.contents()));
      const handle = await fs.promises.open(tmp, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(tmp, this.file);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true }); // a partial file on a full disk holds space
      throw error;
    }
    const old = this.fd;
    this.fd = fs.openSync(this.file, "a");
    if (old !== undefined) fs.close(old, () => undefined);
    this.appendedSinceCompaction = 0;
  }

  private fail(message: string): void {
    if (!this.failing) this.options.logger.error(message, { dir: this.options.dir });
    this.failing = true;
    this.options.onWriteError?.();
    this.options.onHealth?.(false, message);
    if (this.retryTimer === undefined && !this.closed && !this.gaveUp) {
      // Retried even when no alert comes, so the journal is whole again soon after the disk is.
      this.retryTimer = setInterval(() => {
        if (!this.writing && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => void this.flush());
        }
      }, this.options.retryIntervalMs ?? 5000);
      this.retryTimer.unref();
    }
  }
}

/** Writes `length` bytes of `buffer` at the end of the file, looping over short writes. */
async function writeAll(fd: number, buffer: Buffer, length: number): Promise<void> {
  let offset = 0;
  while (offset < length) {
    offset += await new Promise<number>((resolve, reject) => {
      // The descriptor is opened with O_APPEND: every write lands at the end of the file.
      fs.write(fd, buffer, offset, length - offset, null, (error, written) => {
        if (error) reject(error);
        else if (written === 0) reject(new Error("the journal write wrote nothing (no space?)"));
        else resolve(written);
      });
    });
  }
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}
