// The production bundle, exactly as `wrangler deploy` would upload it (a dry run writes it to disk).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify, stripVTControlCharacters } from "node:util";
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
  /** What was built: "working tree" or "HEAD <sha>". */
  source: string;
  /**
   * The Workers Static Assets directory the bundle was built with (wrangler.toml [assets]); the
   * Worker reads /openapi.json's template from it through its ASSETS binding.
   */
  assetsDir?: string;
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

export interface BuildSource {
  /** The directory wrangler builds in (the repository, or an export of its last commit). */
  dir: string;
  /** What was built, for the results: "working tree" or "HEAD <sha>". */
  label: string;
}

/** esbuild's error lines from wrangler's output, without colour codes (the rest is banner noise). */
function buildErrors(error: unknown): string {
  const e = error as { stdout?: string; stderr?: string; message?: string };
  const text = stripVTControlCharacters(`${e.stderr ?? ""}\n${e.stdout ?? ""}`);
  const lines = text.split("\n").filter((l) => /ERROR|error:/i.test(l));
  return lines.slice(0, 6).join("; ").trim() || (e.message ?? String(error)).split("\n")[0] || "build failed";
}

export async function buildWorker(
  root: string,
  outDir: string,
  source: BuildSource = { dir: root, label: "working tree" },
  { timeoutMs = 120_000, extraArgs = [] }: { timeoutMs?: number; extraArgs?: string[] } = {},
): Promise<WorkerBundle> {
  const started = performance.now();
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  try {
    await run(wrangler, ["deploy", "--dry-run", "--outdir", outDir, ...extraArgs], {
      cwd: source.dir,
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
      // wrangler needs Node >= 22: put the harness's own Node first on PATH.
      env: {
        ...process.env,
        PATH: `${join(process.execPath, "..")}:${process.env.PATH ?? ""}`,
        WRANGLER_SEND_METRICS: "false",
      },
    });
  } catch (error) {
    throw new Error(`building the ${source.label} failed: ${buildErrors(error)}`);
  }
  const buildMs = performance.now() - started;
  const modulePath = join(outDir, "index.js");
  const code = await readFile(modulePath);
  const { date, flags } = await readCompatibility(source.dir);
  return {
    dir: outDir,
    modulePath,
    rawBytes: (await stat(modulePath)).size,
    // zlib's default level, as wrangler's "Total Upload: … / gzip: …" line computes it, so the two agree.
    gzipBytes: gzipSync(code).length,
    compatibilityDate: date,
    compatibilityFlags: flags,
    buildMs,
    source: source.label,
    assetsDir: join(source.dir, "public"),
  };
}

/**
 * The last commit, exported to `dir` with the repository's node_modules linked in and its build
 * prelude run: what to build when the working tree is mid-edit (several engineers share it) and
 * does not build.
 */
export async function exportHead(root: string, dir: string, timeoutMs = 60_000): Promise<BuildSource> {
  const { stdout: sha } = await run("git", ["rev-parse", "--short", "HEAD"], { cwd: root, timeout: timeoutMs });
  await mkdir(dir, { recursive: true });
  await run("sh", ["-c", `git archive --format=tar HEAD | tar -x -C "${dir}"`], { cwd: root, timeout: timeoutMs });
  await symlink(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  // What the commit's build prelude generates (gitignored, so not in the export): the [alias]
  // targets under .bundle/ and public/, from that commit's own generators.
  if (existsSync(join(dir, "scripts/bundle-build.ts")))
    await run(process.execPath, ["scripts/bundle-build.ts"], { cwd: dir, timeout: timeoutMs });
  return { dir, label: `HEAD ${sha.trim()}` };
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
