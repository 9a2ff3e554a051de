/**
 * HTTP conditional requests for settings writes (RFC 9110 §13.1). The entity tag of a setting is its
 * version, so `If-Match: "3"` means "only if the version is still 3". Pure functions: no I/O.
 */

/** One entity-tag list as sent: `*`, or tags such as `"3", W/"4"`. */
export const ENTITY_TAG_LIST = /^\s*(\*|(W\/)?"[\x21\x23-\x7e]*"(\s*,\s*(W\/)?"[\x21\x23-\x7e]*")*)\s*$/;

export interface EntityTagList {
  any: boolean;
  /** Versions named by strong tags (If-Match compares strongly: weak tags never match). */
  strong: number[];
  /** Versions named by any tag, weak or strong (If-None-Match compares weakly). */
  all: number[];
}

export interface Preconditions {
  ifMatch?: EntityTagList | undefined;
  ifNoneMatch?: EntityTagList | undefined;
}

export type PreconditionResult = "pass" | "failed" | "required";

/** Parses a header already checked against ENTITY_TAG_LIST; tags that are not versions match nothing. */
export function parseEntityTags(header: string | undefined): EntityTagList | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === "*") return { any: true, strong: [], all: [] };
  const strong: number[] = [];
  const all: number[] = [];
  for (const match of header.matchAll(/(W\/)?"([^"]*)"/g)) {
    const digits = match[2] ?? "";
    if (!/^[1-9][0-9]{0,9}$/.test(digits)) continue;
    const version = Number(digits);
    all.push(version);
    if (!match[1]) strong.push(version);
  }
  return { any: false, strong, all };
}

export const etagOf = (version: number): string => `"${version}"`;

/**
 * Decides a write against the current version (null when the key does not exist). Writes must be
 * conditional so a client never overwrites a change it has not seen: no precondition is a 428.
 */
export function evaluate(pre: Preconditions, current: number | null): PreconditionResult {
  if (!pre.ifMatch && !pre.ifNoneMatch) return "required";
  if (pre.ifMatch) {
    const matches = current !== null && (pre.ifMatch.any || pre.ifMatch.strong.includes(current));
    if (!matches) return "failed";
  }
  if (pre.ifNoneMatch) {
    const matches = current !== null && (pre.ifNoneMatch.any || pre.ifNoneMatch.all.includes(current));
    if (matches) return "failed";
  }
  return "pass";
}

/** For conditional GET: true when the client's copy is current (answer 304). */
export function notModified(ifNoneMatch: EntityTagList | undefined, current: number): boolean {
  return ifNoneMatch !== undefined && (ifNoneMatch.any || ifNoneMatch.all.includes(current));
}
