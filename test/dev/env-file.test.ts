// The env file handed to `wrangler dev`: values must reach the Worker byte for byte. The last test
// runs the real wrangler with a tiny Worker that echoes its env.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Children } from "../../dev/children.ts";
import { formatEnvFile, parseEnvFile } from "../../dev/env-file.ts";
import { canConnect, freePort } from "../../dev/free-port.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const TRICKY: Record<string, string> = {
  JSON: '[{"kid":"dev-hs256","alg":"HS256","secret":"abc_-xyz"}]',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} that must not be expanded is the point
  DOLLAR: "pa$$word ${HOME} $PATH \\$x",
  HASH_EQ_COLON: "p#ss w=rd:x //host:5432",
  BACKSLASH: "C:\\dir\\n\\t",
  SINGLE: "it's",
  NEWLINE: "line1\nline2",
  URL: "postgres://u:p%40ss@127.0.0.1:5432/db?sslmode=disable&x=1",
  EMPTY: "",
};

describe("parseEnvFile (.dev.vars)", () => {
  it("reads plain, quoted, exported and commented lines", () => {
    const text = [
      "# comment",
      "A=plain value  # trailing comment",
      'export B="double \\"q\\" \\n newline"',
      "C='single # not a comment'",
      "",
      'D="multi',
      'line"',
      "E=",
      "not a line",
      "F=a=b",
    ].join("\n");
    expect(parseEnvFile(text)).toEqual({
      A: "plain value",
      B: 'double "q" \n newline',
      C: "single # not a comment",
      D: "multi\nline",
      E: "",
      F: "a=b",
    });
  });
});

describe("formatEnvFile", () => {
  it("refuses a value with both kinds of quote", () => {
    expect(() => formatEnvFile({ X: `'"` })).toThrow(/X/);
  });

  it("every value reaches a Worker under wrangler dev unchanged", { timeout: 90_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "edge-envfile-"));
    const children = new Children();
    try {
      await writeFile(
        join(dir, "wrangler.toml"),
        'name = "env-echo"\nmain = "index.js"\ncompatibility_date = "2026-11-01"\n',
      );
      await writeFile(join(dir, "index.js"), "export default { fetch: (_req, env) => Response.json(env) };\n");
      await writeFile(join(dir, "test.env"), formatEnvFile(TRICKY));
      const port = await freePort();
      const wrangler = children.service(
        process.execPath,
        [
          join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
          "dev",
          "--config",
          join(dir, "wrangler.toml"),
          "--port",
          String(port),
          "--ip",
          "127.0.0.1",
          "--log-level",
          "error",
          "--env-file",
          join(dir, "test.env"),
        ],
        {
          cwd: dir,
          env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
          stdio: "ignore",
        },
      );
      let env: Record<string, string> | null = null;
      const deadline = Date.now() + 60_000;
      while (!env && Date.now() < deadline && wrangler.exitCode === null) {
        try {
          env = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as Record<string, string>;
        } catch {
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      expect(env).toEqual(TRICKY);
      await children.stopAll();
      expect(await canConnect("127.0.0.1", port)).toBe(false);
    } finally {
      await children.stopAll();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
