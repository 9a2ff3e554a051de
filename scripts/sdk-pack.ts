/**
 * `npm run sdk:pack`: builds the SDK (scripts/sdk-build.ts) and packs client/ with `npm pack`.
 * The last line printed is the tarball's absolute path, for `npm install <path>` in an app.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildSdk } from "./sdk-build.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLIENT = join(ROOT, "client");
const OUT = join(CLIENT, ".pack");

/** Builds and packs; resolves with the tarball's absolute path. */
export async function packSdk(): Promise<string> {
  await buildSdk();
  await mkdir(OUT, { recursive: true });
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const { stdout } = await promisify(execFile)(npm, ["pack", "--json", "--pack-destination", OUT], { cwd: CLIENT });
  const [info] = JSON.parse(stdout) as Array<{ filename: string }>;
  if (!info) throw new Error("npm pack printed no tarball");
  return join(OUT, info.filename);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await packSdk());
}
