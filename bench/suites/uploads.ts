// Peak memory of the runtime process while it takes one upload of 1, 50 and 90 MiB: ours streams the
// raw body through to the bucket (POST /v1/assets); the baseline's multer memory storage holds the
// whole file in a Buffer before its PutObject. Memory is the process's VmHWM with the peak reset
// before each upload (plus VmRSS sampled every 5 ms, in case the reset is not permitted).
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { type BenchContext, BASE, OURS, type Suite, alternate } from "../lib/context.ts";
import { readMemory, resetPeak, sampleRss } from "../lib/proc-memory.ts";
import { makeRow, type Row, statusRow } from "../lib/report.ts";

const GROUP = "Uploads";
const SIDES: [string, string] = [OURS, `${BASE} (multer memory)`];
const MiB = 1024 * 1024;
// One MiB of random bytes, repeated: incompressible, and the harness never holds the whole body.
const CHUNK = randomBytes(MiB);

interface UploadTarget {
  url: string;
  headers: Record<string, string>;
  /** Bytes sent before and after the file bytes (multipart framing), if any. */
  prefix?: Buffer;
  suffix?: Buffer;
}

/** Streams `bytes` with an exact Content-Length, honouring backpressure. Resolves with status and body. */
function upload(target: UploadTarget, bytes: number, timeoutMs: number): Promise<{ status: number; body: string }> {
  const prefix = target.prefix ?? Buffer.alloc(0);
  const suffix = target.suffix ?? Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const req = request(
      target.url,
      {
        method: "POST",
        headers: { ...target.headers, "content-length": String(prefix.length + bytes + suffix.length) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`upload timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    const write = async (): Promise<void> => {
      const send = (buf: Buffer) =>
        req.write(buf) ? Promise.resolve() : new Promise<void>((r) => req.once("drain", () => r()));
      if (prefix.length) await send(prefix);
      let left = bytes;
      while (left > 0 && !req.destroyed) {
        const n = Math.min(left, CHUNK.length);
        await send(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        left -= n;
      }
      if (suffix.length) await send(suffix);
      req.end();
    };
    write().catch(reject);
  });
}

/** The server answered something other than 201 (e.g. 413 above its configured limit). */
class UploadRefused extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    let detail = body.slice(0, 160);
    try {
      detail = String((JSON.parse(body) as { detail?: unknown }).detail ?? detail);
    } catch {
      // not JSON: keep the start of the body
    }
    super(`answered ${status}: ${detail}`);
    this.status = status;
  }
}

interface MemoryResult {
  idleMiB: number;
  peakMiB: number;
  growthMiB: number;
  seconds: number;
}

async function measuredUpload(
  pid: number,
  target: UploadTarget,
  bytes: number,
  timeoutMs: number,
): Promise<MemoryResult> {
  // Let the previous upload's garbage go first, so each size starts from the same floor.
  await new Promise((r) => setTimeout(r, 300));
  const before = await readMemory(pid);
  const resettable = await resetPeak(pid);
  const sampler = sampleRss(pid);
  const started = performance.now();
  const res = await upload(target, bytes, timeoutMs);
  const seconds = (performance.now() - started) / 1000;
  const sampled = await sampler.stop();
  const after = await readMemory(pid);
  if (res.status !== 201) throw new UploadRefused(res.status, res.body);
  const peakKiB = Math.max(sampled, resettable ? after.hwmKiB : 0, after.rssKiB);
  return {
    idleMiB: before.rssKiB / 1024,
    peakMiB: peakKiB / 1024,
    growthMiB: (peakKiB - before.rssKiB) / 1024,
    seconds,
  };
}

function targets(ctx: BenchContext, size: number): { ours: UploadTarget; base: UploadTarget } {
  const filename = `bench-${size}.bin`;
  const boundary = `----bench${ctx.runId}`;
  return {
    ours: {
      url: `${ctx.ours.url}/v1/assets?filename=${encodeURIComponent(filename)}&visibility=private`,
      headers: { authorization: `Bearer ${ctx.oursIdentity.user.token}`, "content-type": "application/octet-stream" },
    },
    base: {
      url: `${ctx.baseline.a.url}/v1/assets?visibility=private`,
      headers: { cookie: ctx.baseline.user.cookie, "content-type": `multipart/form-data; boundary=${boundary}` },
      prefix: Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      suffix: Buffer.from(`\r\n--${boundary}--\r\n`),
    },
  };
}

const MAX_UPLOAD_KEY = "assets.max-upload-bytes";

/**
 * The service caps uploads at 25 MiB unless the `assets.max-upload-bytes` setting says otherwise;
 * the benchmark raises it to the platform's 100 MB body limit the way an operator would.
 */
async function raiseUploadLimit(ctx: BenchContext, bytes: number): Promise<string> {
  const url = `${ctx.ours.url}/v1/settings/${MAX_UPLOAD_KEY}`;
  const headers = { authorization: `Bearer ${ctx.oursIdentity.adminToken}`, "content-type": "application/json" };
  const current = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  await current.arrayBuffer();
  const precondition: Record<string, string> =
    current.status === 200 ? { "if-match": current.headers.get("etag") ?? "" } : { "if-none-match": "*" };
  const res = await fetch(url, {
    method: "PUT",
    headers: { ...headers, ...precondition },
    body: JSON.stringify({ value: bytes, visibility: "admin" }),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status === 200 || res.status === 201
    ? `${MAX_UPLOAD_KEY} set to ${bytes}`
    : `setting ${MAX_UPLOAD_KEY} answered ${res.status}`;
}

export const uploadsSuite: Suite = {
  name: "uploads",
  async run(ctx) {
    const timeoutMs = ctx.profile.uploads.timeoutS * 1000;
    const largest = Math.max(...ctx.profile.uploads.sizesMiB) * MiB;
    try {
      ctx.log(`  ${await raiseUploadLimit(ctx, Math.max(largest, 100 * 1000 * 1000))}`);
    } catch (error) {
      ctx.log(`  could not raise the upload limit: ${error instanceof Error ? error.message : String(error)}`);
    }
    const probeTargets = targets(ctx, 1024);
    try {
      const res = await upload(probeTargets.ours, 1024, timeoutMs);
      if (res.status !== 201) {
        return [
          statusRow(
            GROUP,
            "POST /v1/assets",
            SIDES,
            "not available",
            `ours answered ${res.status}${res.status === 404 ? " (route not there yet)" : `: ${res.body.slice(0, 120)}`}`,
          ),
        ];
      }
      const base = await upload(probeTargets.base, 1024, timeoutMs);
      if (base.status !== 201)
        return [statusRow(GROUP, "POST /v1/assets", SIDES, "error", `baseline answered ${base.status}`)];
    } catch (error) {
      return [
        statusRow(GROUP, "POST /v1/assets", SIDES, "error", error instanceof Error ? error.message : String(error)),
      ];
    }

    const rows: Row[] = [];
    for (const sizeMiB of ctx.profile.uploads.sizesMiB) {
      const bytes = sizeMiB * MiB;
      const t = targets(ctx, bytes);
      const benchmark = `POST /v1/assets, ${sizeMiB} MiB body`;
      const oursUpload = () => measuredUpload(ctx.ours.proc.pid, t.ours, bytes, timeoutMs);
      const baseUpload = () => measuredUpload(ctx.baseline.a.proc.pid, t.base, bytes, timeoutMs);
      try {
        let note: string | undefined;
        let a: MemoryResult[] = [];
        let b: MemoryResult[];
        try {
          ({ a, b } = await alternate(ctx, ctx.profile.uploads.rounds, oursUpload, baseUpload));
        } catch (error) {
          if (!(error instanceof UploadRefused)) throw error;
          // Ours refuses this size: the baseline is still measured, ours shows the refusal.
          note = `ours ${error.message}`;
          a = [];
          b = [];
          for (let i = 0; i < ctx.profile.uploads.rounds; i++) b.push(await baseUpload());
        }
        ctx.extra[`upload ${sizeMiB} MiB`] = { ours: a, baseline: b, note };
        ctx.log(
          `  ${sizeMiB} MiB: ours peak ${a.map((m) => m.peakMiB.toFixed(0)).join("/") || note} MiB, baseline ${b.map((m) => m.peakMiB.toFixed(0)).join("/")} MiB`,
        );
        // RSS moves in pages and with garbage collection: differences under 2 MiB say nothing.
        const metrics: Array<[string, string, (m: MemoryResult) => number, number | undefined]> = [
          ["peak RSS of the server process", "MiB", (m) => m.peakMiB, 2],
          ["peak RSS growth during the upload", "MiB", (m) => m.growthMiB, 2],
          ["upload time", "s", (m) => m.seconds, undefined],
        ];
        rows.push(
          ...metrics.map(([metric, unit, f, noiseFloor]) =>
            makeRow({
              group: GROUP,
              benchmark,
              sides: SIDES,
              metric,
              unit,
              better: "lower",
              a: a.map(f),
              b: b.map(f),
              note,
              noiseFloor,
            }),
          ),
        );
      } catch (error) {
        rows.push(statusRow(GROUP, benchmark, SIDES, "error", error instanceof Error ? error.message : String(error)));
      }
    }
    return rows;
  },
};
