// The packed SDK as an app would get it: `npm run sdk:pack`'s tarball installed into an empty
// project, type-checked with only the browser's types (no Node, no Workers), and bundled.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packSdk } from "../../scripts/sdk-pack.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Minified + gzip budget of an app that uses every part of the SDK (measured: see the test's log line). */
const GZIP_BUDGET_BYTES = 128 * 1024;

let app: string;
let tarball: string;

beforeAll(async () => {
  tarball = await packSdk();
  app = await mkdtemp(join(tmpdir(), "sdk-app-"));
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "sdk-app", private: true, type: "module" }));
  // The dependencies (hono, partysocket, zod) come from npm's cache when the repository's install filled it.
  await run("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"], {
    cwd: app,
    timeout: 120_000,
  });
}, 180_000);

afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

const APP_SOURCE = `
import { ApiError, createClient, memoryStorage, type Asset, type User } from "@edge-backend/client";

const client = createClient({ url: "https://api.example.com", storage: memoryStorage() });

export async function main(file: File, img: HTMLImageElement): Promise<void> {
  const user: User = await client.auth.signIn({ email: "ada@example.com", password: "correct horse" });
  client.auth.onChange((u, event) => console.log(event, u?.email));
  const me = await (await client.api.v1.auth.me.$get()).json();
  const email: string = me.email;
  // @ts-expect-error: the typed routes know every path, so a wrong one does not compile
  client.api.v1.no.such.route;
  // @ts-expect-error: and every body
  await client.api.v1.auth.login.$post({ json: { email: 1 } });
  const asset: Asset = await client.assets.upload(file, { onProgress: ({ loaded, total }) => console.log(loaded / total) });
  img.src = (await client.assets.url(asset.id)).url;
  const room = client.rooms.connect("lobby");
  room.on("message", (m) => console.log(m.seq, m.data));
  try {
    await client.api.v1.assets[":id"].$get({ param: { id: asset.id } });
  } catch (e) {
    if (e instanceof ApiError) console.log(e.status, e.title, e.detail, e.requestId);
  }
  console.log(user.id, email);
}
`;

describe("the packed SDK in an empty browser project", () => {
  it("ships ESM and declarations that name no server file and no Workers type", async () => {
    const pkg = join(app, "node_modules/@edge-backend/client");
    const manifest = JSON.parse(await readFile(join(pkg, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest.type).toBe("module");
    expect(tarball).toMatch(/edge-backend-client-[\d.]+\.tgz$/);
    const typesDir = join(pkg, "dist/types/client");
    const declarations = await readdir(typesDir);
    expect(declarations).toContain("index.d.ts");
    for (const file of declarations) {
      const text = await readFile(join(typesDir, file), "utf8");
      expect(text, file).not.toMatch(/CloudflareEnv|DurableObject|ExecutionContext|\/src\/|\.ts["']/);
    }
  });

  it("imports and runs in plain Node from the installed package", async () => {
    const script = [
      'import { ApiError, createClient, memoryStorage } from "@edge-backend/client";',
      'const client = createClient({ url: "http://127.0.0.1:9/api/", storage: memoryStorage() });',
      "const error = new ApiError({ status: 404, title: 'Not Found', requestId: 'r1' });",
      "console.log(JSON.stringify({ url: client.url, user: client.auth.user, status: error.status, rooms: typeof client.rooms.connect }));",
    ].join("\n");
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ url: "http://127.0.0.1:9/api", user: null, status: 404, rooms: "function" });
  });

  it('type-checks with lib ["ES2022", "DOM"] only, skipLibCheck off, typed routes and all', async () => {
    await writeFile(join(app, "app.ts"), APP_SOURCE);
    await writeFile(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "ESNext",
          moduleResolution: "Bundler",
          lib: ["ES2022", "DOM", "DOM.Iterable"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        include: ["app.ts"],
      }),
    );
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const result = await run(process.execPath, [tsc, "-p", join(app, "tsconfig.json")], { cwd: app }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(result.out).toBe("");
    expect(result.code).toBe(0);
  }, 60_000);

  it("bundles for browsers, within the size budget", async () => {
    const out = await build({
      entryPoints: [join(app, "app.ts")],
      absWorkingDir: app,
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      metafile: true,
      logLevel: "warning",
    });
    const code = out.outputFiles[0]?.contents ?? new Uint8Array();
    const gzip = gzipSync(code, { level: 9 }).byteLength;
    const inputs = Object.entries(Object.values(out.metafile.outputs)[0]?.inputs ?? {});
    const share = (name: string) =>
      inputs.filter(([path]) => path.includes(`node_modules/${name}/`)).reduce((n, [, v]) => n + v.bytesInOutput, 0);
    console.log(
      `sdk bundle: ${(code.byteLength / 1024).toFixed(1)} KiB minified, ${(gzip / 1024).toFixed(1)} KiB gzip ` +
        `(minified shares: zod ${(share("zod") / 1024).toFixed(1)} KiB, partysocket ${(share("partysocket") / 1024).toFixed(1)} KiB, ` +
        `hono ${(share("hono") / 1024).toFixed(1)} KiB, the SDK ${(share("@edge-backend/client") / 1024).toFixed(1)} KiB)`,
    );
    expect(share("@edge-backend/client")).toBeGreaterThan(0);
    expect(gzip).toBeLessThan(GZIP_BUDGET_BYTES);
  });
});
