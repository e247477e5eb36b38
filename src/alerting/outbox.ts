import fs from "node:fs";
import path from "node:path";
import { describeError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
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
 * and {@link Outbox.healthy} turns false until a write succeeds again. After {@link Outbox.close}
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
}

export const JOURNAL_FILE = "journal.jsonl";

/** Folds journal lines into what is still owed (pure; exported for tests and tools). */
export function foldJournal(lines: Iterable<string>): OutboxContents {
  const notifications = new Map<string, { record: NotificationRecord; done: Set<string> }>();
  const latest = new Map<string, Alert>();
  for (const line of lines) {
    if (line.trim() === "") continue;
    let record: OutboxRecord;
    try {
      record = JSON.parse(line) as OutboxRecord;
    } catch {
      continue; // a torn line from a crash mid-write
    }
    if (record.op === "n" && isAlertLike(record.alert) && Array.isArray(record.ch)) {
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

function serialize(contents: OutboxContents): string {
  let out = "";
  for (const alert of contents.active) out += `${JSON.stringify({ op: "s", alert } satisfies StateRecord)}\n`;
  for (const record of contents.pending) out += `${JSON.stringify(record)}\n`;
  return out;
}

export class Outbox {
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

  constructor(options: OutboxOptions) {
    this.options = options;
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
      fs.mkdirSync(this.options.dir, { recursive: true });
      let text = "";
      try {
        text = fs.readFileSync(this.file, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      contents = foldJournal(text.split("\n"));
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, serialize(contents));
      const tmpFd = fs.openSync(tmp, "r+");
      fs.fsyncSync(tmpFd);
      fs.closeSync(tmpFd);
      fs.renameSync(tmp, this.file);
      this.fd = fs.openSync(this.file, "a");
      this.opened = true;
    } catch (error) {
      this.fail(`cannot open the alert outbox ${this.file}: ${describeError(error)}`);
    }
    return contents;
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
    const fd = this.fd;
    this.fd = undefined;
    // Appended after the last batch was written but before `closed` was set: written now.
    const left = this.buffer;
    this.buffer = [];
    if (left.length > 0) this.writeNow(left);
    if (fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }

  /** Synchronous append (after close only: a shutdown's stragglers). */
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
      while (this.buffer.length > 0) {
        const batch = this.buffer;
        this.buffer = [];
        if (this.fd === undefined) continue; // running from memory
        let data = "";
        for (const record of batch) data += `${JSON.stringify(record)}\n`;
        try {
          await writeAll(this.fd, data);
          if (this.fsync) await datasync(this.fd);
          this.appendedSinceCompaction += batch.length;
          if (this.failing) {
            this.failing = false;
            this.options.logger.info("alert outbox writes succeed again", { dir: this.options.dir });
            this.options.onHealth?.(true);
          }
          if (this.appendedSinceCompaction >= this.compactAfter) await this.compact();
        } catch (error) {
          this.fail(
            `alert outbox write failed: ${describeError(error)}; alerts are kept in memory until delivered`,
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

  private async compact(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    await fs.promises.writeFile(tmp, serialize(this.options.contents()));
    const handle = await fs.promises.open(tmp, "r+");
    await handle.sync();
    await handle.close();
    await fs.promises.rename(tmp, this.file);
    const old = this.fd;
    this.fd = fs.openSync(this.file, "a");
    if (old !== undefined) fs.close(old, () => undefined);
    this.appendedSinceCompaction = 0;
  }

  private fail(message: string): void {
    if (!this.failing) this.options.logger.error(message, { dir: this.options.dir });
    this.failing = true;
    this.options.onHealth?.(false, message);
  }
}

function writeAll(fd: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // appendFile on a descriptor loops until everything is written.
    fs.appendFile(fd, data, (error) => (error ? reject(error) : resolve()));
  });
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}
