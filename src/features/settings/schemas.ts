import { z } from "@hono/zod-openapi";
import {
  MAX_SETTINGS_HISTORY_PAGE,
  MAX_SCHEMA_BYTES,
  MAX_VALUE_BYTES,
  SETTING_KEY_PATTERN,
  VISIBILITIES,
} from "./model.ts";
import { ENTITY_TAG_LIST } from "./preconditions.ts";
import { storable, storableJson } from "../../core/text.ts";

export const VisibilitySchema = z.enum(VISIBILITIES).openapi("SettingVisibility", {
  description: "Who may read: `public` (anyone), `authenticated` (signed-in users), `admin` (admins only).",
});

const JsonValue = storableJson(z.unknown()).openapi({
  description: `Any JSON value, at most ${MAX_VALUE_BYTES} bytes serialized.`,
  example: { maxBytes: 10485760 },
});

const JsonSchemaDoc = storableJson(z.union([z.record(z.string(), z.unknown()), z.boolean()])).openapi(
  "SettingJsonSchema",
  {
    description: `A JSON Schema (draft 2020-12) every value of this key must satisfy, at most ${MAX_SCHEMA_BYTES} bytes.`,
    example: { type: "object", properties: { maxBytes: { type: "integer", minimum: 1 } }, required: ["maxBytes"] },
  },
);

export const KeyParams = z.object({
  key: z
    .string()
    .regex(SETTING_KEY_PATTERN, "must match ^[a-z0-9][a-z0-9._-]{0,127}$")
    .openapi({ param: { name: "key", in: "path" }, example: "uploads.limits" }),
});

export const SettingSchema = z
  .object({
    key: z.string().openapi({ example: "uploads.limits" }),
    value: JsonValue,
    version: z.number().int().positive().openapi({ description: "Grows by one per committed change; the ETag." }),
    visibility: VisibilitySchema,
    updatedAt: z.string().openapi({ format: "date-time" }),
    updatedBy: z.string().nullable().openapi({ description: "Id of the admin who made the change." }),
    schema: JsonSchemaDoc.optional().openapi({ description: "Shown to admins only, when the key has one." }),
  })
  .openapi("Setting");

export const SettingListSchema = z.object({ items: z.array(SettingSchema) }).openapi("SettingList");

export const SettingWriteSchema = z
  .object({
    value: JsonValue,
    visibility: VisibilitySchema.optional().openapi({
      description: "Omitted: unchanged on update, `admin` on create.",
    }),
    schema: JsonSchemaDoc.nullable().optional().openapi({
      description:
        "Omitted: unchanged. An object or boolean: from this write on, values must satisfy it (this value included). null: remove it.",
    }),
  })
  .strict()
  .openapi("SettingWrite");

export const HistoryEntrySchema = z
  .object({
    key: z.string(),
    value: JsonValue.openapi({ description: "The value at that version; null for a deletion." }),
    version: z.number().int().positive(),
    visibility: VisibilitySchema,
    deleted: z.boolean(),
    changedAt: z.string().openapi({ format: "date-time" }),
    changedBy: z.string().nullable(),
  })
  .openapi("SettingHistoryEntry");

export const HistoryPageSchema = z
  .object({ items: z.array(HistoryEntrySchema), nextCursor: z.string().nullable() })
  .openapi("SettingHistoryPage");

export const HistoryQuery = z.object({
  cursor: storable(z.string().max(64)).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_SETTINGS_HISTORY_PAGE).default(20),
});

const entityTags = z.string().max(1024).regex(ENTITY_TAG_LIST, 'must be * or a list of entity tags such as "3"');

// Hono hands headers to the validator with lower-case names.
export const WriteHeaders = z.object({
  "if-match": entityTags.optional().openapi({
    param: { in: "header" },
    description: 'Update or delete only if the version is one of these, e.g. "3" (or * for any).',
  }),
  "if-none-match": entityTags.optional().openapi({
    param: { in: "header" },
    description: "`*`: create only if the key does not exist.",
  }),
});

export const DeleteHeaders = WriteHeaders.pick({ "if-match": true });

export const ReadHeaders = z.object({
  "if-none-match": entityTags.optional().openapi({
    param: { in: "header" },
    description: "A version the client holds: 304 while it is still current.",
  }),
});

export const SourceHeader = z.object({
  "X-Settings-Source": z.enum(["memory", "cache", "database", "stale-cache"]).openapi({
    description:
      "Where the answer came from: this instance's copy of the shared snapshot (memory), the shared cache, Postgres, or (Postgres unavailable) a cached snapshot that may be out of date.",
  }),
});

export const SettingHeaders = SourceHeader.extend({ ETag: z.string().openapi({ example: '"3"' }) });
