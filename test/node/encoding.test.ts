// The shared encodings (common/encoding.ts): base64url round trips and refusals, hex.
import { describe, expect, it } from "vitest";
import { fromBase64Url, toBase64Url, toHex } from "../../common/encoding.ts";

describe("base64url", () => {
  it("round-trips every byte value, without padding", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = toBase64Url(bytes);
    expect(text).not.toMatch(/[+/=]/);
    expect(fromBase64Url(text)).toEqual(bytes);
  });

  it("decodes the URL alphabet and accepts padding", () => {
    expect(Array.from(fromBase64Url("-_8"))).toEqual([0xfb, 0xff]);
    expect(Array.from(fromBase64Url("-_8="))).toEqual([0xfb, 0xff]);
    expect(new TextDecoder().decode(fromBase64Url(toBase64Url("héllo")))).toBe("héllo");
  });

  it("throws on characters outside the alphabet, and skips whitespace as atob does", () => {
    expect(() => fromBase64Url("a*b")).toThrow();
    expect(() => fromBase64Url("ab.c")).toThrow();
    expect(fromBase64Url("-_ 8")).toEqual(fromBase64Url("-_8"));
  });

  it("writes lower-case hex", () => {
    expect(toHex(new Uint8Array([0, 15, 255]))).toBe("000fff");
  });
});
