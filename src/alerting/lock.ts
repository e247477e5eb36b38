import fs from "node:fs";
import path from "node:path";
import { TicktraceError } from "../errors.js";

/** The lock file in the outbox directory. */
export const LOCK_FILE = "lock";

/** What the lock file holds: whose outbox it is. */
export interface OutboxLockInfo {
  /** Process id of the holder. */
  pid: number;
  /** Run id of the holder (see `AlertManager.runId`); the alerts it raises carry it. */
  run_id: string;
  /** ISO-8601 time the holder took the lock. */
  started_at: string;
  /** `service.name` of the holder, when known. */
  service?: string;
}

/**
 * Raised by `AlertManager.start()` when another live process holds the outbox directory. The
 * message names the directory, the holder's pid and the config key to change; the demo exits
 * with status 2 on it, as on a config error.
 */
export class OutboxLockedError extends TicktraceError {
  override readonly name = "OutboxLockedError";
  /** The config key that picks another directory. */
  readonly configKey = "alerts.outbox.dir";
  readonly dir: string;
  readonly holder: OutboxLockInfo;

  constructor(dir: string, holder: OutboxLockInfo) {
    super(
      "INVALID_STATE",
      `alerts.outbox.dir: the alert outbox ${dir} is in use by another process (pid ${holder.pid}` +
        `${holder.service ? `, service ${holder.service}` : ""}, since ${holder.started_at}); ` +
        "two processes must not share one outbox: give this one its own directory with alerts.outbox.dir " +
        "(for example data/<service.name>/alerts-outbox), or stop the other process",
    );
    this.dir = dir;
    this.holder = holder;
  }
}

/** Whether a process with this pid exists (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Reads and validates a lock file; undefined when missing or unreadable as a lock. */
export function readOutboxLock(dir: string): OutboxLockInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, LOCK_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const value = parsed as Partial<OutboxLockInfo>;
    if (typeof value.pid !== "number" || typeof value.run_id !== "string") return undefined;
    return {
      pid: value.pid,
      run_id: value.run_id,
      started_at: typeof value.started_at === "string" ? value.started_at : "?",
      ...(typeof value.service === "string" ? { service: value.service } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The holder of the lock if it is a live process other than this one. */
export function liveOutboxHolder(dir: string): OutboxLockInfo | undefined {
  const info = readOutboxLock(dir);
  if (info === undefined || info.pid === process.pid || !processAlive(info.pid)) return undefined;
  return info;
}

/**
 * An exclusive lock on an outbox directory: `<dir>/lock`, created with O_EXCL and holding the
 * holder's pid and run id. A lock whose pid is dead (the holder was killed) or is this process's
 * own pid (a container restarted with the same pid) is stale and taken over. Two processes
 * recovering the same stale lock at the same instant could both win; the window is one
 * unlink-and-create, and the lock guards against an operator's mistake, not an adversary.
 */
export class OutboxLock {
  private readonly file: string;
  private held = false;
  private readonly info: OutboxLockInfo;

  constructor(
    private readonly dir: string,
    info: OutboxLockInfo,
  ) {
    this.file = path.join(dir, LOCK_FILE);
    this.info = info;
  }

  /**
   * Takes the lock. Throws {@link OutboxLockedError} when a live process holds it, and rethrows
   * file-system errors (the caller then runs without a journal).
   */
  acquire(): void {
    if (this.held) return;
    const text = `${JSON.stringify(this.info)}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(this.file, "wx");
        try {
          fs.writeFileSync(fd, text);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        this.held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = readOutboxLock(this.dir);
      if (holder !== undefined && holder.pid !== process.pid && processAlive(holder.pid))
        throw new OutboxLockedError(this.dir, holder);
      // Stale (dead holder, or unreadable: a crash while the lock was being written).
      try {
        fs.unlinkSync(this.file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    throw new TicktraceError(
      "IO",
      `cannot take the alert outbox lock ${this.file}: it keeps reappearing; is another process starting?`,
    );
  }

  /** Removes the lock if this process still holds it. Never throws. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      if (readOutboxLock(this.dir)?.run_id === this.info.run_id) fs.unlinkSync(this.file);
    } catch {
      // Leaving a stale lock is harmless: the next start recovers it.
    }
  }
}
