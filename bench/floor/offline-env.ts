// The service's configuration for the floor tools (in-process.ts, http-cpu.ts): enough to start and
// to verify tokens, with every store pointed at a closed port, so only paths that need no I/O answer.
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
