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
/** The realtime floors (bench/floor/room-floor.ts, room-node.ts): a bare broadcast room on each runtime. */
export const FLOOR_ROOM_WORKERD = "bare DO room (workerd)";
export const FLOOR_ROOM_NODE = "bare ws room (Node, 1 process)";

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

/**
 * The order `sides` sides run in round `round`: first to last on even rounds, last to first on odd
 * ones. With two sides that is what `alternate` does; with more, neighbours stay neighbours in every
 * round (list the sides compared with each other next to each other) and each pair swaps who goes
 * first from one round to the next.
 */
export function roundOrder(round: number, sides: number): number[] {
  const forwards = Array.from({ length: sides }, (_, k) => k);
  return round % 2 === 0 ? forwards : forwards.reverse();
}

/**
 * `alternate` for any number of sides: `rounds` rounds, each running every side once in
 * `roundOrder`; stops early, keeping whole rounds, when the budget would run out. Returns each
 * side's results in the order the sides were given.
 */
export async function alternateAll<T>(
  ctx: BenchContext,
  rounds: number,
  runs: Array<(round: number) => Promise<T>>,
): Promise<T[][]> {
  const out: T[][] = runs.map(() => []);
  let roundS = 0;
  for (let i = 0; i < rounds; i++) {
    if (i > 0 && ctx.timeLeftS() < roundS * 1.2 + 5) {
      ctx.log(`  budget: stopping after ${i} round(s)`);
      break;
    }
    const started = performance.now();
    for (const k of roundOrder(i, runs.length)) out[k]?.push(await (runs[k] as (round: number) => Promise<T>)(i));
    roundS = Math.max(roundS, (performance.now() - started) / 1000);
  }
  return out;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(redis: RedisClientType, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length) deleted += await redis.del(keys);
  }
  return deleted;
}
