import { env as testEnv } from "cloudflare:test";
import type { Bindings } from "./core/app-env.ts";

const env = testEnv as unknown as Bindings;
import { describe, expect, it } from "vitest";
import { runScheduledJobs } from "./scheduled.ts";

describe("the scheduled jobs", () => {
  it("finish without throwing on the real stack", async () => {
    await expect(runScheduledJobs(env, new Date())).resolves.toBeUndefined();
  });

  it("never throw out of the cron handler when Postgres and storage are down", async () => {
    const down = { ...env, DATABASE_WS_PROXY: "ws://127.0.0.1:9/v1", S3_ENDPOINT: "http://127.0.0.1:9" };
    await expect(runScheduledJobs(down, new Date())).resolves.toBeUndefined();
  });
});
