// The SDK in a real browser (Debian's Chromium through playwright-core): a page on one origin
// against the service on another (runtimes/node.ts on the local stack), so CORS, the session's
// storage and cross-tab refresh, rooms over a browser WebSocket and direct uploads all run for real.
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type * as Sdk from "../../client/index.ts";
import { ApiError, createClient, type FetchLike, memoryStorage } from "../../client/index.ts";
import { cleanupList, launchChromium, startPageServer, startService } from "./support/browser-stack.ts";

declare global {
  interface Window {
    sdk: typeof Sdk;
    client: Sdk.EdgeClient;
  }
}

/** Short-lived access tokens, so refreshing ahead of expiry happens within the test. */
const ACCESS_TOKEN_TTL_SECONDS = 8;

const cleanup = cleanupList("browser sdk");
let apiUrl: string;
let pageOrigin: string;
let pagePort: number;
let context: BrowserContext;
/** POST /v1/auth/refresh requests, from every tab of the context. */
let refreshRequests = 0;

beforeAll(async () => {
  const pages = await startPageServer(cleanup);
  pageOrigin = pages.origin;
  pagePort = pages.port;
  const service = await startService(cleanup, {
    // Exactly the page's origin: http://localhost:<same port> is another origin and must be refused.
    CORS_ORIGINS: pageOrigin,
    ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS),
  });
  apiUrl = service.baseUrl;
  const browser = await launchChromium(cleanup);
  context = await browser.newContext();
  context.on("request", (request) => {
    if (request.method() === "POST" && request.url() === `${apiUrl}/v1/auth/refresh`) refreshRequests++;
  });
}, 180_000);

afterAll(() => cleanup.run(), 60_000);

/** A tab of the app: the page loaded, the SDK on window, a client made with localStorage. */
async function openTab(
  origin = pageOrigin,
  options: { withoutWebLocks?: boolean; storageKey?: string } = {},
): Promise<Page> {
  const page = await context.newPage();
  // As in a browser without the Web Locks API (Safari before 15.4): the SDK falls back to its lease.
  if (options.withoutWebLocks) {
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }));
  }
  page.on("pageerror", (error) => console.error("page error:", error));
  page.on("console", (message) => {
    // Refused loads (404s, 401s, the foreign origin's CORS block) are expected here; other errors are not.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      console.error("page console:", message.text());
    }
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.sdk !== undefined);
  await page.evaluate(
    ({ url, storageKey }) => {
      window.client = window.sdk.createClient({ url, storage: "local", ...(storageKey && { storageKey }) });
    },
    { url: apiUrl, storageKey: options.storageKey },
  );
  return page;
}

/**
 * Both tabs wait for the same instant inside the refresh margin (a quarter of the lifetime before
 * expiry) and then call the API at once, so each must refresh first. Returns what each got and how
 * many refresh requests the browser sent meanwhile.
 */
async function refreshAtOnce(tabs: Page[]) {
  const before = refreshRequests;
  const results = await Promise.all(
    tabs.map((tab) =>
      tab.evaluate(async (ttlSeconds) => {
        const { client } = window;
        const expiresAt = client.auth.expiresAt ?? 0;
        const marginMs = (ttlSeconds * 1000) / 4;
        await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - marginMs / 2 - Date.now())));
        const res = await client.api.v1.auth.me.$get();
        return { status: res.status, email: (await res.json()).email, token: await client.auth.getAccessToken() };
      }, ACCESS_TOKEN_TTL_SECONDS),
    ),
  );
  return { results, refreshes: refreshRequests - before };
}

const email = `browser-${crypto.randomUUID().slice(0, 8)}@example.test`;
const password = `pw-${crypto.randomUUID()}`;
let tabA: Page;
let tabB: Page;

describe("the SDK in Chromium, from a page on another origin", () => {
  it("signs up, signs out, signs in, and reads the profile and exposed headers", async () => {
    tabA = await openTab();
    const result = await tabA.evaluate(
      async ({ email, password }) => {
        const { client } = window;
        const events: string[] = [];
        client.auth.onChange((_user, event) => events.push(event));
        const signedUp = await client.auth.signUp({ email, password, name: "Ada" });
        await client.auth.signOut();
        const afterSignOut = client.auth.user;
        const signedIn = await client.auth.signIn({ email, password });
        const me = await (await client.api.v1.auth.me.$get()).json();
        const health = await client.fetch(`${client.url}/healthz`);
        return {
          signedUp: signedUp.email,
          afterSignOut,
          signedIn: signedIn.id === signedUp.id,
          me: { email: me.email, name: me.name },
          events,
          requestId: health.headers.get("X-Request-Id"),
          stored: Object.keys(localStorage).filter((k) => k.startsWith("edge-backend:session:")).length,
        };
      },
      { email, password },
    );
    expect(result).toEqual({
      signedUp: email,
      afterSignOut: null,
      signedIn: true,
      me: { email, name: "Ada" },
      events: ["SIGNED_IN", "SIGNED_OUT", "SIGNED_IN"],
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      stored: 1,
    });
  });

  it("throws a typed error with the problem's status, title, detail and requestId", async () => {
    const error = await tabA.evaluate(async (email) => {
      const other = window.sdk.createClient({ url: window.client.url, storage: "memory" });
      try {
        await other.auth.signIn({ email, password: "wrong password" });
        return null;
      } catch (e) {
        const err = e as InstanceType<typeof window.sdk.ApiError>;
        return {
          isApiError: err instanceof window.sdk.ApiError,
          status: err.status,
          title: err.title,
          detail: err.detail,
          requestId: err.requestId,
        };
      }
    }, email);
    // The same refusal asked for directly: the error carries the problem's own fields.
    const direct = await fetch(`${apiUrl}/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password: "wrong password" }),
    });
    const problem = (await direct.json()) as { title: string; detail: string };
    expect(error).toMatchObject({ isApiError: true, status: 401, title: problem.title, detail: problem.detail });
    expect(problem.detail).toBeTruthy();
    expect(error?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keeps two tabs signed in when both refresh at the same moment, spending the refresh token once", async () => {
    tabB = await openTab();
    expect(await tabB.evaluate(() => window.client.auth.user?.email)).toBe(email);
    const before = refreshRequests;
    const { results, refreshes } = await refreshAtOnce([tabA, tabB]);
    const [a, b] = results;
    expect(a).toMatchObject({ status: 200, email });
    expect(b).toMatchObject({ status: 200, email });
    expect(refreshes).toBe(1);
    expect(a?.token).toBe(b?.token);
    // The family was not revoked: the next rotation (from the other tab) still works.
    const next = await tabB.evaluate(() => window.client.auth.refresh());
    expect(next).toEqual(expect.any(String));
    expect(await tabA.evaluate(() => window.client.auth.user?.email)).toBe(email);
    expect(refreshRequests - before).toBe(2);
  });

  it("does the same without Web Locks, through the IndexedDB lease", async () => {
    const storageKey = "edge-backend:session:without-web-locks";
    const tabC = await openTab(pageOrigin, { withoutWebLocks: true, storageKey });
    expect(await tabC.evaluate(() => typeof navigator.locks)).toBe("undefined");
    await tabC.evaluate(({ email, password }) => window.client.auth.signIn({ email, password }), { email, password });
    const tabD = await openTab(pageOrigin, { withoutWebLocks: true, storageKey });
    expect(await tabD.evaluate(() => window.client.auth.user?.email)).toBe(email);
    const { results, refreshes } = await refreshAtOnce([tabC, tabD]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(refreshes).toBe(1);
    expect(results[0]?.token).toBe(results[1]?.token);
    await Promise.all([tabC.close(), tabD.close()]);
  });

  it("round-trips a room message between the two tabs", async () => {
    const room = `browser-${crypto.randomUUID().slice(0, 8)}`;
    const received = tabB.evaluate(
      (room) =>
        new Promise<unknown>((resolve, reject) => {
          const listener = window.client.rooms.connect(room);
          const timer = setTimeout(() => reject(new Error("no message within 15 s")), 15_000);
          listener.on("message", (m) => {
            clearTimeout(timer);
            listener.close();
            resolve({ data: m.data, from: m.from.id });
          });
          listener.on("welcome", () => {
            (window as unknown as { listening: boolean }).listening = true;
          });
        }),
      room,
    );
    await tabB.waitForFunction(() => (window as unknown as { listening?: boolean }).listening === true);
    const published = await tabA.evaluate(
      (room) =>
        new Promise<number>((resolve, reject) => {
          const sender = window.client.rooms.connect(room);
          sender.on("welcome", () => {
            sender.publish({ text: "hello from tab A" }).then(({ seq }) => {
              sender.close();
              resolve(seq);
            }, reject);
          });
        }),
      room,
    );
    expect(published).toBeGreaterThan(0);
    const userId = await tabA.evaluate(() => window.client.auth.user?.id);
    expect(await received).toEqual({ data: { text: "hello from tab A" }, from: userId });
  });

  it("uploads a private image with progress (single PUT and multipart) and shows it through its short-lived URL", async () => {
    const result = await tabA.evaluate(async () => {
      const { client } = window;
      const canvas = document.createElement("canvas");
      canvas.width = 7;
      canvas.height = 5;
      const g = canvas.getContext("2d");
      if (!g) throw new Error("no 2d context");
      g.fillStyle = "#c03";
      g.fillRect(0, 0, 7, 5);
      const blob = await new Promise<Blob>((resolve, reject) =>
        canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no blob"))), "image/png"),
      );
      const shown = [];
      for (const multipart of [false, true]) {
        const progress: Array<{ loaded: number; total: number }> = [];
        const asset = await client.assets.upload(blob, {
          filename: "dot.png",
          multipart,
          onProgress: (p) => progress.push(p),
        });
        const link = await client.assets.url(asset.id);
        const img = new Image();
        img.src = link.url;
        await img.decode();
        // Without a token the API's own content URL is refused: only the signed URL works in <img>.
        const anonymous = await fetch(asset.url, { redirect: "manual" }).then((r) => r.status);
        shown.push({
          multipart,
          status: asset.status,
          visibility: asset.visibility,
          signed: link.signed,
          expiresInMs: Date.parse(link.expiresAt ?? "") - Date.now(),
          naturalWidth: img.naturalWidth,
          naturalHeight: img.naturalHeight,
          lastProgress: progress.at(-1),
          size: blob.size,
          anonymous,
        });
      }
      return shown;
    });
    for (const r of result) {
      expect(r, `multipart: ${r.multipart}`).toMatchObject({
        status: "ready",
        visibility: "private",
        signed: true,
        naturalWidth: 7,
        naturalHeight: 5,
        lastProgress: { loaded: r.size, total: r.size },
        anonymous: 404,
      });
      expect(r.expiresInMs).toBeGreaterThan(0);
      expect(r.expiresInMs).toBeLessThanOrEqual(60_000);
    }
  });

  it("tells the other tab when one tab signs out", async () => {
    const seen = tabB.evaluate(
      () =>
        new Promise<string>((resolve) => {
          window.client.auth.onChange((user, event) => resolve(`${event} ${user === null}`));
        }),
    );
    await tabA.evaluate(() => window.client.auth.signOut());
    expect(await seen).toBe("SIGNED_OUT true");
    expect(await tabB.evaluate(() => window.client.auth.user)).toBeNull();
  });

  it("gives a page on an origin that is not listed nothing: the browser blocks the response", async () => {
    const foreign = await openTab(`http://localhost:${pagePort}`);
    const outcome = await foreign.evaluate(async (url) => {
      try {
        const res = await fetch(`${url}/healthz`);
        return `read ${res.status}`;
      } catch (error) {
        return (error as Error).name;
      }
    }, apiUrl);
    expect(outcome).toBe("TypeError");
    // The same request from Node (no CORS in play) shows the service answered without CORS headers.
    const direct = await fetch(`${apiUrl}/healthz`, { headers: { Origin: `http://localhost:${pagePort}` } });
    expect(direct.status).toBe(200);
    expect(direct.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await foreign.close();
  });
});

describe("the same SDK from Node", () => {
  const nodeEmail = `node-${crypto.randomUUID().slice(0, 8)}@example.test`;
  const calls: string[] = [];
  const recording: FetchLike = (input, init) => {
    const request = new Request(input, init);
    calls.push(`${request.method} ${new URL(request.url).pathname}`);
    return fetch(request);
  };
  const sessionKey = () => `edge-backend:session:${new URL(apiUrl).origin}`;
  /** A signed-in session in a fresh storage, with `change` applied to what is stored. */
  async function storedSession(change: (s: Record<string, string>) => Record<string, string>) {
    const storage = memoryStorage();
    const first = createClient({ url: apiUrl, storage });
    await first.auth.signIn({ email: nodeEmail, password });
    const stored = JSON.parse((await storage.getItem(sessionKey())) ?? "null") as Record<string, string>;
    await storage.setItem(sessionKey(), JSON.stringify(change(stored)));
    return storage;
  }
  // The signature's last characters replaced: what a token signed by a since-removed key looks like.
  const forged = (token = "") => `${token.slice(0, -6)}AAAAAA`;

  it("retries once, with a refreshed token, a request refused with 401", async () => {
    await createClient({ url: apiUrl, storage: "memory" }).auth.signUp({ email: nodeEmail, password });
    const storage = await storedSession((s) => ({ ...s, accessToken: forged(s.accessToken) }));
    const client = createClient({ url: apiUrl, storage, fetch: recording });
    calls.length = 0;
    const me = await (await client.api.v1.auth.me.$get()).json();
    expect(me.email).toBe(nodeEmail);
    expect(calls).toEqual(["GET /v1/auth/me", "POST /v1/auth/refresh", "GET /v1/auth/me"]);
  });

  it("signs out and throws the 401 when the refresh is refused too, without looping", async () => {
    const storage = await storedSession((s) => ({
      ...s,
      accessToken: forged(s.accessToken),
      refreshToken: forged(s.refreshToken),
    }));
    const client = createClient({ url: apiUrl, storage, fetch: recording });
    const events: string[] = [];
    client.auth.onChange((_user, event) => events.push(event));
    calls.length = 0;
    const error = await client.api.v1.auth.me.$get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(calls).toEqual(["GET /v1/auth/me", "POST /v1/auth/refresh"]);
    expect(client.auth.user).toBeNull();
    expect(events).toEqual(["SIGNED_OUT"]);
    expect(await storage.getItem(sessionKey())).toBeNull();
  });

  it("shares one refresh among concurrent calls in one tab", async () => {
    // A margin longer than the token's life: every call finds the token about to expire.
    const client = createClient({ url: apiUrl, storage: "memory", fetch: recording, refreshMarginSeconds: 3_600 });
    await client.auth.signIn({ email: nodeEmail, password });
    calls.length = 0;
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.api.v1.auth.me.$get()));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(calls.filter((c) => c === "POST /v1/auth/refresh")).toHaveLength(1);
  });

  it("keeps a path prefix of the service URL on every call (a service mounted under /api)", async () => {
    const seen: string[] = [];
    // A stand-in for a reverse proxy that serves the API under /api.
    const proxy: FetchLike = (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      seen.push(url.pathname);
      if (!url.pathname.startsWith("/api/")) return Promise.resolve(new Response(null, { status: 404 }));
      return fetch(new Request(`${apiUrl}${url.pathname.slice(4)}${url.search}`, request));
    };
    const client = createClient({ url: `${apiUrl}/api/`, storage: "memory", fetch: proxy });
    await client.auth.signIn({ email: nodeEmail, password });
    expect((await (await client.api.v1.auth.me.$get()).json()).email).toBe(nodeEmail);
    await client.auth.refresh();
    await client.auth.signOut();
    expect(seen).toEqual(["/api/v1/auth/login", "/api/v1/auth/me", "/api/v1/auth/refresh", "/api/v1/auth/logout"]);
  });

  it("carries the field errors of a 422 in the ApiError", async () => {
    const client = createClient({ url: apiUrl, storage: "memory" });
    const error = await client.auth.signUp({ email: "not-an-email", password: "short" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const { status, errors } = error as InstanceType<typeof ApiError>;
    expect(status).toBe(422);
    expect(errors?.map((e) => e.path).sort()).toEqual(["email", "password"]);
    expect(client.auth.user).toBeNull();
  });

  it("deletes the pending asset when an upload is aborted", async () => {
    const client = createClient({ url: apiUrl, storage: "memory" });
    await client.auth.signIn({ email: nodeEmail, password });
    const controller = new AbortController();
    const bytes = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])], {
      type: "image/png",
    });
    // The first progress report comes once the asset exists and before any byte is sent.
    const failure = await client.assets
      .upload(bytes, { filename: "a.png", signal: controller.signal, onProgress: () => controller.abort() })
      .catch((e: unknown) => e);
    expect((failure as Error).name).toBe("AbortError");
    const list = await (await client.api.v1.assets.$get({ query: {} })).json();
    expect(list.items).toEqual([]);
  });

  it("connects to a room with the session's token and receives its own publish", async () => {
    const client = createClient({ url: apiUrl, storage: "memory", WebSocket });
    await client.auth.signIn({ email: nodeEmail, password });
    const room = client.rooms.connect(`node-${crypto.randomUUID().slice(0, 8)}`, { heartbeatMs: 0 });
    try {
      const message = new Promise<unknown>((resolve) => room.on("message", (m) => resolve(m.data)));
      await new Promise<void>((resolve) => room.on("welcome", () => resolve()));
      const { seq } = await room.publish({ text: "from node" });
      expect(seq).toBeGreaterThan(0);
      expect(await message).toEqual({ text: "from node" });
    } finally {
      room.close();
    }
  });

  it("signs out when a room says the session was revoked (4401), e.g. by signing out everywhere elsewhere", async () => {
    const client = createClient({ url: apiUrl, storage: "memory", WebSocket });
    await client.auth.signIn({ email: nodeEmail, password });
    const room = client.rooms.connect(`node-${crypto.randomUUID().slice(0, 8)}`, {
      heartbeatMs: 0,
      minReconnectionDelay: 100,
      maxReconnectionDelay: 200,
    });
    try {
      await new Promise<void>((resolve) => room.on("welcome", () => resolve()));
      const closed = new Promise<number>((resolve) => room.on("close", (e) => resolve(e.code)));
      const signedOut = new Promise<void>((resolve) =>
        client.auth.onChange((_user, event) => event === "SIGNED_OUT" && resolve()),
      );
      const elsewhere = createClient({ url: apiUrl, storage: "memory" });
      await elsewhere.auth.signIn({ email: nodeEmail, password });
      await elsewhere.auth.signOut({ everywhere: true });
      expect(await closed).toBe(4401);
      await signedOut;
      expect(client.auth.user).toBeNull();
    } finally {
      room.close();
    }
  });
});
