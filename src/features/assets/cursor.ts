import { validationFailed } from "../../core/problem.ts";

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toBase64Url = (text: string): string =>
  btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const fromBase64Url = (text: string): string => {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
};

/** Opaque to clients: base64url of `[createdAt ISO, id]`. */
export const encodeCursor = (p: ListPosition): string => toBase64Url(JSON.stringify([p.createdAt.toISOString(), p.id]));

export function decodeCursor(cursor: string): ListPosition {
  const invalid = () => validationFailed([{ path: "query.cursor", message: "is not a cursor this API returned" }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(cursor));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [at, id] = parsed as unknown[];
  if (typeof at !== "string" || typeof id !== "string" || !UUID.test(id)) throw invalid();
  const createdAt = new Date(at);
  const time = createdAt.getTime();
  if (Number.isNaN(time) || time < EARLIEST || time > LATEST) throw invalid();
  return { createdAt, id };
}
