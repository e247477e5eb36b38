import { Writable } from "node:stream";
import winston from "winston";
import { createLogger, type CreateLoggerOptions } from "../../src/logging/logger.js";

/** A real logger writing into memory: `lines` as a terminal would show them, `entries()` parsed. */
export function captureLogger(options: CreateLoggerOptions = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ ...options, transports: [new winston.transports.Stream({ stream })] });
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, entries };
}
