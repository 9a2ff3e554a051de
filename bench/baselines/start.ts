// Starts the baseline as two Node processes (the classic way to scale Node: N identical processes
// sharing Redis for sessions and for socket.io's adapter). HTTP benchmarks use the first.
import { join } from "node:path";
import { freePort } from "../../dev/free-port.ts";
import { type Managed, nodeBinary, spawnManaged, waitForHttp } from "../lib/processes.ts";

export interface BaselineEnv {
  redisUrl: string;
  keyPrefix: string;
  sessionSecret: string;
  databaseUrl: string;
  /** socket.io's adapter: the classic pub/sub one (default) or the streams one with state recovery. */
  socketAdapter?: "redis" | "redis-streams";
  s3: {
    endpoint: string;
    region: string;
    bucket: string;
    accessKeyId: string;
    secretAccessKey: string;
    publicBaseUrl: string;
  };
}

export interface RunningBaseline {
  url: string;
  port: number;
  proc: Managed;
  startMs: number;
  stop(): Promise<void>;
}

export async function startBaseline(root: string, env: BaselineEnv, timeoutMs = 30_000): Promise<RunningBaseline> {
  const port = await freePort();
  const proc = spawnManaged("baseline", nodeBinary, [join(root, "bench", "baselines", "server.ts")], {
    env: {
      NODE_ENV: "production",
      PORT: String(port),
      REDIS_URL: env.redisUrl,
      KEY_PREFIX: env.keyPrefix,
      SOCKET_ADAPTER: env.socketAdapter ?? "redis",
      SESSION_SECRET: env.sessionSecret,
      DATABASE_URL: env.databaseUrl,
      S3_ENDPOINT: env.s3.endpoint,
      S3_REGION: env.s3.region,
      S3_BUCKET: env.s3.bucket,
      S3_ACCESS_KEY_ID: env.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: env.s3.secretAccessKey,
      S3_PUBLIC_BASE_URL: env.s3.publicBaseUrl,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    const startMs = await waitForHttp(`${url}/healthz`, timeoutMs, proc);
    return { url, port, proc, startMs, stop: () => proc.stop() };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** Two processes, started one after the other (they share Redis and Postgres). */
export async function startBaselinePair(root: string, env: BaselineEnv): Promise<[RunningBaseline, RunningBaseline]> {
  const a = await startBaseline(root, env);
  try {
    const b = await startBaseline(root, env);
    return [a, b];
  } catch (error) {
    await a.stop();
    throw error;
  }
}
