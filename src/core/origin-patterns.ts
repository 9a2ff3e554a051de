/**
 * The origins a browser app may call from (`CORS_ORIGINS`). A pattern is `*` (any origin), or
 * `scheme://host[:port]` where the host may start with `*.` (one or more subdomain labels, not the
 * bare domain) and the port may be `*` (any port, or none). Browsers send the Origin serialized in
 * lowercase without a default port, so patterns are normalized the same way and compared exactly.
 */
export interface OriginPattern {
  /** The pattern as normalized (what the docs and errors show). */
  pattern: string;
  matches(origin: string): boolean;
}

const PATTERN = /^(https?):\/\/(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(\d{1,5}|\*))?$/;
const DEFAULT_PORT: Record<string, string> = { http: "80", https: "443" };
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export const ORIGIN_PATTERN_HELP =
  "use scheme://host[:port] without a path, e.g. https://app.example.com, https://*.example.com or http://localhost:*";

/** Parses one pattern, or returns why it is not one. */
export function parseOriginPattern(text: string): OriginPattern | { error: string } {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "*") return { pattern: "*", matches: (origin) => origin !== "null" };
  const m = PATTERN.exec(trimmed);
  if (!m) return { error: `"${text.trim()}" is not an origin pattern: ${ORIGIN_PATTERN_HELP}` };
  const [, scheme = "", wildcardHost, host = "", port] = m;
  if (port !== undefined && port !== "*" && Number(port) > 65535) {
    return { error: `"${text.trim()}" has a port above 65535` };
  }
  const explicitPort = port === undefined || port === DEFAULT_PORT[scheme] ? "" : `:${port}`;
  const pattern = `${scheme}://${wildcardHost ?? ""}${host}${explicitPort}`;
  if (!wildcardHost && port !== "*") return { pattern, matches: (origin) => origin === pattern };
  const hostPart = `${wildcardHost ? "(?:[a-z0-9-]+\\.)+" : ""}${escapeRegExp(host)}`;
  const portPart = port === "*" ? "(?::\\d{1,5})?" : escapeRegExp(explicitPort);
  const regex = new RegExp(`^${escapeRegExp(scheme)}://${hostPart}${portPart}$`);
  return { pattern, matches: (origin) => regex.test(origin) };
}

/** A comma-separated list or a JSON array of patterns. */
export function splitOriginList(text: string): { items: string[] } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed.startsWith("[")) return { items: trimmed.split(",").filter((item) => item.trim() !== "") };
  try {
    const parsed = JSON.parse(trimmed) as unknown;
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === "string")) return { items: parsed };
  } catch {
    // reported below
  }
  return { error: "is not a JSON array of strings (or use a comma-separated list)" };
}
