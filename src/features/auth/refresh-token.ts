import { digestHex, toBase64Url } from "../../../common/encoding.ts";

/** Opaque refresh tokens: 256 random bits, base64url. Only their SHA-256 is ever stored. */
const TOKEN_BYTES = 32;
/** The encoded length of a token we issued (43 base64url characters). */
export const REFRESH_TOKEN_LENGTH = 43;

export function generateRefreshToken(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/**
 * A plain SHA-256 is enough: the input has 256 bits of entropy, so no salt or slow hash adds
 * anything, and a fast lookup by hash stays possible.
 */
export async function hashRefreshToken(token: string): Promise<string> {
  return digestHex(token);
}
