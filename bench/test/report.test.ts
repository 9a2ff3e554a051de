import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  makeRow,
  markdownTable,
  oursLoses,
  rewriteBenchmarksMd,
  statusRow,
  TABLE_END,
  TABLE_START,
} from "../lib/report.ts";

const sides: [string, string] = ["ours (workerd)", "Node baseline"];
const row = (better: "higher" | "lower" | "none", a: number[], b: number[], note?: string) =>
  makeRow({ group: "g", benchmark: "GET /x", sides, metric: "m", unit: "ms", better, a, b, note });

describe("result rows", () => {
  it("credits the side with more throughput when higher is better", () => {
    const r = row("higher", [200, 220, 210], [100, 100, 100]);
    expect(r.ratio?.median).toBeCloseTo(2.1);
    expect(r.verdict).toBe("ours better ×2.10");
  });

  it("credits the side with less latency when lower is better", () => {
    const r = row("lower", [10, 10, 10], [40, 40, 40]);
    expect(r.verdict).toBe("ours better ×4.00");
  });

  it("names the baseline when ours is slower", () => {
    expect(row("lower", [30, 30, 30], [10, 10, 10]).verdict).toBe("Node baseline better ×3.00");
  });

  it("calls a spread that crosses 1 a tie and a 2% difference about equal", () => {
    expect(row("higher", [90, 130, 120], [100, 100, 100]).verdict).toBe("tie (spread crosses 1)");
    expect(row("higher", [102, 102, 102], [100, 100, 100]).verdict).toBe("about equal");
  });

  it("pairs rounds by index and takes the median of the per-round ratios", () => {
    const r = row("higher", [100, 300, 200], [100, 100, 100]);
    expect(r.ratio).toMatchObject({ median: 2, min: 1, max: 3, rounds: 3 });
  });

  it("prints a figure that was not measured as not measured, never as a verdict", () => {
    // The old bug: ours' CPU read 0 µs (the wrapper's pid, not workerd), and the row said "ours better ×Infinity".
    for (const a of [[0, 0, 0], [Number.NaN], [Number.POSITIVE_INFINITY, 5, 5]]) {
      const r = row("lower", a, [120, 130, 125]);
      expect(r.verdict).toBe("not measured (ours (workerd))");
      expect(r.ratio).toBeNull();
      expect(r.verdict).not.toMatch(/Infinity|better/);
      expect(oursLoses([r])).toEqual([]);
      const table = markdownTable([r]);
      expect(table).toContain("| not measured | 125 ms |");
      expect(table).not.toMatch(/Infinity|NaN/);
    }
    expect(row("higher", [100], [Number.NaN]).verdict).toBe("not measured (Node baseline)");
    expect(row("higher", [0], [0]).verdict).toBe("not measured (either side)");
  });

  it("shows no ratio for counts", () => {
    const r = row("none", [1000], [0]);
    expect(r.ratio).toBeNull();
    expect(r.verdict).toBe("");
  });

  it("compares counts where 0 is a result (messages lost) by their medians, with no ratio", () => {
    const counts = (a: number[], b: number[]) =>
      makeRow({ group: "g", benchmark: "crash", sides, metric: "lost", unit: "", better: "lower", a, b, counts: true });
    const win = counts([0], [1234]);
    expect(win.ratio).toBeNull();
    expect(win.verdict).toBe("ours better (0 vs 1,234)");
    expect(oursLoses([win])).toEqual([]);
    expect(markdownTable([win])).toContain("| 0 | 1,234 | — | ours better (0 vs 1,234) |");
    const loss = counts([3], [0]);
    expect(loss.verdict).toBe("Node baseline better (3 vs 0)");
    expect(oursLoses([loss])).toEqual(["crash: lost — Node baseline better (3 vs 0)"]);
    const same = counts([0, 0], [0, 0]);
    expect(same.verdict).toBe("same");
    expect(oursLoses([same])).toEqual([]);
    expect(counts([Number.NaN], [2]).verdict).toBe("not measured (either side)");
  });

  it("puts the reason in the verdict when ours has no numbers", () => {
    const r = row("lower", [], [300], "ours answered 413");
    expect(r.verdict).toBe("ours answered 413");
    expect(oursLoses([r])).toEqual(["GET /x: m — ours answered 413"]);
  });

  it("lists only the comparisons ours lost", () => {
    const rows = [
      row("higher", [50], [100]),
      row("higher", [200], [100]),
      row("higher", [101], [100]),
      statusRow("g", "POST /y", sides, "error", "boom"),
      statusRow("g", "GET /z", sides, "not available", "404"),
    ];
    expect(oursLoses(rows)).toEqual(["GET /x: m — Node baseline better ×2.00", "POST /y: — — error (boom)"]);
  });
});

describe("the table", () => {
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "bench-report-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it("escapes pipes and shows status rows with their reason", () => {
    const table = markdownTable([
      makeRow({ group: "g", benchmark: "a|b", sides, metric: "m", unit: "", better: "higher", a: [2], b: [1] }),
      statusRow("g", "GET /v1/auth/me", sides, "not available", "ours answered 404"),
    ]);
    expect(table).toContain("a\\|b");
    expect(table).toContain("**not available**: ours answered 404");
    expect(table.split("\n")).toHaveLength(4);
  });

  it("rewrites only the block between the markers of BENCHMARKS.md", async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, "BENCHMARKS.md"),
      `# Title\n\nintro\n\n${TABLE_START}\nold\n${TABLE_END}\n\n## Notes\nkept\n`,
    );
    await rewriteBenchmarksMd(dir, `${TABLE_START}\nnew table\n${TABLE_END}`);
    expect(await readFile(join(dir, "BENCHMARKS.md"), "utf8")).toBe(
      `# Title\n\nintro\n\n${TABLE_START}\nnew table\n${TABLE_END}\n\n## Notes\nkept\n`,
    );
  });

  it("refuses to rewrite a BENCHMARKS.md without markers", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "BENCHMARKS.md"), "# no markers\n");
    await expect(rewriteBenchmarksMd(dir, "x")).rejects.toThrow(/no <!-- bench:results:start -->/);
  });
});

describe("noise", () => {
  it("calls differences below the row's noise floor about equal", () => {
    const r = makeRow({
      group: "g",
      benchmark: "u",
      sides,
      metric: "growth",
      unit: "MiB",
      better: "lower",
      a: [0.8],
      b: [0.3],
      noiseFloor: 2,
    });
    expect(r.verdict).toBe("about equal (below resolution)");
    expect(oursLoses([r])).toEqual([]);
  });
});
