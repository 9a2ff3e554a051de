// `npm run dev`: the whole backend on this machine with nothing to install or configure.
//  1. Reads `.dev.vars` and the process environment; whatever is configured there (DATABASE_URL,
//     UPSTASH_*, S3_*, REDIS_URL, JWT_KEYS, ADMIN_*) is used instead of a local stand-in.
//  2. Starts the stand-ins (dev/local-stack.ts), applies migrations, seeds the admin user.
//  3. Runs `wrangler dev` with every value in a generated env file (secrets stay off command lines),
//     waits for GET /healthz and prints where everything is.
// Ctrl-C / SIGTERM stops wrangler (its whole process group), the servers and Redis, then exits 0.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Children } from "./children.ts";
import { DataDirLockedError, type DataDirLock, devRedisKeyPrefix, lockDataDir } from "./data-dir.ts";
import { loadOrCreateAdmin, loadOrCreateJwtKeys } from "./dev-secrets.ts";
import { formatEnvFile, parseEnvFile } from "./env-file.ts";
import { type FrontProxy, startFrontProxy } from "./front-proxy.ts";
import { type LocalStack, postgresAddress, redactUrl, startLocalStack } from "./local-stack.ts";
import { canListen, freePort } from "./free-port.ts";
import { consoleLog } from "./log.ts";
import { describeError, standInOf } from "./stand-in-errors.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
// DEV_DATA_DIR: another folder for this stack's data (PGlite, S3 files, Durable Object state, secrets).
const DATA_DIR = resolve(process.env.DEV_DATA_DIR ?? join(ROOT, ".data"));
const log = consoleLog("dev");

// Process-environment keys that count as configuration (anything else in the environment, e.g. PATH
// or HOME, must not leak into the Worker).
const CONFIG_KEY =
  /^(DATABASE_|UPSTASH_|REDIS_|S3_|STORAGE_|JWT_|ACCESS_TOKEN_|REFRESH_TOKEN_|ADMIN_|MAIL_|AUTH_|CORS_|LOG_LEVEL$)/;
// Auth rate limits in dev: ×100, so scripts and test clients on one address are not throttled.
const DEV_AUTH_RATE_LIMIT_FACTOR = "100";
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
  let lock: DataDirLock | null = null;
  let front: FrontProxy | null = null;
  let stopping: Promise<number> | null = null;

  const shutdown = (code: number): Promise<number> => {
    stopping ??= (async () => {
      await front?.close().catch(() => {});
      await children.stopAll();
      await stack?.close().catch((err: unknown) => log(`while closing: ${String(err)}`));
      if (envFile) await rm(envFile, { force: true });
      await lock?.release().catch(() => {});
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
  // The stand-ins (PGlite, the bridges, the S3 server) run in this process: a bug in one of them must
  // not take the whole stack down. Say which one threw and keep serving.
  process.on("uncaughtException", (err) => log(`${standInOf(err)} threw and was kept running: ${describeError(err)}`));
  process.on("unhandledRejection", (err) =>
    log(`${standInOf(err)} failed and was kept running: ${describeError(err)}`),
  );

  const run = async (): Promise<number> => {
    await mkdir(DATA_DIR, { recursive: true });
    try {
      lock = await lockDataDir(DATA_DIR);
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      log(err.message);
      return 1;
    }
    if (lock.tookOverStale) log(`took over a stale lock in ${DATA_DIR} (its process is gone)`);
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
      // Up to three tries: a Postgres that is still starting, or a shared one momentarily out of
      // connections (SQLSTATE 53300), fails the first. Both scripts are idempotent.
      let code = 1;
      for (let attempt = 1; attempt <= 3 && code !== 0; attempt++) {
        if (attempt > 1) await new Promise((r) => setTimeout(r, 1000 * (attempt - 1)));
        code = await children.run(process.execPath, [script], { cwd: ROOT, env: scriptEnv });
        if (stopping) return await stopping;
        if (code !== 0) log(`${script} failed with exit code ${code}${attempt < 3 ? "; trying again" : ""}`);
      }
      if (code !== 0 && required) return await shutdown(1);
    }

    // Configured values win over the stand-ins' (e.g. a DATABASE_WS_PROXY of your own).
    // A front end on any local port may call the API (CORS); .dev.vars may set CORS_ORIGINS otherwise.
    const workerVars: Record<string, string> = {
      ...stack.vars,
      CORS_ORIGINS: "http://localhost:*,http://127.0.0.1:*",
      JWT_KEYS: jwtKeys,
      REDIS_KEY_PREFIX: devRedisKeyPrefix(DATA_DIR),
      AUTH_RATE_LIMIT_FACTOR: DEV_AUTH_RATE_LIMIT_FACTOR,
    };
    for (const [k, v] of Object.entries(configured)) if (!STACK_ONLY.has(k)) workerVars[k] = v;
    if (configured.DATABASE_URL && !postgresAddress(configured.DATABASE_URL).local && !configured.DATABASE_WS_PROXY) {
      delete workerVars.DATABASE_WS_PROXY;
    }
    await mkdir(DATA_DIR, { recursive: true });
    envFile = join(DATA_DIR, "wrangler-dev.env");
    await writeFile(envFile, formatEnvFile(workerVars), { mode: 0o600 });

    const wranglerBin = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
    // wrangler dev listens on an internal port behind dev/front-proxy.ts, which answers what wrangler's
    // own proxy would turn into plain-text 500s (a body cut short by the client, wrangler not answering).
    const workerPort = await freePort();
    // The usual inspector port when it is free; another stack (or a debugger) may hold it.
    const inspectorPort = (await canListen(9229)) ? 9229 : await freePort();
    const wrangler = children.service(
      process.execPath,
      [
        wranglerBin,
        "dev",
        ...["--port", String(workerPort), "--ip", "127.0.0.1", "--inspector-port", String(inspectorPort)],
        // Durable Object storage lives with the rest of this stack's data, not in the checkout's .wrangler/.
        ...["--persist-to", join(DATA_DIR, "wrangler-state"), "--log-level", "warn", "--env-file", envFile],
      ],
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
    const wranglerDone = new Promise<number>((resolve) => {
      wrangler.once("exit", (code, sig) => {
        wranglerExit = code ?? (sig ? 1 : 0);
        resolve(wranglerExit);
      });
      // Could not even start (e.g. node_modules incomplete): say so instead of an unhandled 'error'.
      wrangler.once("error", (err) => {
        log(`wrangler dev could not start: ${err.message}`);
        wranglerExit = 1;
        resolve(1);
      });
    });

    front = await startFrontProxy({ port, targetPort: workerPort });
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
        ? `  Admin:      ${admin.email} / ${admin.password}   (generated, saved in ${join(DATA_DIR, "admin.json")})`
        : `  Admin:      ${admin.email}${configured.ADMIN_PASSWORD ? "" : `   (password in ${join(DATA_DIR, "admin.json")})`}`,
      `  Data:       ${DATA_DIR}`,
      ...(workerVars.UPSTASH_REDIS_REST_URL
        ? [
            `  Redis keys: ${workerVars.REDIS_KEY_PREFIX}*`,
            `  Auth rate limits: ×${workerVars.AUTH_RATE_LIMIT_FACTOR} (dev; AUTH_RATE_LIMIT_FACTOR=1 for production's)`,
          ]
        : ["  Auth rate limits: off (no Redis)"]),
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
