// One result row per metric, one table for the whole run. Every row compares side A with side B
// (usually "ours" with the baseline) over paired rounds; the ratio column is the median of the
// per-round ratios A/B and its min-max spread, because absolute figures on a shared box drift.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type RatioSummary, median, ratioSummary } from "./stats.ts";

export type Better = "higher" | "lower" | "none";
export type RowStatus = "ok" | "not available" | "error" | "skipped";

export interface Row {
  group: string;
  /** What is measured, e.g. "GET /v1/auth/me". */
  benchmark: string;
  /** The two sides, e.g. ["ours (workerd)", "Express + Redis session"]. */
  sides: [string, string];
  metric: string;
  unit: string;
  better: Better;
  status: RowStatus;
  /** Per-round values; empty for a side that was not measured. */
  a: number[];
  b: number[];
  /** Median of the rounds. */
  aMedian: number | null;
  bMedian: number | null;
  ratio: RatioSummary | null;
  verdict: string;
  note?: string;
}

export interface RowInput {
  group: string;
  benchmark: string;
  sides: [string, string];
  metric: string;
  unit: string;
  better: Better;
  a: number[];
  b: number[];
  note?: string;
  /** Differences of the medians below this (in the row's unit) are measurement noise: "about equal". */
  noiseFloor?: number;
  /**
   * The figures are counts where 0 is a result, not a failed reading (messages lost, duplicated):
   * no ratio (a ratio with 0 says nothing); the verdict names the side with the better median and
   * both figures, or "same" when they are equal.
   */
  counts?: boolean;
}

function countVerdict(input: RowInput): string {
  const [a, b] = [median(input.a), median(input.b)];
  if (a === b) return "same";
  const aWins = input.better === "higher" ? a > b : a < b;
  const fmtCount = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 1 });
  return `${(aWins ? input.sides[0] : input.sides[1]).split(" (")[0]} better (${fmtCount(a)} vs ${fmtCount(b)})`;
}

function verdictOf(better: Better, ratio: RatioSummary | null, sides: [string, string]): string {
  if (!ratio || better === "none") return "";
  const { median: m, min, max } = ratio;
  if (Math.abs(m - 1) < 0.03) return "about equal";
  if (min <= 1 && max >= 1 && ratio.rounds > 1) return "tie (spread crosses 1)";
  const aWins = better === "higher" ? m > 1 : m < 1;
  const factor = better === "higher" ? m : 1 / m;
  const shown = factor >= 1 ? factor : 1 / factor;
  return `${aWins ? sides[0].split(" (")[0] : sides[1].split(" (")[0]} better ×${shown.toFixed(2)}`;
}

const med = (v: number[]): number | null => (v.length ? median(v) : null);

/** The verdict of a row whose figures could not be measured: never a win or a loss. */
export const NOT_MEASURED = "not measured";

/**
 * A compared figure (throughput, latency, CPU) must be a positive finite number: NaN (unreadable),
 * Infinity, or 0 (e.g. the CPU of a wrapper process that does none of the work) means the figure
 * was not measured, and a ratio built on it would be a fake verdict (the old "×Infinity").
 */
const measuredValue = (v: number): boolean => Number.isFinite(v) && v > 0;

export function makeRow(input: RowInput): Row {
  if (input.counts && input.better !== "none" && input.a.length && input.b.length) {
    const valid = [input.a, input.b].every((side) => side.every((v) => Number.isFinite(v) && v >= 0));
    return {
      ...input,
      status: "ok",
      aMedian: med(input.a),
      bMedian: med(input.b),
      ratio: null,
      verdict: valid ? countVerdict(input) : `${NOT_MEASURED} (either side)`,
    };
  }
  if (input.better !== "none" && input.a.length && input.b.length) {
    const missing = [input.a, input.b].map((side) => !side.every(measuredValue));
    if (missing[0] || missing[1]) {
      const which = missing[0] && missing[1] ? "either side" : input.sides[missing[0] ? 0 : 1];
      return {
        ...input,
        a: missing[0] ? [] : input.a,
        b: missing[1] ? [] : input.b,
        status: "ok",
        aMedian: missing[0] ? null : med(input.a),
        bMedian: missing[1] ? null : med(input.b),
        ratio: null,
        verdict: `${NOT_MEASURED} (${which})`,
      };
    }
  }
  // A ratio of counts (errors, queries) says nothing; those rows show both values only.
  const ratio = input.better !== "none" && input.a.length && input.b.length ? ratioSummary(input.a, input.b) : null;
  return {
    ...input,
    status: "ok",
    aMedian: med(input.a),
    bMedian: med(input.b),
    ratio,
    // A side with no numbers (e.g. ours refusing an upload size) shows why in the verdict column.
    verdict:
      !input.a.length && input.b.length && input.note
        ? input.note
        : input.noiseFloor !== undefined &&
            input.a.length &&
            input.b.length &&
            Math.abs(median(input.a) - median(input.b)) < input.noiseFloor
          ? "about equal (below resolution)"
          : verdictOf(input.better, ratio, input.sides),
  };
}

/**
 * `makeRow` for a comparison where one side may have produced no figures at all (a floor that did
 * not start, a side that could not connect): the verdict then says "not measured" and which side,
 * never a win or a loss, and there is no ratio.
 */
export function comparedRow(input: RowInput, why = "could not be measured"): Row {
  const row = makeRow(input);
  if (input.better === "none" || (input.a.length > 0 && input.b.length > 0)) return row;
  const which = !input.a.length && !input.b.length ? "either side" : input.sides[input.a.length ? 1 : 0];
  return { ...row, ratio: null, verdict: `${NOT_MEASURED} (${which}: ${why})` };
}

/** A row saying why a benchmark produced no numbers (endpoint missing, error, time budget). */
export function statusRow(
  group: string,
  benchmark: string,
  sides: [string, string],
  status: Exclude<RowStatus, "ok">,
  note: string,
): Row {
  return {
    group,
    benchmark,
    sides,
    metric: "—",
    unit: "",
    better: "none",
    status,
    a: [],
    b: [],
    aMedian: null,
    bMedian: null,
    ratio: null,
    verdict: status,
    note,
  };
}

function fmt(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return NOT_MEASURED;
  const abs = Math.abs(v);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  const n = v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${n} ${unit}` : n;
}

function ratioText(r: RatioSummary | null): string {
  if (!r) return "—";
  return r.rounds > 1 ? `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : r.median.toFixed(2);
}

/** The table as GitHub Markdown (also what the console shows). */
export function markdownTable(rows: Row[]): string {
  const header = ["Benchmark", "A vs B", "Metric", "A", "B", "A/B median (min–max)", "Verdict"];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const cells =
      r.status === "ok"
        ? [
            r.benchmark,
            `${r.sides[0]} vs ${r.sides[1]}`,
            r.metric,
            r.sides[0] === "—" ? "—" : fmt(r.aMedian, r.unit),
            r.sides[1] === "—" ? "—" : fmt(r.bMedian, r.unit),
            ratioText(r.ratio),
            r.verdict,
          ]
        : [r.benchmark, `${r.sides[0]} vs ${r.sides[1]}`, "—", "—", "—", "—", `**${r.status}**: ${r.note ?? ""}`];
    lines.push(`| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`);
  }
  return lines.join("\n");
}

export interface RunInfo {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  command: string;
  profile: string;
  machine: Record<string, unknown>;
  notes: string[];
}

/** Writes the raw results; returns the file path. JSON files there are gitignored. */
export async function writeResults(
  root: string,
  info: RunInfo,
  rows: Row[],
  extra: Record<string, unknown>,
): Promise<string> {
  const dir = join(root, "bench", "results");
  await mkdir(dir, { recursive: true });
  const stamp = info.startedAt.replace(/[:.]/g, "-");
  const body = `${JSON.stringify({ ...info, rows, extra }, null, 2)}\n`;
  const path = join(dir, `bench-${stamp}.json`);
  await writeFile(path, body);
  await writeFile(join(dir, "latest.json"), body);
  return path;
}

export const TABLE_START = "<!-- bench:results:start -->";
export const TABLE_END = "<!-- bench:results:end -->";

/** Rows comparing ours with the baseline where the baseline came out ahead (or ours could not run). */
export function oursLoses(rows: Row[]): string[] {
  return rows
    .filter((r) => r.sides[0].startsWith("ours") && !r.sides[1].startsWith("—"))
    .filter(
      (r) =>
        // Ours produced no numbers where the baseline did (e.g. refused an upload size, could not connect).
        (r.status === "ok" &&
          r.a.length === 0 &&
          r.b.length > 0 &&
          r.better !== "none" &&
          !r.verdict.startsWith(NOT_MEASURED)) ||
        (r.status === "ok" &&
          r.verdict &&
          !r.verdict.startsWith("ours") &&
          !r.verdict.startsWith("tie") &&
          r.verdict !== "same" &&
          !r.verdict.startsWith(NOT_MEASURED) &&
          !r.verdict.startsWith("about")) ||
        r.status === "error",
    )
    .map((r) => `${r.benchmark}: ${r.metric} — ${r.verdict}${r.status === "error" && r.note ? ` (${r.note})` : ""}`);
}

/** The block `npm run bench -- --write` puts between the markers in BENCHMARKS.md. */
export function resultsBlock(info: RunInfo, rows: Row[]): string {
  const m = info.machine;
  const machine = [
    `- **Date:** ${info.startedAt} (run took ${Math.round(info.durationS)} s, profile \`${info.profile}\`)`,
    `- **Command:** \`${info.command}\``,
    `- **Machine:** ${m.cpuModel} × ${m.cores} cores, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; Node ${m.node}, workerd ${m.workerd}`,
    `- **Load average** at start / end: ${m.loadStart} / ${m.loadEnd} (anything near or above the core count means the machine was shared)`,
    ...info.notes.map((n) => `- ${n}`),
  ].join("\n");
  const losses = oursLoses(rows);
  const lossList = losses.length
    ? `**Where ours loses in this run** (why, and what would change it: see below):\n\n${losses.map((l) => `- ${l}`).join("\n")}`
    : "Ours lost no comparison in this run.";
  return `${TABLE_START}\n<!-- generated by \`npm run bench -- --write\`; edit outside the markers -->\n\n${machine}\n\n${markdownTable(rows)}\n\n${lossList}\n\n${TABLE_END}`;
}

export async function rewriteBenchmarksMd(root: string, block: string): Promise<void> {
  const path = join(root, "BENCHMARKS.md");
  const text = await readFile(path, "utf8");
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`BENCHMARKS.md has no ${TABLE_START} … ${TABLE_END} block to replace`);
  await writeFile(path, text.slice(0, start) + block + text.slice(end + TABLE_END.length));
}
