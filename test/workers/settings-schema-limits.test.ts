// Setting schemas cannot hold an isolate: their regexes run on a linear-time engine, and schemas
// beyond the documented limits are refused when written (issue #11's ReDoS reproduction).
import { describe, expect, it } from "vitest";
import {
  MAX_PATTERN_LENGTH,
  MAX_SCHEMA_DEPTH,
  MAX_SCHEMA_PATTERNS,
  MAX_UNIQUE_ITEMS,
} from "../../src/features/settings/json-schema.ts";
import { call, callerWith, jsonInit, uniqueKey } from "./support/settings.ts";

async function put(
  body: unknown,
): Promise<{ status: number; errors: { path: string; message: string }[]; ms: number }> {
  const admin = await callerWith(["admin"]);
  const started = Date.now();
  const res = await call(
    `/v1/settings/${uniqueKey("schema")}`,
    jsonInit("PUT", body, { ...admin.headers, "If-None-Match": "*" }),
  );
  const json = (await res.json()) as { errors?: { path: string; message: string }[] };
  return { status: res.status, errors: json.errors ?? [], ms: Date.now() - started };
}

describe("setting schema regexes and limits", () => {
  it("^(a+)+$ against 34 a's and a '!' gives a prompt 422, not minutes of CPU", async () => {
    const result = await put({ value: `${"a".repeat(34)}!`, schema: { type: "string", pattern: "^(a+)+$" } });
    expect(result.status).toBe(422);
    expect(result.errors).toContainEqual({ path: "value", message: "String does not match pattern." });
    // A backtracking engine needs about 2^34 steps here; linear time is a few milliseconds.
    expect(result.ms).toBeLessThan(2_000);
    // And a longer input is just as quick: each extra character no longer doubles the work.
    const longer = await put({ value: `${"a".repeat(60_000)}!`, schema: { type: "string", pattern: "^(a+)+$" } });
    expect(longer.status).toBe(422);
    expect(longer.ms).toBeLessThan(2_000);
  });

  it("patterns still match what they should, patternProperties included", async () => {
    const ok = await put({
      value: { "x-id": "2024-01" },
      schema: {
        type: "object",
        patternProperties: { "^x-": { type: "string", pattern: "^\\d{4}-\\d{2}$" } },
        additionalProperties: false,
      },
    });
    expect(ok.status).toBe(201);
    const bad = await put({
      value: { "x-id": "24-1", other: 1 },
      schema: {
        type: "object",
        patternProperties: { "^x-": { type: "string", pattern: "^\\d{4}-\\d{2}$" } },
        additionalProperties: false,
      },
    });
    expect(bad.status).toBe(422);
    expect(bad.errors.map((e) => e.path).sort()).toEqual(["value.other", "value.x-id"]);
  });

  it("refuses at write a pattern RE2 cannot run (lookaround, backreference), naming where it is", async () => {
    const look = await put({ value: "a", schema: { type: "string", pattern: "^(?=a)a$" } });
    expect(look.status).toBe(422);
    expect(look.errors[0]?.path).toBe("schema.pattern");
    const backref = await put({
      value: {},
      schema: { type: "object", patternProperties: { "(a)\\1": {} } },
    });
    expect(backref.status).toBe(422);
    expect(backref.errors[0]?.path).toBe("schema.patternProperties.(a)\\1");
  });

  it("refuses schemas past the documented limits: pattern length, pattern count, depth", async () => {
    const long = await put({ value: "a", schema: { type: "string", pattern: "a".repeat(MAX_PATTERN_LENGTH + 1) } });
    expect(long.status).toBe(422);
    const many = Object.fromEntries(
      Array.from({ length: MAX_SCHEMA_PATTERNS + 1 }, (_, i) => [`p${i}`, { type: "string", pattern: `^${i}` }]),
    );
    const tooMany = await put({ value: {}, schema: { type: "object", properties: many } });
    expect(tooMany.status).toBe(422);
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < MAX_SCHEMA_DEPTH; i++) deep = { items: deep };
    const tooDeep = await put({ value: [], schema: deep });
    expect(tooDeep.status).toBe(422);
    // "pattern" inside data keywords is data, not a regex.
    const data = await put({ value: 1, schema: { const: 1, default: { pattern: "(?=x)" } } });
    expect(data.status).toBe(201);
  });

  it("refuses a check that would cost seconds: uniqueItems over a long array, a big schema over a big value", async () => {
    const started = Date.now();
    const unique = await put({
      value: Array.from({ length: MAX_UNIQUE_ITEMS + 1 }, (_, i) => i),
      schema: { type: "array", uniqueItems: true },
    });
    expect(unique.status).toBe(422);
    expect(unique.errors[0]?.path).toBe("value");
    const branches = {
      anyOf: Array.from({ length: 50 }, (_, i) => ({ items: { anyOf: [{ type: "string" }, { minimum: i }] } })),
    };
    const wide = await put({ value: Array.from({ length: 10_000 }, (_, i) => i), schema: branches });
    expect(wide.status).toBe(422);
    expect(Date.now() - started).toBeLessThan(3_000);
    // Ordinary sizes are checked as before.
    const fine = await put({ value: [1, 2, 3], schema: { type: "array", uniqueItems: true } });
    expect(fine.status).toBe(201);
  });
});
