// "@hono/zod-openapi" for the deploy bundle (wrangler.toml [alias], mirrored in vitest.config.ts):
// the package's route registration and request validation (node_modules/@hono/zod-openapi, 1.6.3,
// MIT, ported as is) without the OpenAPI document generator (@asteasolutions/zod-to-openapi, 8 KiB
// gzip; it also held on to zod's JSON Schema conversion and, by taking `z` as a value, all of zod).
// `doc31` serves the document scripts/openapi-build.ts generated from the same route definitions on
// Node, a Workers Static Asset read once per isolate through the ASSETS binding (not bundled: 7 KiB
// gzip of the upload; test/node/openapi-prebuilt.test.ts proves it is not stale, and the contract
// suite requires the same bytes from the Worker, Node, Deno and Bun).
// Not ported: `basePath`, `openapiRoutes`, `getOpenAPIDocument`/`doc` (nothing here uses them).
// `.openapi()` on a schema only attaches documentation metadata, so here it returns the schema.
// The features are type-checked against the real package; only the bundle runs this module.
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Context, MiddlewareHandler, Next } from "hono";
import { ZodType } from "zod";

export { z } from "zod";

(ZodType.prototype as unknown as { openapi: () => unknown }).openapi = function openapi(this: unknown) {
  return this;
};

type AnyHook = (result: unknown, c: Context) => unknown;
interface BodyContent {
  [mediaType: string]: { schema?: unknown } | undefined;
}
interface RouteConfig {
  method: string;
  path: string;
  hide?: boolean;
  middleware?: MiddlewareHandler | MiddlewareHandler[];
  request?: {
    query?: unknown;
    params?: unknown;
    headers?: unknown;
    cookies?: unknown;
    body?: { content?: BodyContent; required?: boolean };
  };
  [key: string]: unknown;
}

function isZod(x: unknown): x is ZodType {
  if (!x || typeof x !== "object") return false;
  const s = x as Record<string, unknown>;
  return (
    typeof s.parse === "function" &&
    typeof s.safeParse === "function" &&
    typeof s.parseAsync === "function" &&
    typeof s.safeParseAsync === "function"
  );
}

/** public/_templates/openapi-routes.json (scripts/openapi-build.ts TEMPLATE_ASSET). */
const TEMPLATE_ASSET = "/_templates/openapi-routes.json";
let template: Record<string, unknown> | undefined;

/**
 * The template, parsed once per isolate. Only the parsed value is shared: each request that finds
 * none reads it itself (a promise of another request's I/O is not awaited across requests), and a
 * failed read keeps nothing, so the next request tries again.
 */
async function readTemplate(c: Context): Promise<Record<string, unknown>> {
  const assets = (c.env as { ASSETS?: { fetch(url: URL): Promise<Response> } } | undefined)?.ASSETS;
  if (!assets) throw new Error("no ASSETS binding: /openapi.json is a Workers Static Asset template");
  const res = await assets.fetch(new URL(TEMPLATE_ASSET, c.req.url));
  if (!res.ok) throw new Error(`the OpenAPI template answered ${res.status}: run npm run bundle:build`);
  template = (await res.json()) as Record<string, unknown>;
  return template;
}

/** Accepts what mountDocs registers; the prebuilt document already holds it. */
class PrebuiltRegistry {
  readonly definitions: unknown[] = [];
  registerComponent(): void {}
  registerPath(): void {}
}

// biome-ignore lint/suspicious/noExplicitAny: the bundle-only stand-in; callers are typed against the real package.
type Validator = any;

export class OpenAPIHono extends Hono<Validator, Validator, Validator> {
  openAPIRegistry = new PrebuiltRegistry();
  defaultHook: AnyHook | undefined;
  #parentApp: OpenAPIHono | undefined;

  constructor(init?: ConstructorParameters<typeof Hono>[0] & { defaultHook?: AnyHook }) {
    super(init);
    this.defaultHook = init?.defaultHook;
  }

  #resolveDefaultHook(): AnyHook | undefined {
    if (this.defaultHook) return this.defaultHook;
    const seen = new Set<OpenAPIHono>([this]);
    let parent = this.#parentApp;
    while (parent && !seen.has(parent)) {
      if (parent.defaultHook) return parent.defaultHook;
      seen.add(parent);
      parent = parent.#parentApp;
    }
    return undefined;
  }

  openapi = (
    { middleware: routeMiddleware, hide: _hide, ...route }: RouteConfig,
    handler: Validator,
    hook?: AnyHook,
  ) => {
    const effectiveHook: AnyHook =
      hook ??
      ((result, c) => {
        const resolved = this.#resolveDefaultHook();
        return resolved ? resolved(result, c) : undefined;
      });
    const validators: MiddlewareHandler[] = [];
    const request = route.request;
    if (request?.query) validators.push(zValidator("query", request.query as Validator, effectiveHook as Validator));
    if (request?.params) validators.push(zValidator("param", request.params as Validator, effectiveHook as Validator));
    if (request?.headers)
      validators.push(zValidator("header", request.headers as Validator, effectiveHook as Validator));
    if (request?.cookies)
      validators.push(zValidator("cookie", request.cookies as Validator, effectiveHook as Validator));
    const bodyContent = request?.body?.content;
    if (bodyContent) {
      const declaredMediaTypes = Object.keys(bodyContent);
      if (
        declaredMediaTypes.some(
          (mediaType) =>
            isZod(bodyContent[mediaType]?.schema) && (isJSONContentType(mediaType) || isFormContentType(mediaType)),
        )
      ) {
        validators.push(async (c: Context, next: Next) => {
          const contentType = c.req.header("content-type");
          if (contentType) {
            if (!declaredMediaTypes.some((mediaType) => matchesMediaType(contentType, mediaType)))
              throw new HTTPException(415, { message: "Unsupported Media Type" });
          } else if (await hasRequestBody(c)) throw new HTTPException(415, { message: "Unsupported Media Type" });
          await next();
        });
      }
      for (const mediaType of declaredMediaTypes) {
        const schema = bodyContent[mediaType]?.schema;
        if (!isZod(schema)) continue;
        for (const [target, matches] of [
          ["json", isJSONContentType],
          ["form", isFormContentType],
        ] as const) {
          if (!matches(mediaType)) continue;
          const validator = zValidator(target, schema as Validator, effectiveHook as Validator);
          if (request?.body?.required) validators.push(validator);
          else
            validators.push(async (c: Context, next: Next) => {
              const contentType = c.req.header("content-type");
              if (contentType && matches(contentType)) return await validator(c, next);
              c.req.addValidatedData(target, {});
              await next();
            });
        }
      }
    }
    const middleware = routeMiddleware ? (Array.isArray(routeMiddleware) ? routeMiddleware : [routeMiddleware]) : [];
    this.on([route.method], [route.path.replaceAll(/\/{(.+?)}/g, "/:$1")], ...middleware, ...validators, handler);
    return this;
  };

  /** Serves the prebuilt document after the configured fields, as the generator orders them. */
  doc31 = (path: string, configureObject: Record<string, unknown> | ((c: Context) => Record<string, unknown>)) =>
    this.get(path, async (c) => {
      const objectConfig = typeof configureObject === "function" ? configureObject(c) : configureObject;
      return c.json({ ...objectConfig, ...(template ?? (await readTemplate(c))) });
    });

  override route(path: string, app: Hono<Validator, Validator, Validator>) {
    super.route(path, app);
    if (app instanceof OpenAPIHono) app.#parentApp ??= this;
    return this;
  }
}

export const createRoute = <R extends { path: string }>(routeConfig: R) => {
  const route = {
    ...routeConfig,
    getRoutingPath() {
      return routeConfig.path.replaceAll(/\/{(.+?)}/g, "/:$1");
    },
  };
  return Object.defineProperty(route, "getRoutingPath", { enumerable: false });
};

function isJSONContentType(contentType: string): boolean {
  return /^application\/([a-z-.]+\+)?json/i.test(contentType);
}
const jsonRequestRegex = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;
const multipartRequestRegex = /^multipart\/form-data(;\s?boundary=[a-zA-Z0-9'"()+_,\-./:=?]+)?$/i;
const urlencodedRequestRegex = /^application\/x-www-form-urlencoded(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

function matchesMediaType(contentType: string, mediaType: string): boolean {
  if (mediaType === "*/*") return true;
  if (isJSONContentType(mediaType)) return jsonRequestRegex.test(contentType);
  if (isFormContentType(mediaType))
    return multipartRequestRegex.test(contentType) || urlencodedRequestRegex.test(contentType);
  const essence = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  if (mediaType.endsWith("/*")) return essence.startsWith(mediaType.slice(0, -1).toLowerCase());
  return essence === mediaType.toLowerCase();
}

async function hasRequestBody(c: Context): Promise<boolean> {
  const raw = c.req.raw;
  if (raw.body === null) return false;
  if (raw.bodyUsed) return (await c.req.arrayBuffer()).byteLength > 0;
  const body = raw.clone().body;
  if (body === null) return false;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (value.byteLength > 0) return true;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function isFormContentType(contentType: string): boolean {
  const lower = contentType.toLowerCase();
  return lower.startsWith("multipart/form-data") || lower.startsWith("application/x-www-form-urlencoded");
}
