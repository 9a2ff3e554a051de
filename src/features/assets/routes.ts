import { z } from "@hono/zod-openapi";
import { jsonBodyLimit } from "../../core/body-limit.ts";
import { createRouter, problems } from "../../core/openapi.ts";
import {
  bearer,
  bearerOptional,
  jsonBody,
  jsonContent,
  jsonResponse as json,
  NO_STORE,
  PRIVATE,
  routeDeclarer,
} from "../../core/openapi-route.ts";
import { optionalUser, principalOf, requireUser } from "../auth/guards.ts";
import {
  AssetIdParams,
  AssetList,
  AssetSchema,
  CompleteUploadBody,
  CreateUploadBody,
  CreateUploadResult,
  ListQuery,
  RawUploadQuery,
} from "./schemas.ts";
import { PRESIGN_GET_EXPIRY_SECONDS } from "./timing.ts";
import { assetsServiceFor } from "./wiring.ts";

const route = routeDeclarer("Assets");

/** Where the API is reached: configured (PUBLIC_API_URL), else this request's origin. */
const apiOrigin = (configured: string | undefined, url: string): string => configured ?? new URL(url).origin;

/** What a body streamed through the Worker must be. */
const UPLOAD_RULES =
  "The body's `Content-Type` is the file's type and `Content-Length` is required. Limits come from the settings " +
  "`assets.max-upload-bytes` and `assets.allowed-types`. PNG, JPEG, GIF, WebP and PDF bodies must start with their signature.";

const upload = route("post", "/", {
  summary: "Upload a file through the Worker (the body is the file, streamed to the bucket)",
  description: UPLOAD_RULES,
  ...bearer(requireUser()),
  request: {
    query: RawUploadQuery,
    body: {
      required: true,
      content: { "application/octet-stream": { schema: z.string().openapi({ type: "string", format: "binary" }) } },
    },
  },
  responses: { 201: json(AssetSchema, "Stored and ready"), ...problems(400, 401, 409, 411, 413, 415, 422, 503) },
});

const createUpload = route("post", "/uploads", {
  summary: "Start a direct upload to the bucket (presigned PUT, or presigned parts for large files)",
  ...bearer(requireUser(), jsonBodyLimit()),
  request: { body: jsonBody(CreateUploadBody) },
  responses: {
    201: json(CreateUploadResult, "A pending asset and where to upload its bytes"),
    ...problems(401, 413, 415, 422, 503),
  },
});

const complete = route("post", "/{id}/complete", {
  summary: "Finish a direct upload: the stored object is checked before the asset turns ready",
  ...bearer(requireUser(), jsonBodyLimit()),
  request: { params: AssetIdParams, body: { required: false, content: jsonContent(CompleteUploadBody) } },
  responses: { 200: json(AssetSchema, "Ready"), ...problems(401, 403, 404, 409, 422, 503) },
});

const list = route("get", "/", {
  summary: "The caller's assets, newest first",
  ...bearer(requireUser()),
  request: { query: ListQuery },
  responses: { 200: json(AssetList, "One page"), ...problems(401, 422, 503) },
});

const read = route("get", "/{id}", {
  summary: "One asset (private ones: owner and admins only; 404 to anyone else)",
  ...bearerOptional(optionalUser()),
  request: { params: AssetIdParams },
  responses: { 200: json(AssetSchema, "The asset"), ...problems(401, 404, 503) },
});

const content = route("get", "/{id}/content", {
  summary: "Redirect to the bytes: the public URL, or a short-lived signed URL for a private asset",
  ...bearerOptional(optionalUser()),
  request: { params: AssetIdParams },
  responses: {
    302: { description: "Location is where the bytes are", headers: z.object({ Location: z.string().url() }) },
    ...problems(401, 404, 409, 503),
  },
});

/** Where an `<img src>` can load the bytes without an Authorization header. */
const AssetUrlSchema = z
  .object({
    url: z.string().url(),
    signed: z.boolean().openapi({ description: "True for a private asset: the URL is a signed GET." }),
    expiresAt: z
      .string()
      .datetime()
      .nullable()
      .openapi({ description: "When a signed URL stops working; null for a public URL." }),
  })
  .openapi("AssetUrl");

const contentUrl = route("get", "/{id}/url", {
  summary: "A URL of the bytes usable without a token (e.g. in <img src>): the public URL, or a short-lived signed GET",
  description: `A private asset's URL is signed for ${PRESIGN_GET_EXPIRY_SECONDS} s: fetch a new one when it expires. Same visibility rules as \`GET /v1/assets/{id}\`.`,
  ...bearerOptional(optionalUser()),
  request: { params: AssetIdParams },
  responses: { 200: json(AssetUrlSchema, "Where the bytes are"), ...problems(401, 404, 409, 503) },
});

const remove = route("delete", "/{id}", {
  summary: "Delete the object and its row",
  ...bearer(requireUser()),
  request: { params: AssetIdParams },
  responses: { 204: { description: "Deleted" }, ...problems(401, 403, 404, 503) },
});

export const assetsRoutes = createRouter()
  .openapi(upload, async (c) => {
    const query = c.req.valid("query");
    const asset = await assetsServiceFor(c.var).upload(principalOf(c), {
      filename: query.filename,
      visibility: query.visibility,
      contentType: c.req.header("Content-Type"),
      contentLength: c.req.header("Content-Length"),
      body: c.req.raw.body,
      apiOrigin: apiOrigin(c.var.config.PUBLIC_API_URL, c.req.url),
    });
    return c.json(asset, 201, { Location: `/v1/assets/${asset.id}` });
  })
  .openapi(createUpload, async (c) => {
    const result = await assetsServiceFor(c.var).createUpload(principalOf(c), {
      ...c.req.valid("json"),
      apiOrigin: apiOrigin(c.var.config.PUBLIC_API_URL, c.req.url),
    });
    return c.json(result, 201, NO_STORE);
  })
  .openapi(complete, async (c) => {
    const { id } = c.req.valid("param");
    const { parts } = c.req.valid("json");
    return c.json(await assetsServiceFor(c.var).complete(principalOf(c), id, parts), 200);
  })
  .openapi(list, async (c) => {
    const page = await assetsServiceFor(c.var).list(principalOf(c), c.req.valid("query"));
    return c.json(page, 200, NO_STORE);
  })
  .openapi(read, async (c) => {
    const asset = await assetsServiceFor(c.var).get(c.var.principal, c.req.valid("param").id);
    return c.json(asset, 200, PRIVATE);
  })
  .openapi(content, async (c) => {
    const target = await assetsServiceFor(c.var).contentLocation(c.var.principal, c.req.valid("param").id);
    // A signed URL must not outlive its minute in any cache; a public one is stable but may be deleted.
    const cacheControl = target.signed ? "no-store" : "public, max-age=60";
    return c.body(null, 302, { Location: target.url, "Cache-Control": cacheControl });
  })
  .openapi(contentUrl, async (c) => {
    // Taken before signing, so the expiry we report is never later than the signature's.
    const signedAt = Date.now();
    const target = await assetsServiceFor(c.var).contentLocation(c.var.principal, c.req.valid("param").id);
    const expiresAt = target.signed ? new Date(signedAt + PRESIGN_GET_EXPIRY_SECONDS * 1000).toISOString() : null;
    return c.json({ url: target.url, signed: target.signed, expiresAt }, 200, {
      "Cache-Control": target.signed ? "no-store" : "public, max-age=60",
    });
  })
  .openapi(remove, async (c) => {
    await assetsServiceFor(c.var).remove(principalOf(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
