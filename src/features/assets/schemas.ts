import { z } from "@hono/zod-openapi";
import { storable } from "../../core/text.ts";

export const VisibilitySchema = z.enum(["public", "private"]).openapi("AssetVisibility");

export const AssetSchema = z
  .object({
    id: z.string().uuid(),
    url: z
      .string()
      .url()
      .openapi({ description: "Absolute. Public assets: the bucket's public URL; private: this API's content route." }),
    filename: z.string(),
    contentType: z.string(),
    size: z.number().int().nonnegative(),
    sha256: z.string().nullable().openapi({ description: "Hex SHA-256 of the bytes; null while pending." }),
    visibility: VisibilitySchema,
    status: z.enum(["pending", "ready"]),
    ownerId: z.string().uuid(),
    createdAt: z.string().datetime(),
  })
  .openapi("Asset");

export const AssetIdParams = z.object({
  // A plain string, not .uuid(): a malformed id is "not found" (404), like any id the caller may not see.
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});

const FilenameSchema = storable(z.string().trim().min(1).max(255));

export const RawUploadQuery = z.object({
  filename: FilenameSchema.optional().openapi({ description: "Shown to users; the object key uses a sanitised copy." }),
  visibility: VisibilitySchema.default("private"),
});

export const CreateUploadBody = z
  .object({
    filename: FilenameSchema,
    contentType: storable(z.string().min(3).max(255)),
    size: z.number().int().positive(),
    visibility: VisibilitySchema.default("private"),
    multipart: z
      .boolean()
      .optional()
      .openapi({ description: "Force a multipart upload (presigned parts); large sizes get one regardless." }),
  })
  .openapi("CreateUpload");

export const UploadPartSchema = z.object({
  partNumber: z.number().int().positive(),
  url: z.string().url(),
  size: z.number().int().positive(),
});

export const DirectUploadSchema = z
  .union([
    z.object({
      method: z.literal("PUT"),
      url: z.string().url(),
      headers: z.record(z.string(), z.string()),
      expiresAt: z.string().datetime(),
    }),
    z.object({
      method: z.literal("PUT"),
      headers: z.record(z.string(), z.string()),
      expiresAt: z.string().datetime(),
      partSize: z.number().int().positive(),
      parts: z.array(UploadPartSchema).openapi({
        description: "PUT each part's bytes (exactly `size`) to its URL; send each response's ETag header to complete.",
      }),
    }),
  ])
  .openapi("DirectUpload");

export const CreateUploadResult = z.object({ asset: AssetSchema, upload: DirectUploadSchema }).openapi("CreatedUpload");

export const CompleteUploadBody = z
  .object({
    parts: z
      .array(z.object({ partNumber: z.number().int().positive(), etag: storable(z.string().min(1).max(256)) }))
      .min(1)
      .max(10_000)
      .optional()
      .openapi({ description: "Multipart uploads only: every part's number and the ETag its PUT returned." }),
  })
  .openapi("CompleteUpload");

export const ListQuery = z.object({
  cursor: storable(z.string().max(512)).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const AssetList = z
  .object({ items: z.array(AssetSchema), nextCursor: z.string().nullable() })
  .openapi("AssetList");
