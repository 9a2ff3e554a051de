// `npm run dev`: the whole backend on this machine with nothing to install or configure.
//  1. Reads `.dev.vars` and the process environment; whatever is configured there (DATABASE_URL,
//     UPSTASH_*, S3_*, REDIS_URL, JWT_KEYS, ADMIN_*) is used instead of a local stand-in.
//  2. Starts the stand-ins (dev/local-stack.ts), applies migrations, seeds the admin user.
//  3. Runs `wrangler dev` with every value in a generated env file (secrets stay off command lines),
//     waits for GET /healthz and prints where everything is.
// Ctrl-C / SIGTERM stops wrangler (its whole process group), the servers and Redis, then exits 0.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Children } from "./children.ts";
import { loadOrCreateAdmin, loadOrCreateJwtKeys } from "./dev-secrets.ts";
import { formatEnvFile, parseEnvFile } from "./env-file.ts";
import { type LocalStack, postgresAddress, redactUrl, startLocalStack } from "./local-stack.ts";
import { consoleLog } from "./log.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATA_DIR = join(ROOT, ".data");
const log = consoleLog("dev");

// Process-environment keys that count as configuration (anything else in the environment, e.g. PATH
// or HOME, must not leak into the Worker).
const CONFIG_KEY =
  /^(DATABASE_|UPSTASH_|REDIS_|S3_|STORAGE_|JWT_|ACCESS_TOKEN_|REFRESH_TOKEN_|ADMIN_|MAIL_|AUTH_|LOG_LEVEL$)/;
// Read by this script only, never handed to the Worker.
const STACK_ONLY = new Set(["REDIS_URL", "ADMIN_EMAIL", "ADMIN_PASSWORD"]);

async function readDevVars(): Promise<Record<string, string>> {
  const path = join(ROOT, ".dev.vars");
  if (!existsSync(path)) return {};
  return parseEnvFile(await readFile(path, "utf8"));
}

async function waitForHealth(url: string, timeoutMs: number, stillRunning: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && stillRunning()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main(): Promise<number> {
  const children = new Children();
  let stack: LocalStack | null = null;
  let envFile: string | null = null;
  let stopping: Promise<number> | null = null;

  const shutdown = (code: number): Promise<number> => {
    stopping ??= (async () => {
      await children.stopAll();
      await stack?.close().catch((err: unknown) => log(`while closing: ${String(err)}`));
      if (envFile) await rm(envFile, { force: true });
      return code;
    })();
    return stopping;
  };
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // Second Ctrl-C: the user wants out now.
      children.killAllNow();
      process.exit(130);
    }
    log(`${sig}: stopping…`);
    void shutdown(0).then((code) => process.exit(code));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", () => children.killAllNow());

  const run = async (): Promise<number> => {
    const fromEnv = Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => CONFIG_KEY.test(e[0]) && e[1] !== undefined),
    );
    const configured = { ...(await readDevVars()), ...fromEnv };
    const port = Number(process.env.PORT ?? 8787);

    const hasUpstash = Boolean(configured.UPSTASH_REDIS_REST_URL && configured.UPSTASH_REDIS_REST_TOKEN);
    const hasS3 = Boolean(configured.S3_ENDPOINT);
    stack = await startLocalStack({
      ...(configured.DATABASE_URL ? { databaseUrl: configured.DATABASE_URL } : {}),
      ...(configured.REDIS_URL ? { redisUrl: configured.REDIS_URL } : {}),
      dataDir: DATA_DIR,
      ...(configured.S3_BUCKET ? { bucket: configured.S3_BUCKET } : {}),
      log,
      skip: { cache: hasUpstash, s3: hasS3 },
      mail: !configured.MAIL_API_KEY,
    });
    if (stopping) return await stopping;

    const databaseUrl = stack.vars.DATABASE_URL ?? "";
    const admin =
      configured.ADMIN_EMAIL && configured.ADMIN_PASSWORD
        ? { email: configured.ADMIN_EMAIL, password: configured.ADMIN_PASSWORD, generated: false }
        : await loadOrCreateAdmin(join(DATA_DIR, "admin.json"));
    const jwtKeys = configured.JWT_KEYS ?? (await loadOrCreateJwtKeys(join(DATA_DIR, "jwt-keys.json")));

    // Migrations and the admin seed talk to Postgres directly (pg over TCP), so they need only DATABASE_URL.
    const scriptEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
    };
    for (const [script, required] of [
      ["scripts/migrate.ts", true],
      ["scripts/seed-admin.ts", false],
    ] as const) {
      if (!existsSync(join(ROOT, script))) {
        log(`warning: ${script} does not exist yet; skipped`);
        continue;
      }
      // process.execPath is the Node 24 that runs this file (npm puts the `node` devDependency first on PATH).
      const code = await children.run(process.execPath, [script], { cwd: ROOT, env: scriptEnv });
      if (stopping) return await stopping;
      if (code !== 0) {
        log(`${script} failed with exit code ${code}`);
        if (required) return await shutdown(1);
      }
    }

    // Configured values win over the stand-ins' (e.g. a DATABASE_WS_PROXY of your own).
    // A front end on any local port may call the API (CORS); .dev.vars may set CORS_ORIGINS otherwise.
    const workerVars: Record<string, string> = {
      ...stack.vars,
      CORS_ORIGINS: "http://localhost:*,http://127.0.0.1:*",
      JWT_KEYS: jwtKeys,
    };
    for (const [k, v] of Object.entries(configured)) if (!STACK_ONLY.has(k)) workerVars[k] = v;
    if (configured.DATABASE_URL && !postgresAddress(configured.DATABASE_URL).local && !configured.DATABASE_WS_PROXY) {
      delete workerVars.DATABASE_WS_PROXY;
    }
    await mkdir(DATA_DIR, { recursive: true });
    envFile = join(DATA_DIR, "wrangler-dev.env");
    await writeFile(envFile, formatEnvFile(workerVars), { mode: 0o600 });

    const wranglerBin = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
    const wrangler = children.service(
      process.execPath,
      [wranglerBin, "dev", "--port", String(port), "--ip", "127.0.0.1", "--log-level", "warn", "--env-file", envFile],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          // No network here beyond package registries: skip the Request.cf download and metrics.
          CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
          WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false",
        },
      },
    );
    let wranglerExit: number | null = null;
    const wranglerDone = new Promise<number>((resolve) =>
      wrangler.once("exit", (code, sig) => {
        wranglerExit = code ?? (sig ? 1 : 0);
        resolve(wranglerExit);
      }),
    );

    const base = `http://127.0.0.1:${port}`;
    const healthy = await waitForHealth(`${base}/healthz`, 90_000, () => wranglerExit === null && !stopping);
    if (stopping) return await stopping;
    if (!healthy) {
      log(
        wranglerExit === null
          ? `${base}/healthz did not answer within 90 s`
          : `wrangler exited with code ${wranglerExit}`,
      );
      return await shutdown(1);
    }

    const lines = [
      "",
      `  edge-backend is running at ${base}`,
      `  API docs:   ${base}/docs`,
      admin.generated
        ? `  Admin:      ${admin.email} / ${admin.password}   (generated, saved in .data/admin.json)`
        : `  Admin:      ${admin.email}${configured.ADMIN_PASSWORD ? "" : "   (password in .data/admin.json)"}`,
      "  Stand-ins:",
      ...stack.services.map((s) => `    - ${s}`),
      ...(hasUpstash ? [`    - Cache: configured Upstash ${redactUrl(configured.UPSTASH_REDIS_REST_URL ?? "")}`] : []),
      ...(hasS3 ? [`    - S3: configured ${configured.S3_ENDPOINT}`] : []),
      "  Ctrl-C to stop.",
      "",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);

    const code = await wranglerDone;
    if (stopping) return await stopping;
    log(`wrangler exited with code ${code}; stopping`);
    return await shutdown(code === 0 ? 1 : code);
  };

  try {
    return await run();
  } catch (err) {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return await shutdown(1);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
