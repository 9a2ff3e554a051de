import { decodeUtf8, fromBase64Url, isUuid, toBase64Url } from "../../common/encoding.ts";
import { validationFailed } from "./problem.ts";

/**
 * Page cursors: opaque to clients, base64url of a short text underneath. Every list that pages
 * (assets, accounts, settings history, room history) encodes and decodes through here; a cursor this API did not
 * return is a 422 naming `query.cursor`.
 */
export const encodeCursor = (text: string): string => toBase64Url(text);

export function decodeCursor<T>(cursor: string, parse: (text: string) => T | undefined): T {
  let value: T | undefined;
  try {
    value = parse(decodeUtf8(fromBase64Url(cursor)));
  } catch {
    value = undefined;
  }
  if (value === undefined) {
    throw validationFailed([{ path: "query.cursor", message: "is not a cursor this API returned" }]);
  }
  return value;
}

/** A position in "newest first" order: the last item's (createdAt, id). */
export interface ListPosition {
  createdAt: Date;
  id: string;
}

// The instant goes to Postgres as ISO text (toISOString). Postgres reads that form for years 0001-9999
// only: year 0000 (SQLSTATE 22008) and the six-digit ±YYYYYY years JS dates reach up to ±275760
// (22007/22009) fail the query. No row is outside that range, so neither is any cursor we issued.
const EARLIEST = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

/** `[createdAt ISO, id]` as JSON. */
export const encodePosition = (p: ListPosition): string =>
  encodeCursor(JSON.stringify([p.createdAt.toISOString(), p.id]));

export const decodePosition = (cursor: string): ListPosition =>
  decodeCursor(cursor, (text) => {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
    const [at, id] = parsed as unknown[];
    if (typeof at !== "string" || typeof id !== "string" || !isUuid(id)) return undefined;
    const createdAt = new Date(at);
    const time = createdAt.getTime();
    if (Number.isNaN(time) || time < EARLIEST || time > LATEST) return undefined;
    return { createdAt, id };
  });
