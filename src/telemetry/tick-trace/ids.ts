/** Lowercase hex of every byte value. */
const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A 32-bit word as 8 lowercase hex digits. */
export function hexWord(word: number): string {
  return (
    (HEX_BYTES[(word >>> 24) & 0xff] ?? "") +
    (HEX_BYTES[(word >>> 16) & 0xff] ?? "") +
    (HEX_BYTES[(word >>> 8) & 0xff] ?? "") +
    (HEX_BYTES[word & 0xff] ?? "")
  );
}

/**
 * Random 32-bit words for trace and span ids from V8's `Math.random` (xorshift128+), as the
 * SDK's own id generator uses it, but one call per word instead of one per byte, and with no
 * hex round trip or validating regular expression.
 */
export class RandomWords {
  /** One random word, never 0 (so a span id made of two is never the invalid all-zero id). */
  word(): number {
    const word = (Math.random() * 0x100000000) >>> 0;
    return word === 0 ? 1 : word;
  }
}
