import { z } from "@hono/zod-openapi";

/**
 * Text Postgres cannot store: NUL (text columns refuse it with SQLSTATE 22021, jsonb with 22P05)
 * and lone UTF-16 surrogates (no UTF-8 form, so they cannot reach the database intact). Refused at
 * the edge with a 422 naming the field, so the request never gets as far as a query that would fail.
 */
export const UNSTORABLE_TEXT_MESSAGE = "must not contain NUL (U+0000) or unpaired surrogate characters";

export const isStorableText = (text: string): boolean => !text.includes("\u0000") && text.isWellFormed();

/** The refinement every request string goes through (bodies, queries, params, headers that are stored). */
export const storable = <T extends z.ZodType<string | undefined>>(schema: T): T =>
  schema.refine((text) => text === undefined || isStorableText(text), { message: UNSTORABLE_TEXT_MESSAGE }) as T;

/** A string schema with the refinement already on. */
export const storableString = (): z.ZodString => storable(z.string());

/**
 * The path (inside `value`) of the first string or object key that Postgres cannot store, or null.
 * For JSON documents (setting values and schemas) that go into jsonb whole.
 */
export function unstorableJsonPath(value: unknown, path: (string | number)[] = []): (string | number)[] | null {
  if (typeof value === "string") return isStorableText(value) ? null : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableJsonPath(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (!isStorableText(key)) return [...path, key];
      const found = unstorableJsonPath(inner, [...path, key]);
      if (found) return found;
    }
  }
  return null;
}

/** The JSON-document version of `storable`: the issue's path points at the offending string. */
export const storableJson = <T extends z.ZodType>(schema: T): T =>
  schema.superRefine((value, ctx) => {
    const at = unstorableJsonPath(value);
    if (at) ctx.addIssue({ code: "custom", path: at, message: UNSTORABLE_TEXT_MESSAGE });
  }) as unknown as T;
