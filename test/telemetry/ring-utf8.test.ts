import { describe, expect, it } from "vitest";
import { putUtf8 } from "../../src/telemetry/tick-trace/ring.js";

/** What `putUtf8` left in a fresh buffer: the decoded text and the count it returned. */
function put(value: string, room: number, at = 3): { text: string; written: number } {
  const bytes = new Uint8Array(at + room + 8).fill(0xff);
  const written = putUtf8(bytes, at, value, room);
  expect(bytes[at - 1], "nothing before `at` is touched").toBe(0xff);
  expect(bytes[at + written], "nothing after the written bytes is touched").toBe(0xff);
  return { text: new TextDecoder().decode(bytes.subarray(at, at + written)), written };
}

describe("putUtf8: strings into the tick ring's byte area", () => {
  it("copies ASCII whole when it fits, and cuts it at `room`", () => {
    expect(put("order-123", 16)).toEqual({ text: "order-123", written: 9 });
    expect(put("order-123", 5)).toEqual({ text: "order", written: 5 });
  });

  it("encodes what is not ASCII as UTF-8 after an ASCII prefix", () => {
    expect(put("ok: prix €5, größe", 64)).toEqual({
      text: "ok: prix €5, größe",
      written: Buffer.byteLength("ok: prix €5, größe"),
    });
  });

  it("cuts at a character boundary, never inside a multi-byte character", () => {
    // "ab€" is 5 bytes: with room for 4, the euro sign (3 bytes) does not fit after "ab".
    expect(put("ab€€", 4)).toEqual({ text: "ab", written: 2 });
    expect(put("ab€€", 5)).toEqual({ text: "ab€", written: 5 });
    expect(put("😀x", 3)).toEqual({ text: "", written: 0 });
  });

  it("writes nothing into no room", () => {
    expect(put("abc", 0)).toEqual({ text: "", written: 0 });
  });
});
