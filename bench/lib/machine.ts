// What the run ran on, for the results header.
import { execFile } from "node:child_process";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export async function machineInfo(root: string): Promise<Record<string, string | number>> {
  let workerd = "unknown";
  try {
    const { stdout } = await run(join(root, "node_modules", ".bin", "workerd"), ["--version"], { timeout: 10_000 });
    workerd = stdout.trim().replace(/^workerd\s+/, "");
  } catch {
    // reported as unknown
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    workerd,
    loadStart: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
  };
}

export const loadNow = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
