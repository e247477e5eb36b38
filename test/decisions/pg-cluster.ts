import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { retryOnAddressInUse } from "../support/processes.js";

/**
 * A throwaway PostgreSQL cluster from Debian's packages, on 127.0.0.1 and a free port. As root
 * (CI) the server runs as the `postgres` system user, since initdb refuses to run as root.
 */
export interface PgCluster {
  url: string;
  port: number;
  stop(): void;
}

export function findPgBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = findPgBin();
  if (!bin)
    throw new Error("PostgreSQL is not installed (/usr/lib/postgresql/<version>/bin); run scripts/test.sh");
  const dir = mkdtempSync(join(tmpdir(), "ticktrace-pg-"));
  const dataDir = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
    execFileSync(file, argv, { stdio: "pipe", timeout: 60_000 });
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  run(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  // Postgres cannot listen on port 0 and report it: a port taken before it binds is retried.
  const port = await retryOnAddressInUse((port) => {
    try {
      run(join(bin, "pg_ctl"), [
        "-D",
        dataDir,
        "-l",
        join(dir, "server.log"),
        "-w",
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "start",
      ]);
      return Promise.resolve(port);
    } catch (error) {
      let log = "";
      try {
        log = readFileSync(join(dir, "server.log"), "utf8");
      } catch {
        // no log written
      }
      return Promise.reject(
        log.includes("Address already in use")
          ? new Error(`EADDRINUSE: port ${port}: ${log}`)
          : error instanceof Error
            ? error
            : new Error(String(error)),
      );
    }
  });
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
