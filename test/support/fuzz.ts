// A seeded, bounded fuzzer for every route in the service's own OpenAPI document: bad bodies,
// headers, path params, queries and cursors. The one property it checks is the API's promise for
// bad input: never a 5xx, and every error is application/problem+json. Runs anywhere `fetch` does
// (workerd, Node), so the same cases reach the Worker and the other runtimes.

/** mulberry32: small, fast, and the same sequence for the same seed on every runtime. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzOptions {
  send(request: Request): Promise<Response>;
  /** Origin the requests are addressed to, e.g. http://edge.test. */
  origin: string;
  /** A valid admin access token: half the cases carry it, so they get past auth into validation. */
  adminToken: string;
  seed: number;
  casesPerRoute: number;
}

export interface FuzzFailure {
  route: string;
  request: string;
  status: number;
  contentType: string | null;
  body: string;
}

export interface FuzzReport {
  seed: number;
  /** "METHOD /path" → cases sent and statuses seen. */
  routes: Record<string, { cases: number; statuses: Record<string, number> }>;
  failures: FuzzFailure[];
  total: number;
  /** Oversized bodies whose connection the server closed after (or instead of) its 413. */
  closedOnOversizedBody: number;
}

/** Larger than any route accepts (src/core/body-limit.ts: 256 KiB). */
const OVERSIZED_BODY_BYTES = 256 * 1024;

interface Operation {
  method: string;
  path: string;
  params: string[];
  hasBody: boolean;
}

const NASTY_STRINGS = [
  "",
  " ",
  "a\u0000b",
  "\u0000",
  "\ud800",
  "x\udc00y",
  "😀",
  "\u202e\u0301",
  "A".repeat(5000),
  "../../etc/passwd",
  "%00",
  "%",
  "%ZZ",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "\r\nX-Injected: 1",
  "null",
  "true",
  "-1",
  "0",
  "1e309",
  "9".repeat(40),
  "0000-01-01T00:00:00.000Z",
  "+275760-09-13T00:00:00.000Z",
  "00000000-0000-0000-0000-000000000000",
  "system",
  "v0",
  "*",
  '"1"',
  'W/"1"',
];

const FIELD_NAMES = [
  "email",
  "password",
  "name",
  "refreshToken",
  "roles",
  "value",
  "visibility",
  "schema",
  "filename",
  "contentType",
  "size",
  "multipart",
  "parts",
  "partNumber",
  "etag",
  "data",
  "__proto__",
  "constructor",
];

const NUMBERS = [0, -1, 1, 1.5, -0, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, 5e-324];

const toBase64Url = (text: string): string =>
  btoa(String.fromCharCode(...new TextEncoder().encode(text.toWellFormed())))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

class Gen {
  readonly #rand: () => number;
  constructor(seed: number) {
    this.#rand = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.#rand() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.#rand() < p;
  }
  string(): string {
    if (this.chance(0.15)) return this.cursor();
    if (this.chance(0.15))
      return Array.from({ length: 1 + this.int(12) }, () => String.fromCharCode(this.int(0x3000))).join("");
    return this.pick(NASTY_STRINGS);
  }
  /** Cursor-shaped: base64url of JSON that is almost, or not at all, what the service issues. */
  cursor(): string {
    const shapes: unknown[] = [
      [this.pick(NASTY_STRINGS), crypto.randomUUID()],
      [
        new Date(this.pick([0, -8.64e15, 8.64e15, -62198755200000, 253402300800000])).toISOString(),
        crypto.randomUUID(),
      ],
      [this.pick(NUMBERS), this.pick(NASTY_STRINGS)],
      `v${this.pick(["0", "-1", "99999999999", "1e3", "2147483648", "\u0000"])}`,
      this.json(2),
    ];
    const shape = this.pick(shapes);
    return typeof shape === "string" && this.chance(0.5) ? toBase64Url(shape) : toBase64Url(JSON.stringify(shape));
  }
  json(depth = 3): unknown {
    const kind = this.int(depth <= 0 ? 4 : 7);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick(NUMBERS);
      case 3:
        return this.string();
      case 4:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
      default: {
        const out: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i--)
          out[this.chance(0.8) ? this.pick(FIELD_NAMES) : this.string()] = this.json(depth - 1);
        return out;
      }
    }
  }
}

const RAW_PATH_SEGMENTS = ["%ED%A0%80", "%00", "%C0%AF", "..%2F..%2F", "%FF%FE", "a%2Fb", "%25"];

/** Path params, query and headers worth trying on every route. */
const QUERY_KEYS = ["cursor", "limit", "since", "filename", "visibility", "token", "address"];

function operationsOf(doc: { paths?: Record<string, Record<string, unknown>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of Object.keys(item)) {
      if (!["get", "post", "put", "delete", "patch"].includes(method)) continue;
      const op = item[method] as { requestBody?: unknown };
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
      ops.push({ method: method.toUpperCase(), path, params, hasBody: op.requestBody !== undefined });
    }
  }
  return ops;
}

// Admin-authorised writes go to a few fixed keys, so a run cannot fill the settings table
// (it holds at most 500) that other tests share.
const SAFE_SETTING_KEYS = ["fuzz.a", "fuzz.b", "fuzz.c"];

function buildCase(gen: Gen, op: Operation, opts: FuzzOptions): Request {
  // Signing out everywhere would revoke the admin token the other routes' cases need.
  const authorised = gen.chance(0.5) && !op.path.endsWith("/logout-all");
  let path = op.path;
  for (const param of op.params) {
    let value: string;
    if (authorised && param === "key") value = gen.pick(SAFE_SETTING_KEYS);
    else if (gen.chance(0.25)) value = crypto.randomUUID();
    else value = gen.string();
    // Raw escapes a client can send but encodeURIComponent never makes: invalid UTF-8, NUL, traversal.
    const encoded = gen.chance(0.2)
      ? gen.pick(RAW_PATH_SEGMENTS)
      : encodeURIComponent(value.toWellFormed()).slice(0, 2000) || "%20";
    path = path.replace(`{${param}}`, encoded);
  }
  const query = new URLSearchParams();
  for (const key of QUERY_KEYS) if (gen.chance(0.3)) query.set(key, gen.chance(0.5) ? gen.cursor() : gen.string());
  const headers = new Headers();
  headers.set("CF-Connecting-IP", `10.${gen.int(256)}.${gen.int(256)}.${gen.int(256)}`);
  if (authorised) headers.set("Authorization", `Bearer ${opts.adminToken}`);
  else if (gen.chance(0.5))
    headers.set("Authorization", gen.pick(["Bearer ", "Bearer x.y.z", "Basic YTpi", `Bearer ${"a".repeat(9000)}`]));
  for (const name of ["If-Match", "If-None-Match", "X-Request-Id", "Content-Type"]) {
    if (!gen.chance(0.25)) continue;
    const value = gen.string();
    // Only what can travel in a header (visible ASCII and spaces); other bytes never reach a server.
    if (/^[\x20-\x7e]*$/.test(value)) headers.set(name, value);
  }
  let body: string | undefined;
  if (op.hasBody || gen.chance(0.15)) {
    if (!headers.has("Content-Type") || gen.chance(0.6))
      headers.set(
        "Content-Type",
        gen.pick([
          "application/json",
          "application/json",
          "text/plain",
          "application/x-www-form-urlencoded",
          "image/png",
        ]),
      );
    body = gen.chance(0.15)
      ? gen.pick(["{", "[1,", '{"a":', "\u0000", "nul\u0000l", '{"value":1}{"value":2}', "x".repeat(300_000)])
      : JSON.stringify(gen.json());
  }
  const method = op.method === "GET" || op.method === "DELETE" ? op.method : op.method;
  const init: RequestInit = { method, headers };
  if (body !== undefined && method !== "GET") init.body = body;
  const q = query.toString();
  return new Request(`${opts.origin}${path}${q ? `?${q}` : ""}`, init);
}

/** Runs `casesPerRoute` generated cases against every route of /openapi.json. */
export async function fuzzRoutes(opts: FuzzOptions): Promise<FuzzReport> {
  const docRes = await opts.send(new Request(`${opts.origin}/openapi.json`));
  const ops = operationsOf((await docRes.json()) as { paths?: Record<string, Record<string, unknown>> });
  if (ops.length === 0) throw new Error("/openapi.json lists no routes");
  const gen = new Gen(opts.seed);
  const report: FuzzReport = {
    seed: opts.seed,
    routes: {},
    failures: [],
    total: 0,
    closedOnOversizedBody: 0,
  };
  for (const op of ops) {
    const route = `${op.method} ${op.path}`;
    const entry = { cases: 0, statuses: {} as Record<string, number> };
    report.routes[route] = entry;
    for (let i = 0; i < opts.casesPerRoute; i++) {
      const request = buildCase(gen, op, opts);
      const described = `${request.method} ${request.url.slice(opts.origin.length, opts.origin.length + 300)}`;
      const sent = request.method === "GET" ? "" : await request.clone().text();
      const bodyBytes = new TextEncoder().encode(sent).byteLength;
      let res: Response;
      try {
        // A server that answered early (a 4xx before reading the body) may close the kept-alive
        // connection the client then reuses for this request: one retry separates that race from a
        // server that never answers.
        const retry = request.clone() as Request;
        res = await opts.send(request.clone() as Request).catch(() => opts.send(request));
        // A 503 "dependency unavailable" is a fault of the machine's shared Postgres or Redis (too many
        // clients while other suites run), not of the input: the same case once more after a pause.
        // Bad input that maps to 503 every time (what this suite guards against) still fails.
        if (res.status === 503 && res.headers.get("retry-after")) {
          await res.body?.cancel();
          await new Promise((r) => setTimeout(r, 1000));
          res = await opts.send(retry);
        }
      } catch (error) {
        entry.cases++;
        report.total++;
        entry.statuses.closed = (entry.statuses.closed ?? 0) + 1;
        // A server may answer 413 and hang up before reading an oversized body; over HTTP the client
        // then sees a closed connection. Anything else that never got an answer is a failure.
        if (bodyBytes > OVERSIZED_BODY_BYTES) report.closedOnOversizedBody++;
        else
          report.failures.push({
            route,
            request: `${described} headers=${JSON.stringify([...request.headers])} body=${sent.slice(0, 200)}`,
            status: 0,
            contentType: null,
            body: `${String(error)} (${String((error as { cause?: unknown }).cause)})`,
          });
        continue;
      }
      const contentType = res.headers.get("content-type");
      const text = res.status >= 400 ? await res.text() : "";
      if (res.status < 400) await res.body?.cancel();
      entry.cases++;
      report.total++;
      entry.statuses[res.status] = (entry.statuses[res.status] ?? 0) + 1;
      const problemJson = contentType?.startsWith("application/problem+json") ?? false;
      if (res.status >= 500 || (res.status >= 400 && !problemJson))
        report.failures.push({ route, request: described, status: res.status, contentType, body: text.slice(0, 300) });
    }
  }
  return report;
}

/** One line per route: cases and statuses, then the total. */
export function formatFuzzReport(report: FuzzReport, runtime: string): string {
  const lines = [
    `fuzz on ${runtime} (seed ${report.seed}): ${report.total} cases, ${report.failures.length} failures` +
      (report.closedOnOversizedBody > 0
        ? `, ${report.closedOnOversizedBody} oversized bodies cut off by the server`
        : ""),
  ];
  for (const [route, { cases, statuses }] of Object.entries(report.routes)) {
    const seen = Object.entries(statuses)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
    lines.push(`  ${route.padEnd(44)} ${String(cases).padStart(4)} cases  ${seen}`);
  }
  return lines.join("\n");
}
