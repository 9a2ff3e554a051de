// The service's configuration for the floor tools (in-process.ts, http-cpu.ts, workerd-profile.ts):
// enough to start and to verify tokens, with every store pointed at a closed port, so only paths that
// need no I/O answer.
import type { Config } from "../../src/core/config.ts";
import { issueAccessToken } from "../../src/features/auth/access-token.ts";

export function offlineEnv(jwtKeysJson: string): Record<string, string> {
  return {
    DATABASE_URL: "postgres://bench@127.0.0.1:1/none",
    S3_ENDPOINT: "http://127.0.0.1:1",
    S3_BUCKET: "bench",
    S3_ACCESS_KEY_ID: "bench",
    S3_SECRET_ACCESS_KEY: "bench",
    S3_PUBLIC_BASE_URL: "http://127.0.0.1:1/bench",
    JWT_KEYS: jwtKeysJson,
    LOG_LEVEL: "warn",
  };
}

/** An access token of a plain user with the profile /me shows, as the service itself would mint it. */
export async function offlineToken(
  config: Config,
  userId = "00000000-0000-4000-8000-000000000001",
  sessionId = "00000000-0000-4000-8000-000000000002",
): Promise<string> {
  const profile = {
    email: "bench@example.test",
    name: "Bench",
    email_verified: true,
    created_at: new Date().toISOString(),
  };
  return (await issueAccessToken({ userId, roles: ["user"], sessionId, profile }, config)).token;
}
