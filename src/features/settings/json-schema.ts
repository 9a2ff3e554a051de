import { Validator } from "@cfworker/json-schema";
import { RE2JS } from "re2js";
import type { FieldError } from "../../core/problem.ts";
import type { JsonSchema } from "./model.ts";

// Limits on a setting's schema beyond its size (MAX_SCHEMA_BYTES), checked when it is written.
/** Regular expressions (`pattern` values and `patternProperties` keys) in one schema. */
export const MAX_SCHEMA_PATTERNS = 64;
/** Characters in one of them. */
export const MAX_PATTERN_LENGTH = 512;
/** Nesting of objects and arrays in a schema document. */
export const MAX_SCHEMA_DEPTH = 32;

/*
 * Regular expressions in schemas run on RE2 (re2js): linear time in the input, whatever the
 * pattern. JavaScript's backtracking engine takes exponential time on patterns such as ^(a+)+$
 * (34 a's and a "!" held an isolate for minutes), and a Worker cannot interrupt a running regex.
 * RE2 has no lookaround and no backreferences; schemas that use them are refused when written.
 */
const compiled = new Map<string, RE2JS>();
const COMPILED_CACHE_SIZE = 256;

function compileLinear(source: string): RE2JS {
  let re = compiled.get(source);
  if (!re) {
    re = RE2JS.compile(RE2JS.translateRegExp(source));
    if (compiled.size >= COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value ?? "");
    compiled.set(source, re);
  }
  return re;
}

/** The part of RegExp that @cfworker/json-schema uses (`new RegExp(source, "u")`, `.test()`), on RE2. */
class LinearRegExp {
  readonly #re: RE2JS;
  constructor(source: string) {
    this.#re = compileLinear(String(source));
  }
  test(input: string): boolean {
    return this.#re.test(String(input));
  }
}

/**
 * Runs `work` (the synchronous validator) with the global RegExp constructor swapped for the RE2 one.
 * @cfworker/json-schema builds its pattern regexes with `new RegExp` and offers no hook; its own
 * regex literals are unaffected. Nothing else runs meanwhile: validation is synchronous.
 */
function withLinearRegExp<T>(work: () => T): T {
  const original = globalThis.RegExp;
  globalThis.RegExp = LinearRegExp as unknown as RegExpConstructor;
  try {
    return work();
  } finally {
    globalThis.RegExp = original;
  }
}

// Keywords whose values are data, not schemas: a "pattern" key inside them is not a regex.
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples"]);

/** Walks a schema for its regexes and depth; the first limit broken, with the path into the schema. */
function schemaLimitsProblem(schema: unknown): FieldError | null {
  let patterns = 0;
  const visit = (node: unknown, path: string[], depth: number): FieldError | null => {
    if (depth > MAX_SCHEMA_DEPTH)
      return { path: path.join("."), message: `nests deeper than ${MAX_SCHEMA_DEPTH} levels` };
    if (node === null || typeof node !== "object") return null;
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    for (const [key, value] of entries) {
      const at = [...path, key];
      const regexes: [string, string[]][] = [];
      if (!Array.isArray(node) && key === "pattern" && typeof value === "string") regexes.push([value, at]);
      if (!Array.isArray(node) && key === "patternProperties" && value && typeof value === "object")
        for (const p of Object.keys(value)) regexes.push([p, [...at, p]]);
      for (const [source, where] of regexes) {
        const problem = patternProblem(source, ++patterns);
        if (problem) return { path: where.join("."), message: problem };
      }
      if (!Array.isArray(node) && DATA_KEYWORDS.has(key)) continue;
      const found = visit(value, at, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return visit(schema, ["schema"], 0);
}

/**
 * Checking a value walks (roughly) every subschema over every value node, and `uniqueItems`
 * compares every pair of an array's items: 30,000 items took 2.5 s, 150 subschemas over 30,000
 * nodes 5 s. Both are bounded up front so one write cannot hold the isolate for seconds.
 */
export const MAX_CHECK_STEPS = 1_000_000;
export const MAX_UNIQUE_ITEMS = 10_000;

function countNodes(node: unknown, onArray?: (length: number) => void): number {
  if (node === null || typeof node !== "object") return 1;
  const children = Array.isArray(node) ? node : Object.values(node);
  if (Array.isArray(node)) onArray?.(node.length);
  let n = 1;
  for (const child of children) n += countNodes(child, onArray);
  return n;
}

function validationCostProblem(schema: JsonSchema, value: unknown): FieldError | null {
  if (typeof schema === "boolean") return null;
  let longestArray = 0;
  const valueNodes = countNodes(value, (length) => {
    longestArray = Math.max(longestArray, length);
  });
  const schemaText = JSON.stringify(schema);
  if (schemaText.includes('"uniqueItems":true') && longestArray > MAX_UNIQUE_ITEMS)
    return { path: "value", message: `has an array of more than ${MAX_UNIQUE_ITEMS} items under a uniqueItems schema` };
  if (countNodes(schema) * valueNodes > MAX_CHECK_STEPS)
    return {
      path: "value",
      message: `is too large to check against this schema (schema nodes × value nodes over ${MAX_CHECK_STEPS})`,
    };
  return null;
}

function patternProblem(source: string, count: number): string | null {
  if (count > MAX_SCHEMA_PATTERNS)
    return `is one regular expression too many (at most ${MAX_SCHEMA_PATTERNS} per schema)`;
  if (source.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  try {
    compileLinear(source);
    return null;
  } catch {
    return "is not a regular expression the linear-time engine (RE2 syntax) runs: no lookaround, no backreferences";
  }
}

/** At most this many failures are reported back: enough to fix a value, bounded for hostile schemas. */
const MAX_REPORTED_ERRORS = 20;

// Keywords whose failure only says "something below me failed"; the nested unit names the cause.
const ENCLOSING_KEYWORDS = new Set([
  "properties",
  "patternProperties",
  "additionalProperties",
  "items",
  "prefixItems",
  "allOf",
  "$ref",
  "dependentSchemas",
]);

export type SchemaCheck = { ok: true } | { ok: false; errors: FieldError[] };

// "#/a/0/b" (cfworker's instance location) → "value.a.0.b", so paths read like the rest of the API's 422s.
function toPath(instanceLocation: string): string {
  const pointer = instanceLocation.replace(/^#/, "");
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  return ["value", ...parts].join(".");
}

/**
 * Validates a value against a per-key JSON Schema with @cfworker/json-schema, which interprets the
 * schema instead of generating code (Workers forbid `new Function`, so Ajv's compile cannot run).
 */
export function checkAgainstSchema(schema: JsonSchema, value: unknown): SchemaCheck {
  const cost = validationCostProblem(schema, value);
  if (cost) return { ok: false, errors: [cost] };
  let result: ReturnType<Validator["validate"]>;
  try {
    result = withLinearRegExp(() => new Validator(schema, "2020-12", false).validate(value));
  } catch {
    // A bad regex or an unresolvable $ref only shows up while validating.
    return { ok: false, errors: [{ path: "schema", message: "is not a usable JSON Schema" }] };
  }
  if (result.valid) return { ok: true };
  // cfworker reports the failing keyword and every enclosing one; the leaves say what to fix.
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const unit of result.errors) {
    if (ENCLOSING_KEYWORDS.has(unit.keyword)) continue;
    const message = unit.keyword === "false" ? "is not allowed here" : unit.error;
    const error = { path: toPath(unit.instanceLocation), message };
    const id = `${error.path}\u0000${error.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    errors.push(error);
    if (errors.length === MAX_REPORTED_ERRORS) break;
  }
  if (errors.length === 0) errors.push({ path: "value", message: "does not match the setting's schema" });
  return { ok: false, errors };
}

/**
 * Checks a schema sent by an admin before it is stored: within the limits above, every regex one
 * RE2 runs, and the validator able to run it (an empty probe exercises $ref resolution).
 */
export function checkSchemaUsable(schema: JsonSchema): SchemaCheck {
  const limit = schemaLimitsProblem(schema);
  if (limit) return { ok: false, errors: [limit] };
  try {
    withLinearRegExp(() => new Validator(schema, "2020-12", false).validate(null));
    return { ok: true };
  } catch {
    return { ok: false, errors: [{ path: "schema", message: "is not a usable JSON Schema" }] };
  }
}
