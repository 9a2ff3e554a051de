// The deploy bundle's "zod" (scripts/bundle/zod.ts) hands out `z` as an object of the members the
// code calls, so the bundler can drop the rest. A member used in code but missing there would be
// `undefined` in the Worker only: this scans every module the Worker (and its tests) load for
// `z.<name>` and checks the slim `z` has that very member.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as real from "zod";
import * as slim from "../../scripts/bundle/zod.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIRS = ["src", "durable", "common", "protocol", "client", "test/workers"];
// Only ever used as types (`z.infer<typeof s>`), which are erased before anything runs.
const TYPE_ONLY = new Set(["infer", "input", "output", "core"]);

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return (
    entries
      // Sources only: not declaration files, nor the SDK's build output (client/dist, .build, .pack).
      .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts"))
      .filter((e) => !/(^|\/)(node_modules|dist|\.build|\.pack)(\/|$)/.test(e.parentPath))
      .map((e) => join(e.parentPath, e.name))
  );
}

describe("bundle alias for zod", () => {
  it("has every z member the sources use, the very same as zod's", async () => {
    const used = new Set<string>();
    for (const dir of DIRS)
      for (const file of await sources(dir)) {
        const text = (await readFile(file, "utf8")).replace(/\/\/.*$/gm, "");
        for (const m of text.matchAll(/\bz\s*\.\s*([A-Za-z_$][\w$]*)/g)) if (!TYPE_ONLY.has(m[1]!)) used.add(m[1]!);
      }
    expect(used.size).toBeGreaterThan(10);
    const slimZ = slim.z as Record<string, unknown>;
    const realZ = real.z as unknown as Record<string, unknown>;
    for (const name of used) expect({ name, member: slimZ[name] }).toEqual({ name, member: realZ[name] });
  });
});
