import { z } from "zod";
import { type OriginPattern, parseOriginPattern, splitOriginList } from "./origin-patterns.ts";

/**
 * Every setting the Worker reads, validated once per `env` object. Values come from
 * wrangler `[vars]`, `wrangler secret put`, or `.dev.vars` locally. Each entry's description
 * says how to set it; a bad or missing value fails with that text, naming the key.
 */
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const jwtKey = z.discriminatedUnion("alg", [
  z.object({
    kid: z.string().min(1).max(64),
    alg: z.enum(["HS256", "HS384", "HS512"]),
    /** base64url of at least 32 random bytes (RFC 8725 §3.5: keys as long as the hash). */
    secret: z.string().min(43, "must be base64url of at least 32 random bytes"),
  }),
  z.object({
    kid: z.string().min(1).max(64),
    alg: z.enum(["EdDSA", "ES256"]),
    /** Private JWK; only the signing key needs it. */
    privateJwk: z.record(z.string(), z.unknown()).optional(),
    publicJwk: z.record(z.string(), z.unknown()),
  }),
]);
export type JwtKeyConfig = z.infer<typeof jwtKey>;

/** An outside OIDC issuer whose access tokens are accepted (docs/auth.md "External issuers"). */
const externalIssuer = z.object({
  issuer: z.string().min(1).max(512),
  jwksUri: z
    .url("must be the issuer's JWKS URL (https://.../.well-known/jwks.json)")
    .refine(
      (u) => u.startsWith("https://") || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(u),
      "must be https:// (plain http only for 127.0.0.1 or localhost)",
    ),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Claim holding the roles (a string list, or a dotted path into the payload); unset: every user gets "user". */
  rolesClaim: z.string().min(1).max(128).optional(),
});
export type ExternalIssuerConfig = z.infer<typeof externalIssuer>;

const jsonArray = <T extends z.ZodType>(item: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "is not valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(z.array(item).min(1));

/** `CORS_ORIGINS`: every pattern checked once; each bad one is named with the fix. */
const corsOrigins = z.string().transform((text, ctx): OriginPattern[] => {
  const list = splitOriginList(text);
  if ("error" in list) {
    ctx.addIssue({ code: "custom", message: list.error });
    return z.NEVER;
  }
  const patterns: OriginPattern[] = [];
  for (const item of list.items) {
    const parsed = parseOriginPattern(item);
    if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
    else patterns.push(parsed);
  }
  return patterns;
});

export const configSchema = z
  .object({
    DATABASE_URL: z
      .string({ error: "is required: a Postgres URL (Neon: the pooled connection string)" })
      .regex(/^postgres(ql)?:\/\//, "must start with postgres:// or postgresql://"),
    /** Dev/test only: a ws-to-TCP bridge in front of a plain Postgres (see dev/). */
    DATABASE_WS_PROXY: z.string().url().optional(),
    DATABASE_TIMEOUT_MS: positiveInt(5_000),

    UPSTASH_REDIS_REST_URL: z.string().url("must be the Upstash REST URL (https://...)").optional(),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
    REDIS_KEY_PREFIX: z.string().max(64).default("eb:"),
    REDIS_TIMEOUT_MS: positiveInt(1_500),
    /**
     * How long an isolate answers settings reads from its own copy before checking the shared
     * generation again (off the request path); 0 turns the local copy off. See docs/settings.md.
     */
    SETTINGS_LOCAL_TTL_MS: z.coerce
      .number()
      .int()
      .min(0, "must be 0 (off) or a number of milliseconds")
      .max(60_000, "must be at most 60000: it bounds how stale another instance's reads can be")
      .default(1_000),

    S3_ENDPOINT: z
      .string({ error: "is required: the S3 API endpoint (R2: https://<account>.r2.cloudflarestorage.com)" })
      .url(),
    S3_REGION: z.string().default("auto"),
    S3_BUCKET: z.string({ error: "is required: the bucket name" }).min(3).max(63),
    S3_ACCESS_KEY_ID: z.string({ error: "is required: an access key id with read/write on the bucket" }).min(1),
    S3_SECRET_ACCESS_KEY: z.string({ error: "is required: the secret for S3_ACCESS_KEY_ID" }).min(1),
    S3_PUBLIC_BASE_URL: z
      .string({ error: "is required: the public URL prefix of the bucket (R2 custom domain or r2.dev URL)" })
      .url()
      .transform((u) => u.replace(/\/+$/, "")),
    S3_FORCE_PATH_STYLE: bool.default(false),
    STORAGE_TIMEOUT_MS: positiveInt(10_000),

    JWT_KEYS: jsonArray(jwtKey).describe("JSON array of signing/verification keys"),
    /** The kid that signs; every listed key verifies. Defaults to the first key. */
    JWT_SIGNING_KID: z.string().optional(),
    JWT_ISSUER: z.string().min(1).default("edge-backend"),
    JWT_AUDIENCE: z.string().min(1).default("edge-backend"),
    ACCESS_TOKEN_TTL_SECONDS: positiveInt(600),
    REFRESH_TOKEN_TTL_SECONDS: positiveInt(30 * 24 * 3600),
    /** Multiplies every auth rate limit (docs/auth.md). `npm run dev` sets 100; keep 1 in production. */
    AUTH_RATE_LIMIT_FACTOR: positiveInt(1),

    /**
     * The service's public origin (https://api.example.com), used for absolute URLs it stores
     * (private asset URLs). Unset: the request's own origin, which on Workers is the routed host;
     * set it off Workers, where the Host header is whatever the client sent.
     */
    PUBLIC_API_URL: z
      .url("must be the service's public origin, e.g. https://api.example.com")
      .transform((u) => new URL(u).origin)
      .optional(),

    /**
     * Mail over an HTTP email API (Resend's `POST /emails` with a Bearer key; docs/auth.md "Mail").
     * Without MAIL_API_KEY no mail is sent. `npm run dev` and the tests point MAIL_API_URL at the
     * local outbox (dev/mail-outbox.ts).
     */
    MAIL_API_URL: z
      .url("must be the email API's base URL, e.g. https://api.resend.com")
      .transform((u) => u.replace(/\/+$/, ""))
      .default("https://api.resend.com"),
    MAIL_API_KEY: z.string().min(1).optional(),
    MAIL_FROM: z.string().min(3).max(320).optional(),
    MAIL_TIMEOUT_MS: positiveInt(10_000),
    /**
     * Where links in auth mails point: the app's pages that read `?token=` and call the API
     * (`<base>/reset-password?token=…`, `<base>/verify-email?token=…`). Default: PUBLIC_API_URL,
     * else on Workers the request's origin (off Workers no mail is sent without one of them).
     */
    AUTH_LINK_BASE_URL: z
      .url("must be the app's public URL, e.g. https://app.example.com")
      .transform((u) => u.replace(/\/+$/, ""))
      .optional(),
    /** JSON list of `{ issuer, jwksUri, audience, rolesClaim? }`: outside issuers whose access tokens are accepted. */
    AUTH_EXTERNAL_ISSUERS: jsonArray(externalIssuer).optional(),
    /**
     * Browser origins allowed to call the API (CORS), e.g. `https://app.example.com,https://*.example.com`.
     * Unset: no CORS headers at all (server-to-server and same-origin use only).
     */
    CORS_ORIGINS: corsOrigins.optional(),
    /** Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth). Bearer tokens do not need it. */
    CORS_ALLOW_CREDENTIALS: bool.default(false),

    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .superRefine((c, ctx) => {
    if (Boolean(c.UPSTASH_REDIS_REST_URL) !== Boolean(c.UPSTASH_REDIS_REST_TOKEN)) {
      ctx.addIssue({
        code: "custom",
        path: [c.UPSTASH_REDIS_REST_URL ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL"],
        message: "is required when the other Upstash value is set (set both, or neither to run without a cache)",
      });
    }
    if (c.MAIL_API_KEY && !c.MAIL_FROM) {
      ctx.addIssue({
        code: "custom",
        path: ["MAIL_FROM"],
        message: 'is required with MAIL_API_KEY: the sender, e.g. "App <no-reply@example.com>" on a verified domain',
      });
    }
    const issuers = (c.AUTH_EXTERNAL_ISSUERS ?? []).map((i) => i.issuer);
    if (new Set(issuers).size !== issuers.length || issuers.includes(c.JWT_ISSUER)) {
      ctx.addIssue({
        code: "custom",
        path: ["AUTH_EXTERNAL_ISSUERS"],
        message: "lists an issuer twice or names JWT_ISSUER (this service's own tokens)",
      });
    }
    if (c.CORS_ALLOW_CREDENTIALS && c.CORS_ORIGINS?.some((o) => o.pattern === "*")) {
      ctx.addIssue({
        code: "custom",
        path: ["CORS_ALLOW_CREDENTIALS"],
        message: "cannot be true while CORS_ORIGINS allows every origin (*): list the origins instead",
      });
    }
    const kids = c.JWT_KEYS.map((k) => k.kid);
    if (new Set(kids).size !== kids.length) {
      ctx.addIssue({ code: "custom", path: ["JWT_KEYS"], message: "has duplicate kid values" });
    }
    const signing = c.JWT_SIGNING_KID ? c.JWT_KEYS.find((k) => k.kid === c.JWT_SIGNING_KID) : c.JWT_KEYS[0];
    if (!signing) {
      ctx.addIssue({ code: "custom", path: ["JWT_SIGNING_KID"], message: "names no key in JWT_KEYS" });
    } else if (!("secret" in signing) && !signing.privateJwk) {
      ctx.addIssue({ code: "custom", path: ["JWT_KEYS"], message: `signing key "${signing.kid}" needs a privateJwk` });
    }
  });

export type Config = z.output<typeof configSchema>;

/** Thrown when configuration is missing or malformed. The message names every bad key and the fix. */
export class ConfigError extends Error {
  readonly keys: string[];
  constructor(issues: z.core.$ZodIssue[]) {
    const lines = issues.map((i) => `${i.path.join(".") || "(config)"} ${i.message}`);
    super(
      `Invalid configuration:\n  - ${lines.join("\n  - ")}\nSet these with \`wrangler secret put NAME\` (production) or in .dev.vars (local); see README "Configuration".`,
    );
    this.name = "ConfigError";
    this.keys = issues.map((i) => String(i.path[0] ?? ""));
  }
}

/** Parses the env once. Never echoes a value back: secrets must not reach logs. */
export function parseConfig(env: Record<string, unknown>): Config {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    // wrangler hands unset vars through as undefined and blank .dev.vars lines as "": both mean unset.
    if (value !== undefined && value !== "") picked[key] = value;
  }
  const result = configSchema.safeParse(picked);
  if (!result.success) throw new ConfigError(result.error.issues);
  return result.data;
}

// The env object of a Worker is stable for the isolate's life, so a WeakMap memo checks
// config once without holding any state a request could change.
const parsed = new WeakMap<object, Config | ConfigError>();

export function configFor(env: object): Config {
  let entry = parsed.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env as Record<string, unknown>);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      entry = error;
    }
    parsed.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}
