// `npm run dev` on the embedded default (PGlite) and on the machine's PostgreSQL, the same tests on
// both: the embedded default must behave like PostgreSQL under real use (issue #11's reproductions).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../dev/test-database.ts";
import { type DevStack, establishedTo, startDevStack } from "./support/dev-stack.ts";

const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

const backends = [
  { name: "the embedded default (PGlite)", postgres: false },
  { name: "the machine's PostgreSQL", postgres: true },
] as const;

describe.each(backends)("npm run dev on $name", ({ postgres }) => {
  let stack: DevStack;
  let dataDir: string;
  let database: TestDatabase | null = null;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "edge-dev-e2e-"));
    if (postgres) database = await createTestDatabase(POSTGRES_ADMIN_URL);
    stack = await startDevStack({ dataDir, ...(database ? { databaseUrl: database.url } : {}) });
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  const call = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${stack.baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
  const postJson = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    call(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  async function login(): Promise<Tokens> {
    const res = await postJson("/v1/auth/login", stack.admin);
    expect(res.status).toBe(200);
    return (await res.json()) as Tokens;
  }

  /** Connections to the database that are open now: at the ws bridge, and at PGlite itself. */
  const openDatabaseSockets = async (): Promise<number> =>
    Math.max(await establishedTo(stack.bridgePort), stack.pglitePort ? await establishedTo(stack.pglitePort) : 0);

  it("keeps answering past request 99: 200 requests that touch Postgres, database sockets bounded", async () => {
    const { accessToken } = await login();
    const statuses = new Map<number, number>();
    let maxSockets = 0;
    for (let i = 0; i < 200; i++) {
      const res = await call("/v1/assets?limit=1", { headers: { authorization: `Bearer ${accessToken}` } });
      await res.body?.cancel();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (i % 20 === 0) maxSockets = Math.max(maxSockets, await openDatabaseSockets());
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 200 });
    // Each request closes its pool; a handful may still be closing when we look.
    expect(maxSockets).toBeLessThanOrEqual(8);
    const ready = await call("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ok" });
  }, 180_000);

  it("10 parallel refreshes of one token all succeed (10 × 200), as docs/auth.md promises", async () => {
    const { refreshToken } = await login();
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await postJson("/v1/auth/refresh", { refreshToken });
        await res.body?.cancel();
        return res.status;
      }),
    );
    expect(answers).toEqual(Array(10).fill(200));
  }, 60_000);

  it("a multipart complete naming a part never uploaded, or a wrong ETag, answers 409; the stack stays up", async () => {
    const { accessToken } = await login();
    const auth = { authorization: `Bearer ${accessToken}` };
    const created = await postJson(
      "/v1/assets/uploads",
      { filename: "m.bin", contentType: "application/octet-stream", size: 100, multipart: true },
      auth,
    );
    expect(created.status).toBe(201);
    const { asset, upload } = (await created.json()) as {
      asset: { id: string };
      upload: { parts: { partNumber: number; url: string }[] };
    };
    const neverUploaded = await postJson(
      `/v1/assets/${asset.id}/complete`,
      { parts: [{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }] },
      auth,
    );
    expect(neverUploaded.status).toBe(409);
    const put = await fetch(upload.parts[0]?.url ?? "", { method: "PUT", body: new Uint8Array(100) });
    expect(put.status).toBe(200);
    const wrongEtag = await postJson(
      `/v1/assets/${asset.id}/complete`,
      { parts: [{ partNumber: 1, etag: "garbage" }] },
      auth,
    );
    expect(wrongEtag.status).toBe(409);
    const done = await postJson(
      `/v1/assets/${asset.id}/complete`,
      { parts: [{ partNumber: 1, etag: put.headers.get("etag") ?? "" }] },
      auth,
    );
    expect(done.status).toBe(200);
    expect(stack.exitCode()).toBeNull();
    expect((await call("/readyz")).status).toBe(200);
  }, 60_000);
});
