import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { messageFrame, welcomeFrame } from "../../protocol/frames.ts";
import { FLOOR_WELCOME, floorMessageFrame } from "../floor/room-frames.ts";
import { startNodeRoomFloor, startWorkerdRoomFloor } from "../floor/start.ts";
import { alternateAll, type BenchContext, roundOrder } from "../lib/context.ts";
import { comparedRow, makeRow, NOT_MEASURED } from "../lib/report.ts";
import { readCompatibility, type WorkerBundle } from "../ours/build.ts";
import { connectFloor, type Recorder, workerdPids } from "../suites/realtime-clients.ts";

describe("the realtime floors' frames", () => {
  it("have the shapes of the protocol's welcome and message frames", () => {
    expect(welcomeFrame.safeParse(JSON.parse(FLOOR_WELCOME)).success).toBe(true);
    const text = floorMessageFrame({ r: 2, i: 7, t: 12.5 }, 7, 1_700_000_000_000);
    const parsed = messageFrame.parse(JSON.parse(text));
    expect(parsed.data).toEqual({ r: 2, i: 7, t: 12.5 });
    expect(parsed.seq).toBe(7);
  });
});

describe("round order for several sides", () => {
  it("runs forwards on even rounds and backwards on odd ones", () => {
    expect(roundOrder(0, 2)).toEqual([0, 1]);
    expect(roundOrder(1, 2)).toEqual([1, 0]);
    expect(roundOrder(0, 4)).toEqual([0, 1, 2, 3]);
    expect(roundOrder(3, 4)).toEqual([3, 2, 1, 0]);
  });

  it("keeps neighbours next to each other and swaps who of them goes first", () => {
    for (let round = 0; round < 4; round++) {
      const order = roundOrder(round, 4);
      for (const k of [0, 1, 2]) {
        const [x, y] = [order.indexOf(k), order.indexOf(k + 1)];
        expect(Math.abs(x - y)).toBe(1);
        expect(x < y).toBe(round % 2 === 0);
      }
    }
  });

  it("returns each side's results in the order given, and stops at whole rounds when the budget runs out", async () => {
    let left = 100;
    const ran: string[] = [];
    const ctx = { timeLeftS: () => left, log: () => {} } as unknown as BenchContext;
    const side = (name: string) => async (round: number) => {
      ran.push(`${name}${round}`);
      if (round === 1 && name === "c") left = 0;
      return `${name}${round}`;
    };
    const out = await alternateAll(ctx, 3, [side("a"), side("b"), side("c")]);
    expect(ran).toEqual(["a0", "b0", "c0", "c1", "b1", "a1"]);
    expect(out).toEqual([
      ["a0", "a1"],
      ["b0", "b1"],
      ["c0", "c1"],
    ]);
  });
});

describe("a comparison with a side that produced nothing", () => {
  const sides: [string, string] = ["ours (workerd)", "bare DO room (workerd)"];
  const input = { group: "g", benchmark: "room", sides, metric: "p99", unit: "ms", better: "lower" as const };

  it("says not measured and which side, with no ratio", () => {
    const r = comparedRow({ ...input, a: [80, 90], b: [] }, "did not start");
    expect(r.ratio).toBeNull();
    expect(r.verdict).toBe(`${NOT_MEASURED} (bare DO room (workerd): did not start)`);
    expect(comparedRow({ ...input, a: [], b: [] }).verdict).toBe(
      `${NOT_MEASURED} (either side: could not be measured)`,
    );
  });

  it("is an ordinary row when both sides were measured", () => {
    const both = { ...input, a: [80, 90], b: [40, 45] };
    expect(comparedRow(both)).toEqual(makeRow(both));
  });
});

describe("the floors under the realtime client", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("welcomes every client and delivers each publish to all of them, on workerd and on Node", async () => {
    const root = join(import.meta.dirname, "..", "..");
    const workDir = await mkdtemp(join(tmpdir(), "bench-floor-"));
    dirs.push(workDir);
    const { date, flags } = await readCompatibility(root);
    const bundle: WorkerBundle = {
      dir: workDir,
      modulePath: "",
      rawBytes: 0,
      gzipBytes: 0,
      compatibilityDate: date,
      compatibilityFlags: flags,
      buildMs: 0,
      source: "test",
    };
    for (const start of [() => startWorkerdRoomFloor(root, bundle, workDir), () => startNodeRoomFloor(root)]) {
      const server = await start();
      try {
        const rec: Recorder = { round: 3, latencies: [], lastAt: 0 };
        const pids = await workerdPids(server.proc.pid);
        const side = await connectFloor(server.url, pids, "r", 5, () => rec, performance.now() + 10_000);
        side.publish({ r: 3, i: 0, t: performance.now() });
        side.publish({ r: 2, i: 1, t: performance.now() });
        const until = performance.now() + 5000;
        while (rec.latencies.length < 5 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
        // Five receivers, the round-3 message once each; the other round's is not counted.
        expect(rec.latencies).toHaveLength(5);
        expect(side.framesPerClient?.()).toEqual([3, 3, 3, 3, 3]);
        side.close();
      } finally {
        await server.stop();
      }
    }
  }, 30_000);
});
