// Fixed-concurrency HTTP load with autocannon, bounded by duration (and so by count).
import autocannon from "autocannon";

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors and time-outs. */
  errors: number;
  /** Responses whose status was not the expected one. */
  badStatus: number;
  durationS: number;
}

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  durationS: number;
  /** Status every response must have (others count as badStatus). Default 200. */
  expectStatus?: number;
  /** Per-request time-out, seconds. */
  timeoutS?: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const expect = opts.expectStatus ?? 200;
  let badStatus = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        headers: opts.headers,
        connections: opts.connections,
        duration: opts.durationS,
        timeout: opts.timeoutS ?? 10,
        pipelining: 1,
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on("response", (_client, statusCode) => {
      if (statusCode !== expect) badStatus++;
    });
  });
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    badStatus,
    durationS: result.duration,
  };
}

/** A short unmeasured run so JITs, connection pools and caches are warm before the rounds. */
export async function warmUp(
  url: string,
  headers: Record<string, string> | undefined,
  seconds: number,
  connections: number,
): Promise<void> {
  if (seconds <= 0) return;
  await runLoad({ url, headers, connections, durationS: seconds });
}
