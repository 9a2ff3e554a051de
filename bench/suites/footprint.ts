// Footprint: the bundled Worker's size (what `wrangler deploy` uploads, raw and gzip; the platform
// limits are on the gzip size), and from process start to the first 200 from /healthz, plus the
// resident memory right after. Each start is a fresh process: workerd with the production bundle,
// and one baseline Node process (which connects to Redis and Postgres before it listens, as the
// classic stack does; the Worker opens nothing until a request needs it).
import { type BenchContext, BASE, OURS, type Suite, alternate } from "../lib/context.ts";
import { readMemory } from "../lib/proc-memory.ts";
import { makeRow, type Row } from "../lib/report.ts";
import { startBaseline } from "../baselines/start.ts";

const GROUP = "Footprint";
const SIDES: [string, string] = [OURS, BASE];

interface Start {
  ms: number;
  rssMiB: number;
}

export const footprintSuite: Suite = {
  name: "footprint",
  async run(ctx: BenchContext) {
    const rows: Row[] = [
      makeRow({
        group: GROUP,
        benchmark: "bundled Worker",
        sides: ["ours bundle", "—"],
        metric: "size, raw",
        unit: "KiB",
        better: "none",
        a: [ctx.bundle.rawBytes / 1024],
        b: [],
      }),
      makeRow({
        group: GROUP,
        benchmark: "bundled Worker",
        sides: ["ours bundle", "—"],
        metric: "size, gzip",
        unit: "KiB",
        better: "none",
        a: [ctx.bundle.gzipBytes / 1024],
        b: [],
      }),
    ];
    const { a, b } = await alternate(
      ctx,
      ctx.profile.footprint.rounds,
      async (): Promise<Start> => {
        const w = await ctx.startOursVariant({});
        try {
          return { ms: w.startMs, rssMiB: (await readMemory(w.proc.pid)).rssKiB / 1024 };
        } finally {
          await w.stop();
        }
      },
      async (): Promise<Start> => {
        const s = await startBaseline(ctx.root, ctx.baseline.env);
        try {
          return { ms: s.startMs, rssMiB: (await readMemory(s.proc.pid)).rssKiB / 1024 };
        } finally {
          await s.stop();
        }
      },
    );
    ctx.extra.footprint = { ours: a, baseline: b, bundle: ctx.bundle };
    rows.push(
      makeRow({
        group: GROUP,
        benchmark: "process start",
        sides: SIDES,
        metric: "time to first 200 /healthz",
        unit: "ms",
        better: "lower",
        a: a.map((s) => s.ms),
        b: b.map((s) => s.ms),
      }),
      makeRow({
        group: GROUP,
        benchmark: "process start",
        sides: SIDES,
        metric: "RSS after the first response",
        unit: "MiB",
        better: "lower",
        a: a.map((s) => s.rssMiB),
        b: b.map((s) => s.rssMiB),
      }),
    );
    return rows;
  },
};
