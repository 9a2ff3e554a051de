// The web console in Debian's Chromium (playwright-core), served by the service itself
// (runtimes/node.ts on the local stack: Postgres, Redis through the Upstash bridge, local S3):
// an admin signs in, a setting edited in one page changes live in another, a 20 MiB image goes up
// with a progress bar and comes back as a preview, two users chat in a room, and /docs renders
// with every request to another host cut. Any page error or console error fails the test.
// Screenshots: test-results/console/.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { seedAdmin } from "../../scripts/seed-admin.ts";
import { buildConsole } from "../../scripts/console-build.ts";
import { cleanupList, launchChromium, startService } from "./support/browser-stack.ts";

const SHOTS = fileURLToPath(new URL("../../test-results/console/", import.meta.url));
const cleanup = cleanupList("console e2e");
const admin = { email: `admin-${crypto.randomUUID().slice(0, 8)}@example.test`, password: `pw-${crypto.randomUUID()}` };
const member = {
  email: `member-${crypto.randomUUID().slice(0, 8)}@example.test`,
  password: `pw-${crypto.randomUUID()}`,
};
let baseUrl: string;
let browser: Browser;
let adminContext: BrowserContext;
/** Page errors and console errors of every page opened here; each test ends with none. */
const problems: string[] = [];
/**
 * Statuses a test provokes on purpose (412, 422): Chromium logs each refused fetch as a console
 * error "Failed to load resource … status of N"; those are allowed, nothing else is.
 */
const provoked = new Set<number>();

beforeAll(async () => {
  await buildConsole();
  await mkdir(SHOTS, { recursive: true });
  const service = await startService(cleanup, {});
  baseUrl = service.baseUrl;
  await seedAdmin({ databaseUrl: service.databaseUrl, email: admin.email, password: admin.password });
  const registered = await fetch(`${baseUrl}/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...member, name: "Member" }),
  });
  expect(registered.status).toBe(201);
  browser = await launchChromium(cleanup);
  adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 180_000);

afterAll(() => cleanup.run(), 60_000);

afterEach(() => {
  provoked.clear();
  const seen = problems.splice(0);
  expect(seen, "page errors and console errors").toEqual([]);
});

function watch(page: Page, label: string): Page {
  // A server error is never expected; name the request so a failure says which one.
  page.on("response", (response) => {
    if (response.status() >= 500)
      problems.push(`${label} ${response.request().method()} ${response.url()}: ${response.status()}`);
  });
  page.on("pageerror", (error) => problems.push(`${label} page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text());
    if (status && provoked.has(Number(status[1]))) return;
    problems.push(`${label} console error: ${message.text()}`);
  });
  return page;
}

async function openConsole(context: BrowserContext, label: string, hash = ""): Promise<Page> {
  const page = watch(await context.newPage(), label);
  await page.goto(`${baseUrl}/console/${hash}`);
  return page;
}

async function signIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Settings" }).waitFor();
}

/** A valid PNG of random pixels, stored uncompressed so it is at least `minBytes` long. */
function noisePng(width: number, minBytes: number): Buffer {
  const rowBytes = width * 3 + 1;
  const height = Math.ceil(minBytes / rowBytes);
  const raw = randomBytes(rowBytes * height);
  for (let y = 0; y < height; y++) raw[y * rowBytes] = 0; // filter type "none" on every row
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 0 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("the console in Chromium", () => {
  let pageA: Page;
  let pageB: Page;
  /** The member's console (another browser context), left in the room by the chat test. */
  let pageM: Page;

  it("signs an admin in through the form and shows the navigation", async () => {
    pageA = await openConsole(adminContext, "admin A");
    await signIn(pageA, admin);
    for (const name of ["Users", "Settings", "Assets", "Rooms", "Health"]) {
      expect(await pageA.getByRole("link", { name, exact: true }).isVisible(), name).toBe(true);
    }
    await pageA.screenshot({ path: join(SHOTS, "settings-empty.png") });
  });

  it("shows a setting edited in one page live in another, and a stale save as a 412 with the current version", async () => {
    const key = `console.${crypto.randomUUID().slice(0, 8)}`;
    const create = pageA.getByRole("form", { name: "New setting" });
    await create.getByLabel("Key").fill(key);
    await create.getByLabel("Value (JSON)").fill('{"greeting":"hello"}');
    await create.getByRole("button", { name: "Create" }).click();
    await pageA.getByRole("heading", { name: `${key} editing version 1` }).waitFor();

    // The second page (same session, another tab) opens the same version, then waits for live changes.
    pageB = await openConsole(adminContext, "admin B", "#/settings");
    await pageB.getByText("Live: changes made elsewhere appear here.").waitFor();
    const cellB = pageB.locator(`tr[data-key="${key}"] [data-role="value"]`);
    await cellB.filter({ hasText: '{"greeting":"hello"}' }).waitFor();
    await pageB.getByRole("button", { name: key }).click();
    await pageB.getByRole("heading", { name: `${key} editing version 1` }).waitFor();

    const editorA = pageA.getByRole("region", { name: `Edit ${key}` });
    await editorA.getByLabel("Value (JSON)").fill('{"greeting":"changed in A"}');
    await editorA.getByRole("button", { name: "Save" }).click();
    await pageA.getByRole("status").filter({ hasText: "Saved as version 2" }).waitFor();
    // No reload in B: the `system` room announced the change and the list was read again.
    await cellB.filter({ hasText: '{"greeting":"changed in A"}' }).waitFor({ timeout: 10_000 });
    await pageB.getByText("Changed elsewhere: version 2 is current.").waitFor();
    await pageB.screenshot({ path: join(SHOTS, "settings-live.png") });

    // B still edits version 1: its save is refused and shows what won.
    provoked.add(412).add(422);
    const editorB = pageB.getByRole("region", { name: `Edit ${key}` });
    await editorB.getByLabel("Value (JSON)").fill('{"greeting":"stale from B"}');
    await editorB.getByRole("button", { name: "Save" }).click();
    await editorB.getByRole("alert").filter({ hasText: "412" }).waitFor();
    const current = editorB.getByRole("region", { name: "Current version" });
    await current.getByText("The current version is 2").waitFor();
    expect(await current.locator("pre").textContent()).toContain("changed in A");

    // A schema the value breaks: the 422's field errors are shown, nothing is written.
    await editorA.getByRole("heading", { name: `${key} editing version 2` }).waitFor();
    await editorA.getByLabel("JSON Schema (optional)").fill('{"type":"object","required":["count"]}');
    await editorA.getByRole("button", { name: "Save" }).click();
    await editorA.getByRole("alert").filter({ hasText: "422" }).waitFor();
    expect(await editorA.getByRole("alert").textContent()).toMatch(/count/);
    await pageA.screenshot({ path: join(SHOTS, "settings-errors.png") });

    // History lists both versions, newest first.
    await editorA.getByRole("button", { name: "History" }).click();
    const history = editorA.getByRole("table", { name: `History of ${key}` });
    await history.waitFor();
    expect(await history.locator("tbody tr td:first-child").allTextContents()).toEqual(["2", "1"]);
  });

  it("uploads a 20 MiB image with a moving progress bar, then shows its preview", async () => {
    const dir = await mkdtemp(join(tmpdir(), "console-upload-"));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "noise.png");
    const png = noisePng(2560, 20 * 1024 * 1024);
    await writeFile(file, png);
    await pageA.goto(`${baseUrl}/console/#/assets`);
    await pageA.getByText("No assets yet.").waitFor();
    // Every value the progress bar shows, recorded in the page as it changes.
    await pageA.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { progressSeen: number[] }).progressSeen = seen;
      new MutationObserver(() => {
        const bar = document.querySelector("progress");
        if (bar && seen.at(-1) !== bar.value) seen.push(bar.value);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await pageA.getByLabel("Upload a file").setInputFiles(file);
    await pageA.getByRole("progressbar", { name: "Upload progress" }).waitFor();
    // The screenshot once some bytes are up (or, on a fast run, once it is done).
    await pageA.waitForFunction(
      () =>
        (document.querySelector("progress")?.value ?? 0) > 0 ||
        document.querySelector('img[alt="Preview of noise.png"]'),
    );
    await pageA.screenshot({ path: join(SHOTS, "assets-uploading.png") });
    const preview = pageA.getByRole("img", { name: "Preview of noise.png" });
    await preview.waitFor({ timeout: 60_000 });
    await pageA.waitForFunction(
      () => (document.querySelector('img[alt="Preview of noise.png"]') as HTMLImageElement | null)?.complete,
    );
    const shown = await preview.evaluate((img: HTMLImageElement) => ({ w: img.naturalWidth, h: img.naturalHeight }));
    expect(shown.w).toBe(2560);
    expect(shown.h).toBeGreaterThan(2700);
    const seen = await pageA.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
    // Between nothing and everything: the bar moved while the parts went up.
    expect(
      seen.some((v) => v > 0 && v < png.length),
      `progress values ${seen.join(", ")}`,
    ).toBe(true);
    expect(await pageA.getByText("20.0 MiB · private · ready").isVisible()).toBe(true);
    await pageA.screenshot({ path: join(SHOTS, "assets-preview.png") });
  }, 120_000);

  it("lets two users chat in a room, with presence, and pages the history", async () => {
    const room = `console-${crypto.randomUUID().slice(0, 8)}`;
    const memberContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    cleanup.add(() => memberContext.close());
    pageM = await openConsole(memberContext, "member");
    await signIn(pageM, member);
    const joinRoom = async (page: Page) => {
      await page.getByRole("link", { name: "Rooms", exact: true }).click();
      await page.getByLabel("Room").fill(room);
      await page.getByRole("button", { name: "Join" }).click();
      await page.getByRole("status", { name: "Connection" }).filter({ hasText: "connected" }).waitFor();
    };
    await joinRoom(pageA);
    await joinRoom(pageM);
    // Each sees two people (itself as "you", the other by id).
    for (const page of [pageA, pageM]) {
      await page.waitForFunction(() => document.querySelectorAll('section[aria-label="Present"] code').length === 2);
    }
    const say = async (page: Page, text: string) => {
      await page.getByRole("textbox", { name: "Message" }).fill(text);
      await page.getByRole("button", { name: "Send" }).click();
    };
    await say(pageA, "hello from the admin");
    await pageM.getByRole("list", { name: "Messages" }).getByText("hello from the admin").waitFor();
    await say(pageM, "hi back from the member");
    await pageA.getByRole("list", { name: "Messages" }).getByText("hi back from the member").waitFor();
    await pageA.getByRole("button", { name: "Load history" }).click();
    const history = pageA.getByRole("list", { name: "History" });
    await history.getByText("hi back from the member").waitFor();
    expect(await history.locator("li").count()).toBe(2);
    await pageA.screenshot({ path: join(SHOTS, "rooms-chat.png") });
    await pageM.screenshot({ path: join(SHOTS, "rooms-chat-member.png") });
  });

  it("lists and searches users, changes a role, and signs a user out everywhere (their open console too)", async () => {
    await pageA.getByRole("link", { name: "Users", exact: true }).click();
    const table = pageA.getByRole("table", { name: "Users" });
    await table.locator(`tr[data-user="${member.email}"]`).waitFor();
    expect(await table.locator(`tr[data-user="${admin.email}"]`).count()).toBe(1);
    await pageA.getByLabel("Search by email").fill("member-");
    await pageA.getByRole("button", { name: "Search" }).click();
    await table.locator(`tr[data-user="${admin.email}"]`).waitFor({ state: "detached" });
    const row = table.locator(`tr[data-user="${member.email}"]`);
    expect(await table.locator("tbody tr").count()).toBe(1);

    await row.getByLabel(`Roles of ${member.email}`).fill("user, editor");
    await row.getByRole("button", { name: "Save roles" }).click();
    await row.getByText("Roles saved").waitFor();
    const login = await fetch(`${baseUrl}/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(member),
    });
    expect(((await login.json()) as { user: { roles: string[] } }).user.roles.sort()).toEqual(["editor", "user"]);

    // The member's console is still in the room: its socket is closed (4401) and the SDK signs it out
    // (its refresh is refused: a 401 in its console).
    provoked.add(401);
    await row.getByRole("button", { name: "Sign out everywhere" }).click();
    await row.getByText("Signed out everywhere").waitFor();
    await pageM.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 15_000 });
    expect(await row.locator("td").nth(3).textContent()).toBe("active");
    await pageA.screenshot({ path: join(SHOTS, "users.png") });
  });

  it("shows each dependency's readiness and latency", async () => {
    await pageA.getByRole("link", { name: "Health", exact: true }).click();
    const table = pageA.getByRole("table", { name: "Dependencies" });
    await table.waitFor();
    for (const name of ["postgres", "redis", "storage"]) {
      const row = table.locator(`tr[data-check="${name}"]`);
      expect(await row.locator("td").nth(1).textContent(), name).toBe("ready");
      expect(await row.locator("td").nth(2).textContent(), name).toMatch(/^\d+ ms$/);
    }
    await pageA.screenshot({ path: join(SHOTS, "health.png") });
  });
});

describe("/docs without internet", () => {
  it("renders every operation with every request to another host cut", async () => {
    const context = await browser.newContext();
    cleanup.add(() => context.close());
    const outside: string[] = [];
    await context.route("**/*", (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === "127.0.0.1" || hostname === "localhost") return route.continue();
      outside.push(route.request().url());
      return route.abort("internetdisconnected");
    });
    const page = watch(await context.newPage(), "docs");
    await page.goto(`${baseUrl}/docs`);
    await page.getByRole("heading", { name: /Edge backend/ }).waitFor();
    const spec = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(await page.locator("details.op summary code").filter({ hasText: /^\// }).count()).toBe(operations);
    expect(await page.getByText("/v1/settings/{key}/history").count()).toBeGreaterThan(0);
    expect(outside).toEqual([]);
    await page.screenshot({ path: join(SHOTS, "docs-offline.png"), fullPage: false });
  });
});
