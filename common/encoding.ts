/**
 * Byte and text encodings every part of the service uses (src/, durable/, runtimes/): one
 * definition each. Plain functions over WebCrypto and the web encodings, so every runtime has them.
 */

/** Lower-case hex of bytes. */
export const toHex = (bytes: ArrayBuffer | Uint8Array): string =>
  Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );

/** Hex of a digest (`SHA-256` unless named) of UTF-8 text or bytes; `bytes` keeps only the first that many. */
export async function digestHex(
  input: string | Uint8Array,
  options: { algorithm?: "SHA-256" | "SHA-1"; bytes?: number } = {},
): Promise<string> {
  const data = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const digest = new Uint8Array(
    await crypto.subtle.digest(options.algorithm ?? "SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return toHex(options.bytes === undefined ? digest : digest.subarray(0, options.bytes));
}

/** base64url without padding (RFC 4648 §5), of bytes or of UTF-8 text. */
export const toBase64Url = (input: Uint8Array | string): string =>
  btoa(String.fromCharCode(...(typeof input === "string" ? new TextEncoder().encode(input) : input)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/**
 * The bytes of base64url text (padding optional); throws on characters outside the alphabet, but,
 * as atob, skips ASCII whitespace: a caller that needs one spelling per value re-encodes and
 * compares (jws.ts does). A plain loop: every JWT verified pays this, and Uint8Array.from's per-character callback was ~3 % of a connect.
 */
export function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Strict UTF-8 (a malformed sequence throws instead of becoming U+FFFD). */
export const decodeUtf8 = (bytes: Uint8Array): string =>
  new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);

/** Any RFC 9562 UUID in its canonical text form (case-insensitive). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID_PATTERN.test(value);
