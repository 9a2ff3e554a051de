// Memory of a server process from /proc/<pid>/status: VmRSS (now) and VmHWM (peak since start, or
// since the last reset). Writing "5" to /proc/<pid>/clear_refs resets VmHWM (Linux >= 4.0), which
// lets each upload size be measured on its own; when that is not permitted the harness falls back to
// sampling VmRSS every few milliseconds.
import { readFile, writeFile } from "node:fs/promises";

export interface MemoryReading {
  rssKiB: number;
  hwmKiB: number;
}

export async function readMemory(pid: number): Promise<MemoryReading> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** Resets the peak to the current RSS. False when the kernel or permissions do not allow it. */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `intervalMs` until stop() and returns the highest value seen (KiB). */
export function sampleRss(pid: number, intervalMs = 5): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        peak = Math.max(peak, (await readMemory(pid)).rssKiB);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}
