import { incompleteBody, ProblemError } from "../../core/problem.ts";

/**
 * Reads a request body into a caller-owned buffer. Where the stream allows it (workerd's request
 * bodies are byte streams) this is a BYOB reader: bytes land directly in the part buffer, so a long
 * upload allocates nothing per chunk and leaves no garbage that would grow the isolate's memory
 * until the next GC. Other streams fall back to copying their chunks.
 */
export interface BodySource {
  /**
   * Fills `target` from its start with up to `want` bytes, stopping early only at the end of the
   * stream. Returns the view to use from now on (a BYOB read transfers the buffer) and the count.
   */
  fill(target: Uint8Array, want: number): Promise<{ target: Uint8Array; n: number }>;
  /** True when the stream has bytes left (reads at most one byte or chunk to find out). */
  hasMore(): Promise<boolean>;
  cancel(): Promise<void>;
}

const EMPTY: BodySource = {
  fill: async (target) => ({ target, n: 0 }),
  hasMore: async () => false,
  cancel: async () => {},
};

export function bodySource(body: ReadableStream<Uint8Array> | null): BodySource {
  if (!body) return EMPTY;
  return failingAsIncomplete(readerSource(body));
}

/**
 * A read that fails means the client's body broke off (a closed connection, a truncated upload):
 * the runtime's raw error becomes the 400 `incomplete-body` problem, logged at info.
 */
function failingAsIncomplete(source: BodySource): BodySource {
  const mapped = (error: unknown): never => {
    if (error instanceof ProblemError) throw error;
    throw incompleteBody({ name: error instanceof Error ? error.name : typeof error, message: String(error) });
  };
  return {
    fill: (target, want) => source.fill(target, want).catch(mapped),
    hasMore: () => source.hasMore().catch(mapped),
    cancel: () => source.cancel(),
  };
}

function readerSource(body: ReadableStream<Uint8Array>): BodySource {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: read chunks below.
  }
  return byob ? byobSource(byob) : chunkSource(body.getReader());
}

function byobSource(reader: ReadableStreamBYOBReader): BodySource {
  return {
    async fill(target, want) {
      // Read before the first read: it detaches `target`, whose offset and length then read as 0.
      const { byteOffset, byteLength } = target;
      let buffer = target.buffer as ArrayBuffer;
      let n = 0;
      while (n < want) {
        const { value, done } = await reader.read(new Uint8Array(buffer, byteOffset + n, want - n));
        if (value) {
          buffer = value.buffer as ArrayBuffer;
          n += value.byteLength;
        }
        if (done) break;
      }
      return { target: new Uint8Array(buffer, byteOffset, byteLength), n };
    },
    async hasMore() {
      const { value, done } = await reader.read(new Uint8Array(1));
      return !done && (value?.byteLength ?? 0) > 0;
    },
    cancel: () => reader.cancel(),
  };
}

function chunkSource(reader: ReadableStreamDefaultReader<Uint8Array>): BodySource {
  let leftover: Uint8Array | null = null;
  const next = async (): Promise<Uint8Array | null> => {
    if (leftover && leftover.byteLength > 0) {
      const chunk = leftover;
      leftover = null;
      return chunk;
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      if (value.byteLength > 0) return value;
    }
  };
  return {
    async fill(target, want) {
      let n = 0;
      while (n < want) {
        const chunk = await next();
        if (!chunk) break;
        const take = Math.min(chunk.byteLength, want - n);
        target.set(chunk.subarray(0, take), n);
        n += take;
        if (take < chunk.byteLength) leftover = chunk.subarray(take);
      }
      return { target, n };
    },
    async hasMore() {
      const chunk = await next();
      if (chunk) leftover = chunk;
      return chunk !== null;
    },
    cancel: () => reader.cancel(),
  };
}
