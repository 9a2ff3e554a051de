import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../../core/app-env.ts";
import { respond, respondJson } from "../../core/respond.ts";
import { notFound } from "../../core/problem.ts";
import { jsonBodyLimit } from "../../core/body-limit.ts";
import { createRouter, problems } from "../../core/openapi.ts";
import {
  bearer,
  jsonBody,
  jsonContent as json,
  jsonResponse,
  NO_STORE,
  routeDeclarer,
} from "../../core/openapi-route.ts";
import { optionalUser, requireActiveSession, requireRole } from "../auth/guards.ts";
import { canSee, type StoredSetting, type Viewer, visibleTo } from "./model.ts";
import { etagOf, notModified, parseEntityTags } from "./preconditions.ts";
import {
  DeleteHeaders,
  HistoryPageSchema,
  HistoryQuery,
  KeyParams,
  ReadHeaders,
  SettingHeaders,
  SettingListSchema,
  SettingSchema,
  SettingWriteSchema,
  SourceHeader,
  WriteHeaders,
} from "./schemas.ts";
import { freshSnapshot, type SettingsScope, settingsServiceFor, viewerOf } from "./wiring.ts";

const route = routeDeclarer("Settings");
// Answers differ per caller (visibility), so shared caches must not keep them; clients revalidate by ETag.
const READ_CACHE = { "cache-control": "private, no-cache", vary: "Authorization" };

const adminWrite = (...more: MiddlewareHandler<AppEnv>[]) =>
  bearer(requireRole("admin"), requireActiveSession(), ...more);

/** A write's answer: the setting as stored, its version as the ETag (no source: it came from Postgres). */
const WrittenHeaders = SettingHeaders.omit({ "X-Settings-Source": true });
const written = (description: string) => ({ description, headers: WrittenHeaders, content: json(SettingSchema) });

const listSettings = route("get", "/", {
  summary: "Every setting the caller may see (anonymous: public only; users: +authenticated; admins: all)",
  middleware: [optionalUser()],
  responses: {
    200: {
      description: "The visible settings, sorted by key",
      headers: SourceHeader,
      content: json(SettingListSchema),
    },
    ...problems(401, 503),
  },
});

const getSetting = route("get", "/{key}", {
  summary: "One setting, with its version as a strong ETag",
  middleware: [optionalUser()],
  request: { params: KeyParams, headers: ReadHeaders },
  responses: {
    200: { description: "The setting", headers: SettingHeaders, content: json(SettingSchema) },
    304: { description: "The version named in If-None-Match is still current", headers: SettingHeaders },
    ...problems(401, 404, 422, 503),
  },
});

const putSetting = route("put", "/{key}", {
  summary: 'Create (If-None-Match: *) or update (If-Match: "<version>") a setting',
  description:
    "Admins only. The value must satisfy the key's JSON Schema when it has one (422 lists the failing paths). " +
    "The change is committed with a history entry, then published to the realtime room `system`.",
  ...adminWrite(jsonBodyLimit()),
  request: { params: KeyParams, headers: WriteHeaders, body: jsonBody(SettingWriteSchema) },
  responses: {
    200: written("Updated"),
    201: written("Created"),
    ...problems(401, 403, 409, 412, 413, 415, 422, 428, 503),
  },
});

const deleteSetting = route("delete", "/{key}", {
  summary: 'Delete a setting (If-Match: "<version>" required)',
  ...adminWrite(),
  request: { params: KeyParams, headers: DeleteHeaders },
  responses: {
    204: { description: "Deleted; the deletion is recorded in history as the next version" },
    ...problems(401, 403, 404, 412, 422, 428, 503),
  },
});

const settingHistory = route("get", "/{key}/history", {
  summary: "Past versions of a setting, newest first (deletions included)",
  ...bearer(requireRole("admin")),
  request: { params: KeyParams, query: HistoryQuery },
  responses: { 200: jsonResponse(HistoryPageSchema, "A page of history"), ...problems(401, 403, 404, 422, 503) },
});

// The list body is a pure function of the (immutable) visible list, which is the same array for every
// hot read of one snapshot: serialise it once per snapshot and viewer.
const listBodies = new WeakMap<readonly StoredSetting[], string>();
function listBody(items: readonly StoredSetting[], viewer: Viewer): string {
  let body = listBodies.get(items);
  if (body === undefined) {
    body = JSON.stringify({ items: items.map((s) => view(s, viewer)) });
    listBodies.set(items, body);
  }
  return body;
}

/** The wire shape: the JSON Schema is an admin's business only. */
function view(setting: StoredSetting, viewer: Viewer) {
  const { schema, ...rest } = setting;
  return viewer === "admin" && schema !== null ? { ...rest, schema } : rest;
}

// c.get, not c.var: c.var copies every variable into a new object on each read.
const scopeOf = (c: Context<AppEnv>): SettingsScope => ({
  deps: c.get("deps"),
  config: c.get("config"),
  log: c.get("log"),
});

/** As the service's get: missing and hidden are the same 404. */
function visibleOne(setting: StoredSetting | undefined, viewer: Viewer): StoredSetting {
  if (!setting || !canSee(viewer, setting.visibility)) throw notFound();
  return setting;
}

export const settingsRoutes = createRouter()
  // The two reads are not async: from a fresh local snapshot they return their Response
  // synchronously (core/sync-chain.ts), and only a revalidation or a miss goes through the service.
  .openapi(listSettings, (c) => {
    const viewer = viewerOf(c.get("principal"));
    const scope = scopeOf(c);
    const fresh = freshSnapshot(scope);
    // The body is the documented JSON, serialised once per snapshot (listBody); typed as that JSON.
    const answer = (data: readonly StoredSetting[], source: string) =>
      respond(c, listBody(data, viewer), 200, {
        ...READ_CACHE,
        "content-type": "application/json",
        "x-settings-source": source,
      }) as never;
    if (fresh) return answer(visibleTo(fresh.all, viewer), "memory");
    return settingsServiceFor(scope)
      .list(viewer)
      .then(({ data, source }) => answer(data, source));
  })
  .openapi(getSetting, (c) => {
    const viewer = viewerOf(c.get("principal"));
    const { key } = c.req.valid("param");
    const scope = scopeOf(c);
    const answer = (data: StoredSetting, source: string) => {
      const headers = { ...READ_CACHE, etag: etagOf(data.version), "x-settings-source": source };
      if (notModified(parseEntityTags(c.req.valid("header")["if-none-match"]), data.version)) {
        return respond(c, null, 304, headers) as never;
      }
      return respondJson(c, view(data, viewer), 200, headers);
    };
    const fresh = freshSnapshot(scope);
    if (fresh) return answer(visibleOne(fresh.byKey.get(key), viewer), "memory");
    return settingsServiceFor(scope)
      .get(viewer, key)
      .then(({ data, source }) => answer(data, source)) as Promise<ReturnType<typeof answer>>;
  })
  .openapi(putSetting, async (c) => {
    const { key } = c.req.valid("param");
    const header = c.req.valid("header");
    const body = c.req.valid("json");
    const { setting, created } = await settingsServiceFor(c.var).put(c.var.principal, {
      key,
      value: body.value,
      visibility: body.visibility,
      schema: body.schema,
      preconditions: {
        ifMatch: parseEntityTags(header["if-match"]),
        ifNoneMatch: parseEntityTags(header["if-none-match"]),
      },
    });
    const headers = { ETag: etagOf(setting.version), "Cache-Control": "no-store" };
    if (created) {
      return c.json(view(setting, "admin"), 201, { ...headers, Location: `/v1/settings/${setting.key}` });
    }
    return c.json(view(setting, "admin"), 200, headers);
  })
  .openapi(deleteSetting, async (c) => {
    const { key } = c.req.valid("param");
    await settingsServiceFor(c.var).remove(c.var.principal, {
      key,
      preconditions: { ifMatch: parseEntityTags(c.req.valid("header")["if-match"]) },
    });
    return c.body(null, 204);
  })
  .openapi(settingHistory, async (c) => {
    const { key } = c.req.valid("param");
    const { cursor, limit } = c.req.valid("query");
    const page = await settingsServiceFor(c.var).history(key, { cursor, limit });
    return c.json(page, 200, NO_STORE);
  });
