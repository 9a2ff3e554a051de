// The production bundle, exactly as `wrangler deploy` would upload it (a dry run writes it to disk).
import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

const run = promisify(execFile);

export interface WorkerBundle {
  dir: string;
  /** Absolute path of the single ES module wrangler emits. */
  modulePath: string;
  rawBytes: number;
  gzipBytes: number;
  compatibilityDate: string;
  compatibilityFlags: string[];
  buildMs: number;
}

/** Reads the two compatibility settings from wrangler.toml (a full TOML parser is not needed for two keys). */
export async function readCompatibility(root: string): Promise<{ date: string; flags: string[] }> {
  const toml = await readFile(join(root, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flagsText = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  const flags = [...flagsText.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
  return { date, flags };
}

export async function buildWorker(root: string, outDir: string, timeoutMs = 120_000): Promise<WorkerBundle> {
  const started = performance.now();
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  await run(wrangler, ["deploy", "--dry-run", "--outdir", outDir], {
    cwd: root,
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
    // wrangler needs Node >= 22: put the harness's own Node first on PATH.
    env: {
      ...process.env,
      PATH: `${join(process.execPath, "..")}:${process.env.PATH ?? ""}`,
      WRANGLER_SEND_METRICS: "false",
    },
  });
  const buildMs = performance.now() - started;
  const modulePath = join(outDir, "index.js");
  const code = await readFile(modulePath);
  const { date, flags } = await readCompatibility(root);
  return {
    dir: outDir,
    modulePath,
    rawBytes: (await stat(modulePath)).size,
    gzipBytes: gzipSync(code, { level: 9 }).length,
    compatibilityDate: date,
    compatibilityFlags: flags,
    buildMs,
  };
}

/** The `[vars]` table of wrangler.toml (string values only), which the bundle does not carry. */
export async function readWranglerVars(root: string): Promise<Record<string, string>> {
  const toml = await readFile(join(root, "wrangler.toml"), "utf8");
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of toml.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("[")) inVars = trimmed === "[vars]";
    else if (inVars) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(trimmed);
      if (m?.[1]) vars[m[1]] = JSON.parse(`"${m[2] ?? ""}"`) as string;
    }
  }
  return vars;
}
