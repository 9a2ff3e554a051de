// One tiny logger shape for all dev tools: a function taking one line. Tests pass a collector,
// `npm run dev` passes a prefixed stderr writer, so nothing here writes to the console by itself.
export type LogFn = (line: string) => void;

export const silentLog: LogFn = () => {};

/** Writes `[tag] line` to stderr; stdout stays free for the banner. */
export function consoleLog(tag = "dev"): LogFn {
  return (line) => {
    process.stderr.write(`[${tag}] ${line}\n`);
  };
}
