// Just enough of the Postgres wire protocol (v3) for the PGlite multiplexer: cutting a client's byte
// stream into messages, following ReadyForQuery in the server's answers, and writing a FATAL error.
// https://www.postgresql.org/docs/current/protocol-message-formats.html

export const PROTOCOL_V3 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** A frontend message: `startup` ones (no type byte) come first on a connection, `typed` ones after. */
export type FrontendMessage =
  | { kind: "startup"; code: number; bytes: Buffer }
  | { kind: "typed"; type: string; bytes: Buffer };

/** Larger messages are refused: nothing the app sends comes near it, and it bounds the buffer. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Cuts complete messages off the front of a client's stream; what is left waits for more bytes. */
export class FrontendReader {
  #buffer: Buffer = Buffer.alloc(0);
  #started = false;

  push(chunk: Buffer): FrontendMessage[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: FrontendMessage[] = [];
    for (;;) {
      const message = this.#next();
      if (!message) return out;
      out.push(message);
    }
  }

  #next(): FrontendMessage | null {
    const b = this.#buffer;
    const headerBytes = this.#started ? 5 : 8;
    if (b.length < headerBytes) return null;
    const length = this.#started ? 1 + b.readInt32BE(1) : b.readInt32BE(0);
    if (length < (this.#started ? 5 : 8) || length > MAX_MESSAGE_BYTES) throw new Error("malformed message length");
    if (b.length < length) return null;
    const bytes = b.subarray(0, length);
    this.#buffer = b.subarray(length);
    if (this.#started) return { kind: "typed", type: String.fromCharCode(bytes[0] ?? 0), bytes };
    const code = bytes.readInt32BE(4);
    // Only the real startup message ends the startup phase; SSL/GSS requests come before it.
    if (code === PROTOCOL_V3) this.#started = true;
    return { kind: "startup", code, bytes };
  }
}

/**
 * Follows the server's answers across chunk boundaries and reports each ReadyForQuery status:
 * 'I' idle, 'T' in a transaction, 'E' in a failed transaction.
 */
export class ReadyForQueryTracker {
  #carry: Buffer = Buffer.alloc(0);

  /** The status of the last ReadyForQuery completed in this chunk, or null if none was. */
  push(chunk: Uint8Array): string | null {
    let b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#carry.length > 0) b = Buffer.concat([this.#carry, b]);
    let status: string | null = null;
    let at = 0;
    while (b.length - at >= 5) {
      const length = 1 + b.readInt32BE(at + 1);
      if (b.length - at < length) break;
      if (b[at] === 0x5a /* Z */ && length === 6) status = String.fromCharCode(b[at + 5] ?? 0);
      at += length;
    }
    // Copy: the engine may reuse the memory behind the chunk.
    this.#carry = Buffer.from(b.subarray(at));
    return status;
  }
}

/** An ErrorResponse with severity FATAL, sent before the server hangs up. */
export function fatalError(sqlState: string, message: string): Buffer {
  const fields = Buffer.concat([
    field("S", "FATAL"),
    field("V", "FATAL"),
    field("C", sqlState),
    field("M", message),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write("E", 0, "latin1");
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

const field = (code: string, value: string): Buffer => Buffer.concat([Buffer.from(code, "latin1"), cstring(value)]);
const cstring = (s: string): Buffer => Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Buffer {
  const text = cstring(sql);
  const head = Buffer.alloc(5);
  head.write("Q", 0, "latin1");
  head.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([head, text]);
}

/** Sync: ends an extended-protocol batch (and, after an error, the skipping of its messages). */
export const SYNC_MESSAGE = Buffer.from([0x53, 0, 0, 0, 4]);
