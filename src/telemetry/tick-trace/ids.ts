import { getRandomValues } from "node:crypto";

/** Lowercase hex of every byte value. */
const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A 32-bit word as 8 lowercase hex digits. */
export function hexWord(word: number): string {
  return (
    HEX_BYTES[(word >>> 24) & 0xff]! +
    HEX_BYTES[(word >>> 16) & 0xff]! +
    HEX_BYTES[(word >>> 8) & 0xff]! +
    HEX_BYTES[word & 0xff]!
  );
}

/**
 * Random 32-bit words for trace and span ids, drawn from the OS's CSPRNG in blocks: one
 * `getRandomValues` call per 1,024 words instead of one per id (the SDK's generator calls
 * `Math.random` per byte and then validates the hex with a regular expression).
 */
export class RandomWords {
  private readonly pool = new Uint32Array(1024);
  private next = this.pool.length;

  /** One random word, never 0 (so a span id made of two is never the invalid all-zero id). */
  word(): number {
    if (this.next === this.pool.length) {
      getRandomValues(this.pool);
      this.next = 0;
    }
    const word = this.pool[this.next++]!;
    return word === 0 ? 1 : word;
  }
}
