// Names the in-process stand-in an uncaught error came from, so `npm run dev` can say which one failed
// and keep running instead of exiting.
const STAND_INS: [RegExp, string][] = [
  [/s3rver|s3-server|s3-sigv4/, "the local S3 server"],
  [/pglite|pg-wire/, "the embedded Postgres (PGlite)"],
  [/pg-ws-bridge/, "the Postgres WebSocket bridge"],
  [/upstash|redis-resp/, "the Upstash bridge"],
];

/** Which stand-in an error came from, by the files on its stack. */
export function standInOf(err: unknown): string {
  const stack = err instanceof Error ? (err.stack ?? "") : "";
  return STAND_INS.find(([pattern]) => pattern.test(stack))?.[1] ?? "a local stand-in";
}

export const describeError = (err: unknown): string =>
  err instanceof Error ? (err.stack ?? err.message) : String(err);
