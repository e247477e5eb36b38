/**
 * The one place tests get ports and stop child processes.
 *
 * A port is never picked by closing a probe server and handing its number on: another process
 * (or a parallel test file) can take it in between, which made runs fail with EADDRINUSE. Our
 * own servers listen on port 0 and report what they got; servers we spawn (Prometheus,
 * Alertmanager, Postgres) either print their listen address ({@link spawnListening}) or are
 * started again on EADDRINUSE ({@link retryOnAddressInUse}). A child's files are removed only
 * after it has exited ({@link stopChild}), so a directory is never removed under a process that
 * is still writing into it (ENOTEMPTY).
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import type { Server as HttpServer } from "node:http";
import { createServer, type AddressInfo, type Server } from "node:net";

/**
 * A port on 127.0.0.1 that refuses connections, for "the collector / process is down" without
 * a port that someone may take meanwhile: an unassigned port below 1024 (binding it needs
 * root, and nothing here does), and not on fetch's blocked-port list (port 1 is, and fetch
 * would fail with "bad port" instead of ECONNREFUSED).
 */
export const REFUSING_PORT = 4;

/** Listens `server` on 127.0.0.1 port 0 and resolves with the port it got. */
export function listenOnFreePort(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * A TCP port free right now, for a program that must be told its port before it starts and
 * cannot print the one it got. Use only with {@link retryOnAddressInUse}: the port may be
 * taken by someone else before the program binds it.
 */
export async function pickPort(): Promise<number> {
  const server = createServer();
  const port = await listenOnFreePort(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs `start(port)` on a fresh port until it does not fail with EADDRINUSE (at most
 * `attempts` times). `start` rejects with an error whose message contains "address already in
 * use" / EADDRINUSE when the port was taken.
 */
export async function retryOnAddressInUse<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await start(await pickPort());
    } catch (error) {
      last = error;
      if (!/EADDRINUSE|address already in use/i.test(String(error))) throw error;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** A spawned child with its output kept, and the address it said it listens on. */
export interface ListeningChild {
  readonly child: ChildProcess;
  /** `host:port` the child reported. */
  readonly address: string;
  readonly port: number;
  output(): string;
}

/**
 * Spawns `command` (told to listen on 127.0.0.1:0) and resolves once its output matches
 * `listening`, whose first group is the `host:port` it bound (Prometheus and Alertmanager log
 * `msg="Listening on" address=127.0.0.1:41234`). Rejects, after stopping the child, when it
 * exits first or says nothing within `timeoutMs`.
 */
export function spawnListening(
  command: string,
  args: readonly string[],
  options: { listening: RegExp; timeoutMs?: number; spawn?: SpawnOptions },
): Promise<ListeningChild> {
  const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"], ...options.spawn });
  let log = "";
  return new Promise<ListeningChild>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stopChild(child).then(() => reject(new Error(`${command} ${why}\n${log.slice(-4000)}`)));
    };
    const timer = setTimeout(
      () => fail("did not report its listen address in time"),
      options.timeoutMs ?? 30_000,
    );
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-200_000);
      const match = log.match(options.listening);
      if (match?.[1]) {
        clearTimeout(timer);
        child.off("exit", onExit);
        const address = match[1];
        const port = Number(address.slice(address.lastIndexOf(":") + 1));
        resolve({ child, address, port, output: () => log });
      }
    };
    const onExit = () => fail("exited before it listened");
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (error) => fail(`could not start: ${error.message}`));
    child.once("exit", onExit);
  });
}

/** The Prometheus / Alertmanager line that names the bound address. */
export const GO_LISTENING = /msg="?Listening on"? address=(\S+:\d+)/;

/**
 * Stops `child` and resolves once it has exited: SIGTERM, then SIGKILL after `graceMs`.
 * Remove a child's files only after this resolves.
 */
export function stopChild(child: ChildProcess | undefined, graceMs = 5_000): Promise<void> {
  if (child?.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
