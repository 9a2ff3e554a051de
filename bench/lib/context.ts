// What every suite gets: the running servers, identities, clients and the time budget.
import type { RedisClientType } from "redis";
import type { BaselineUser } from "../baselines/sessions.ts";
import type { BaselineEnv, RunningBaseline } from "../baselines/start.ts";
import type { WorkerBundle } from "../ours/build.ts";
import type { OursIdentity } from "../ours/identity.ts";
import type { RunningServer } from "../floor/start.ts";
import type { RunningWorkerd } from "../ours/workerd.ts";
import type { BenchServices } from "../stack/start.ts";
import type { PgCounter } from "./pg-counter.ts";
import type { Profile } from "./profile.ts";
import type { Row } from "./report.ts";

export interface BenchContext {
  root: string;
  runId: string;
  workDir: string;
  profile: Profile;
  /** Seconds left in the run's budget. */
  timeLeftS(): number;
  log(line: string): void;
  services: BenchServices;
  bundle: WorkerBundle;
  /** The Worker's bindings (vars + secrets) as given to workerd. */
  workerVars: Record<string, string>;
  ours: RunningWorkerd;
  oursIdentity: OursIdentity;
  /** Starts another workerd with some bindings changed (e.g. no cache); the caller stops it. */
  startOursVariant(overrides: Record<string, string | undefined>): Promise<RunningWorkerd>;
  baseline: {
    a: RunningBaseline;
    b: RunningBaseline;
    user: BaselineUser;
    keyPrefix: string;
    sessionSecret: string;
    env: BaselineEnv;
  };
  redis: RedisClientType;
  /** The Redis both sides use: the run's own redis-server (exact counts) or a shared one (noisy). */
  redisServer: {
    /** Its pid when the run started it (its CPU is then counted), else null. */
    pid: number | null;
    private: boolean;
    /** total_commands_processed now, minus the INFO call that read it. */
    commands(): Promise<number>;
  };
  /** Ours through runtimes/node.ts, and the bare-Hono floors; null when one could not start. */
  oursNode: RunningServer | null;
  floors: { workerd: RunningWorkerd | null; node: RunningServer | null };
  /** Key prefixes this run wrote under (deleted at the end). */
  oursKeyPrefix: string;
  pg: PgCounter;
  /** Raw data that does not fit a row, kept in the JSON results. */
  extra: Record<string, unknown>;
}

export interface Suite {
  name: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export const OURS = "ours (workerd)";
export const BASE = "Node baseline";
export const OURS_NODE = "ours (Node)";
export const FLOOR_WORKERD = "bare Hono (workerd)";
export const FLOOR_NODE = "bare Hono (Node)";

/**
 * Runs `rounds` paired rounds, alternating which side goes first so neither always gets the warmer
 * (or more tired) machine. Stops early, keeping whole pairs, when the budget would run out.
 */
export async function alternate<T>(
  ctx: BenchContext,
  rounds: number,
  runA: (round: number) => Promise<T>,
  runB: (round: number) => Promise<T>,
): Promise<{ a: T[]; b: T[] }> {
  const a: T[] = [];
  const b: T[] = [];
  let pairS = 0;
  for (let i = 0; i < rounds; i++) {
    if (i > 0 && ctx.timeLeftS() < pairS * 1.2 + 5) {
      ctx.log(`  budget: stopping after ${i} round(s)`);
      break;
    }
    const started = performance.now();
    if (i % 2 === 0) {
      a.push(await runA(i));
      b.push(await runB(i));
    } else {
      b.push(await runB(i));
      a.push(await runA(i));
    }
    pairS = Math.max(pairS, (performance.now() - started) / 1000);
  }
  return { a, b };
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(redis: RedisClientType, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length) deleted += await redis.del(keys);
  }
  return deleted;
}
