import { Validator } from "@cfworker/json-schema";
import type { FieldError } from "../../core/problem.ts";
import type { JsonSchema } from "./model.ts";

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
  let result: ReturnType<Validator["validate"]>;
  try {
    result = new Validator(schema, "2020-12", false).validate(value);
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
 * Checks a schema sent by an admin before it is stored: it must be an object or boolean and the
 * validator must be able to run it (an empty probe exercises $ref resolution and patterns).
 */
export function checkSchemaUsable(schema: JsonSchema): SchemaCheck {
  try {
    new Validator(schema, "2020-12", false).validate(null);
    return { ok: true };
  } catch {
    return { ok: false, errors: [{ path: "schema", message: "is not a usable JSON Schema" }] };
  }
}
