// How long and how hard each benchmark runs. "full" is sized so the whole run stays under 10 minutes
// on a 2-core machine; "quick" (--quick or BENCH_QUICK=1) is a smoke run of a few seconds each.

export interface Profile {
  name: "full" | "quick";
  /** Paired rounds per comparison (sides alternate, and which side goes first alternates too). */
  rounds: number;
  /** Budget for the whole run: rounds and suites that would not fit are reported as skipped; a
   *  watchdog ends the run 60 s past it whatever is still going. */
  budgetS: number;
  http: { connections: number; durationS: number; warmUpS: number };
  tokens: { durationMs: number };
  settings: { sequentialReads: number };
  realtime: {
    sizes: Array<{ clients: number; ratePerS: number }>;
    sendS: number;
    drainS: number;
    connectTimeoutS: number;
    /** The runtime floors' rounds beside ours' and socket.io's at the largest room (BENCH_REALTIME_FLOORS=0: off). */
    floors: boolean;
  };
  uploads: { sizesMiB: number[]; rounds: number; timeoutS: number };
  footprint: { rounds: number };
  /**
   * The linked suite (bench/suites/linked.ts): `clients` split over 2 linked Node instances vs
   * socket.io's 2 processes at `ratePerS`; then the crash scenario with `crashClients` over 3
   * instances a side, publishing `crashRatePerS` for `crashBeforeS` before the kill, `crashAfterS` after.
   */
  linked: {
    clients: number;
    ratePerS: number;
    crashClients: number;
    crashRatePerS: number;
    crashBeforeS: number;
    crashAfterS: number;
  };
  /** `--soak`: one room held under publishes and reconnect churn (bench/suites/realtime-soak.ts). */
  soak: { clients: number; ratePerS: number; churnPerS: number; durationS: number };
}

const SOAK = { clients: 1000, ratePerS: 10, churnPerS: 10, durationS: 180 };

export const FULL: Profile = {
  name: "full",
  rounds: 3,
  budgetS: 540,
  http: { connections: 50, durationS: 5, warmUpS: 2 },
  tokens: { durationMs: 1500 },
  settings: { sequentialReads: 100 },
  realtime: {
    // Frames per second = clients × rate: 5,000/s and 10,000/s (the load shared/FACTS.md probed).
    sizes: [
      { clients: 100, ratePerS: 50 },
      { clients: 1000, ratePerS: 10 },
    ],
    sendS: 5,
    drainS: 2,
    connectTimeoutS: 90,
    floors: true,
  },
  uploads: { sizesMiB: [1, 50, 90], rounds: 2, timeoutS: 120 },
  footprint: { rounds: 3 },
  linked: { clients: 1000, ratePerS: 10, crashClients: 300, crashRatePerS: 20, crashBeforeS: 3, crashAfterS: 5 },
  soak: SOAK,
};

export const QUICK: Profile = {
  name: "quick",
  rounds: 1,
  budgetS: 240,
  http: { connections: 20, durationS: 2, warmUpS: 0.5 },
  tokens: { durationMs: 150 },
  settings: { sequentialReads: 30 },
  realtime: { sizes: [{ clients: 50, ratePerS: 10 }], sendS: 2, drainS: 2, connectTimeoutS: 60, floors: true },
  uploads: { sizesMiB: [1, 50], rounds: 1, timeoutS: 60 },
  footprint: { rounds: 1 },
  linked: { clients: 100, ratePerS: 10, crashClients: 60, crashRatePerS: 20, crashBeforeS: 2, crashAfterS: 3 },
  soak: { ...SOAK, clients: 100, durationS: 30 },
};

export interface CliOptions {
  profile: Profile;
  write: boolean;
  /** Only these suites (default all). */
  only: Set<string> | null;
  /** `--soak`: run the soak (and nothing else), within a 5-minute budget. */
  soak: boolean;
}

export function parseArgs(argv: string[], env: Record<string, string | undefined>): CliOptions {
  const quick = argv.includes("--quick") || env.BENCH_QUICK === "1";
  const onlyArg = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length) ?? env.BENCH_ONLY;
  const profile = structuredClone(quick ? QUICK : FULL);
  // BENCH_REALTIME_SIZES=100:50,1000:10 overrides the client counts and rates.
  if (env.BENCH_REALTIME_SIZES) {
    profile.realtime.sizes = env.BENCH_REALTIME_SIZES.split(",").map((pair) => {
      const [clients, rate] = pair.split(":").map(Number);
      return { clients: clients || 100, ratePerS: rate || 10 };
    });
  }
  if (env.BENCH_REALTIME_FLOORS === "0") profile.realtime.floors = false;
  // BENCH_BUDGET_S=300 shortens (or lengthens) the run's time budget.
  const soak = argv.includes("--soak");
  // The soak's whole run, set-up included, stays under 5 minutes.
  if (soak) profile.budgetS = Math.min(profile.budgetS, profile.soak.durationS + 100);
  const budget = Number(env.BENCH_BUDGET_S);
  if (Number.isFinite(budget) && budget > 0) profile.budgetS = budget;
  return {
    profile,
    write: argv.includes("--write"),
    soak,
    only: onlyArg ? new Set(onlyArg.split(",").map((s) => s.trim())) : null,
  };
}
