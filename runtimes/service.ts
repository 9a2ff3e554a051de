// What every non-Workers entry point shares: the env (process/Deno env instead of wrangler
// bindings, plus the in-process room service as the ROOMS_GATEWAY binding), the app, the
// ExecutionContext stand-in, and the scheduled jobs on an interval instead of a Cron Trigger.
import { roomLimitsFor } from "../durable/room-limits.ts";
import { ROOMS_GATEWAY_BINDING } from "../src/adapters/rooms.ts";
import { createApp } from "../src/app.ts";
import type { Bindings } from "../src/core/app-env.ts";
import { configFor } from "../src/core/config.ts";
import { createLogger, type Logger } from "../common/logger.ts";
import { runScheduledJobs } from "../src/scheduled.ts";
import { createFleetLease, type FleetLease } from "./linked/fleet-lease.ts";
import { openLinkRedis, type LinkRedis, parseRedisUrl } from "./linked/redis-link.ts";
import { createLinkedRooms } from "./linked/linked-rooms.ts";
import { createLocalRooms, type SocketUpgrader } from "./local-rooms.ts";
import { mayBeStaticAsset, serveStaticAsset } from "./static-assets.ts";
import { installWorkersStreams } from "./web-polyfills.ts";

/** The Cron Trigger runs every 15 minutes (wrangler.toml); the interval defaults to the same. */
const DEFAULT_SCHEDULE_SECONDS = 15 * 60;
/** A killed linked instance's members count this long before they leave (heartbeated every third of it). */
const DEFAULT_PRESENCE_LEASE_SECONDS = 15;
/** Background work still running at shutdown gets this long to finish. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface RuntimeService {
  env: Bindings;
  log: Logger;
  /**
   * The Worker's fetch signature, with this service's env and context filled in. What the app
   * returns, as it returns it: a synchronous Response stays synchronous (@hono/node-server then
   * writes it at once, without awaiting or a close listener).
   */
  fetch(request: Request): Response | Promise<Response>;
  port: number;
  hostname: string;
  /** Stops the schedule, closes the rooms' sockets, and waits (bounded) for background work. */
  close(): Promise<void>;
}

/**
 * Builds the service for a runtime. `vars` are the environment variables (the same names as the
 * Worker's vars and secrets, plus PORT, HOST and SCHEDULE_INTERVAL_SECONDS).
 */
export function createRuntimeService(
  runtime: "node" | "deno" | "bun",
  vars: Record<string, string | undefined>,
  upgrader: SocketUpgrader,
): RuntimeService {
  installWorkersStreams();
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(vars)) if (value !== undefined) plain[key] = value;
  // Fail at start-up, not on the first request, when configuration is missing or malformed.
  const config = configFor(plain);
  const log = createLogger(config.LOG_LEVEL, { runtime });
  // REDIS_URL links this instance with the others on the same Redis (see docs/runtimes.md).
  if (vars.REDIS_URL !== undefined && vars.REDIS_URL !== "") parseRedisUrl(vars.REDIS_URL);
  const leaseSeconds = Number(vars.ROOM_PRESENCE_LEASE_SECONDS ?? DEFAULT_PRESENCE_LEASE_SECONDS);
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 300) {
    throw new Error(
      "ROOM_PRESENCE_LEASE_SECONDS must be an integer from 1 to 300 (seconds a killed instance's members stay present)",
    );
  }
  const instanceId = crypto.randomUUID();
  const link: LinkRedis | null = vars.REDIS_URL
    ? openLinkRedis({ url: vars.REDIS_URL, log: log.child({ component: "redis-link" }) })
    : null;
  const limits = roomLimitsFor(plain);
  const rooms = link
    ? createLinkedRooms(upgrader, {
        limits,
        log: log.child({ component: "linked-rooms" }),
        redis: link,
        prefix: config.REDIS_KEY_PREFIX,
        instanceId,
        leaseMs: leaseSeconds * 1000,
      })
    : createLocalRooms(upgrader, { limits, log });
  // Stable for the process's life, like a Worker's env: config is parsed once per env object.
  const env = Object.freeze({ ...plain, [ROOMS_GATEWAY_BINDING]: rooms.gateway }) as unknown as Bindings;
  configFor(env);

  const pending = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>): void => {
    const settled = work
      .catch((error: unknown) => log.warn("background work failed", { error }))
      .finally(() => {
        pending.delete(settled);
      });
    pending.add(settled);
  };
  const ctx = {
    waitUntil: track,
    passThroughOnException: () => {},
    props: {},
  } as unknown as ExecutionContext;
  const app = createApp();

  const port = Number(vars.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error("PORT must be a TCP port number (0-65535)");
  const intervalSeconds = Number(vars.SCHEDULE_INTERVAL_SECONDS ?? DEFAULT_SCHEDULE_SECONDS);
  if (!Number.isInteger(intervalSeconds) || intervalSeconds <= 0) {
    throw new Error("SCHEDULE_INTERVAL_SECONDS must be a positive integer (seconds between scheduled runs)");
  }
  const lease: FleetLease | null = link
    ? createFleetLease(link, { prefix: config.REDIS_KEY_PREFIX, instanceId })
    : null;

  /** Linked: only the instance holding this interval's lease runs the jobs, as one cron would. */
  const holdsLease = async (): Promise<boolean> => {
    if (!lease) return true;
    try {
      return await lease.acquire("scheduled-jobs", intervalSeconds * 1000);
    } catch (error) {
      // Both jobs are idempotent: with Redis unreachable every instance runs them rather than none.
      log.warn("redis link: scheduled-jobs lease unavailable; running the jobs here", { error });
      return true;
    }
  };

  let running: Promise<void> | null = null;
  const runSchedule = (): void => {
    // Never two runs at once: a slow run makes the next tick a no-op, as a cron would skip.
    if (running) return;
    running = holdsLease()
      .then((held) => (held ? runScheduledJobs(env, new Date()) : undefined))
      .catch((error: unknown) => log.error("scheduled jobs failed", { error }))
      .finally(() => {
        running = null;
      });
    track(running);
  };
  const timer = setInterval(runSchedule, intervalSeconds * 1000);

  return {
    env,
    log,
    // Static files first, as Workers Static Assets answers before the Worker runs.
    fetch: (request) =>
      mayBeStaticAsset(request)
        ? serveStaticAsset(request).then((asset) => asset ?? app.fetch(request, env, ctx))
        : app.fetch(request, env, ctx),
    port,
    hostname: vars.HOST ?? "0.0.0.0",
    async close() {
      clearInterval(timer);
      await rooms.close();
      await link?.close();
      const grace = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref?.());
      await Promise.race([Promise.allSettled([...pending]), grace]);
    },
  };
}
