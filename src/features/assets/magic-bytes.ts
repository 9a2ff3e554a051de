/**
 * Signatures of the types whose first bytes identify them. A body declared as one of these must
 * start with its signature; other types carry no reliable signature and are not sniffed.
 */
const SIGNATURES: Record<string, (b: Uint8Array) => boolean> = {
  "image/png": (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  "image/jpeg": (b) => startsWith(b, [0xff, 0xd8, 0xff]),
  "image/gif": (b) => startsWith(b, ascii("GIF87a")) || startsWith(b, ascii("GIF89a")),
  "image/webp": (b) => startsWith(b, ascii("RIFF")) && startsWith(b.subarray(8), ascii("WEBP")),
  "application/pdf": (b) => startsWith(b, ascii("%PDF-")),
};

/** How many leading bytes the check needs. */
export const SNIFF_BYTES = 12;

function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((v, i) => bytes[i] === v);
}

/** True when `head` (the first bytes of the body) does not contradict the declared type. */
export function matchesDeclaredType(contentType: string, head: Uint8Array): boolean {
  const check = SIGNATURES[contentType];
  return check ? check(head) : true;
}
