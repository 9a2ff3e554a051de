import { describe, expect, it } from "vitest";
import { oursLoses } from "../lib/report.ts";
import { type CrashResult, tallyDeliveries } from "../suites/linked-crash.ts";
import { crashRows } from "../suites/linked.ts";

describe("the crash scenario's tally", () => {
  it("counts lost, duplicated and out-of-order messages per client against what was acknowledged", () => {
    const owed = new Set([0, 1, 2, 3, 4]);
    const tally = tallyDeliveries(owed, [
      [0, 1, 2, 3, 4],
      // missed 2 and 3 while moving to another instance
      [0, 1, 4],
      // got 1 again from a replay, and 3 after 4
      [0, 1, 1, 2, 4, 3],
    ]);
    expect(tally).toEqual({ lost: 2, duplicated: 1, outOfOrder: 1, clientsWithLoss: 1 });
  });

  it("owes nothing that was never acknowledged", () => {
    expect(tallyDeliveries(new Set([0]), [[0, 7]])).toEqual({
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      clientsWithLoss: 0,
    });
  });
});

describe("the crash rows", () => {
  const result = (over: Partial<CrashResult>): CrashResult => ({
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    clientsWithLoss: 0,
    clients: 300,
    movedClients: 100,
    published: 160,
    acked: 160,
    resumeMs: [300, 320, Number.NaN],
    ...over,
  });

  it("compares counts with zero as a result, resume times as ratios, and says how many never resumed", () => {
    const rows = crashRows(
      "crash",
      result({}),
      result({ lost: 800, clientsWithLoss: 100, resumeMs: [400, 440, 480], recovered: 0, controlRecovered: true }),
    );
    const by = (metric: string) => rows.find((r) => r.metric.startsWith(metric));
    expect(by("messages lost")?.verdict).toBe("ours better (0 vs 800)");
    expect(by("messages duplicated")?.verdict).toBe("same");
    expect(by("time to resume, p50")?.aMedian).toBe(310);
    expect(by("time to resume, p50")?.bMedian).toBe(440);
    expect(by("time to resume, p50")?.note).toContain("never resumed: 1 / 0");
    expect(by("publishes acknowledged")?.note).toContain("socket.io restored 0 of their sessions");
    expect(by("publishes acknowledged")?.note).toContain(
      "control (a client whose transport closed while its process lived, resumed on another): restored, missed nothing",
    );
    expect(oursLoses(rows)).toEqual([]);
  });
});
