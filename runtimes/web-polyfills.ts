// The two Workers-only stream classes the service uses, for Node, Deno and Bun:
// - crypto.DigestStream (assets hash uploads incrementally): node:crypto's streaming hash.
// - FixedLengthStream (storage sends parts with a known Content-Length): a length-checking identity
//   stream whose readable side is a Node Readable, because off Workers the AWS SDK sends through
//   node:http, which pipes Node streams and cannot read a web ReadableStream.
// Installed once at start-up by each entry point, only where absent; never used on Workers.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";

const HASHES: Record<string, string> = {
  "SHA-1": "sha1",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

class NodeDigestStream extends WritableStream<ArrayBuffer | ArrayBufferView> {
  readonly digest: Promise<ArrayBuffer>;
  constructor(algorithm: string | { name: string }) {
    const name = typeof algorithm === "string" ? algorithm : algorithm.name;
    const nodeName = HASHES[name.toUpperCase()];
    if (!nodeName) throw new TypeError(`DigestStream: unsupported algorithm ${name}`);
    const hash = createHash(nodeName);
    let settle!: { resolve: (b: ArrayBuffer) => void; reject: (e: unknown) => void };
    const digest = new Promise<ArrayBuffer>((resolve, reject) => {
      settle = { resolve, reject };
    });
    super({
      write(chunk) {
        const bytes = ArrayBuffer.isView(chunk)
          ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
          : new Uint8Array(chunk);
        hash.update(bytes);
      },
      close() {
        const out = hash.digest();
        settle.resolve(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer);
      },
      abort(reason) {
        settle.reject(reason);
      },
    });
    // A digest nobody awaits after an abort must not become an unhandled rejection.
    digest.catch(() => {});
    this.digest = digest;
  }
}

class NodeFixedLengthStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  constructor(length: number | bigint) {
    const expected = Number(length);
    let seen = 0;
    const identity = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > expected) throw new TypeError(`FixedLengthStream: more than ${expected} bytes written`);
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== expected) throw new TypeError(`FixedLengthStream: ${seen} of ${expected} bytes written`);
      },
    });
    this.writable = identity.writable;
    // Typed as the web stream the callers expect; at run time the SDK's node:http handler pipes it.
    this.readable = Readable.fromWeb(identity.readable as never) as unknown as ReadableStream<Uint8Array>;
  }
}

export function installWorkersStreams(): void {
  const scope = globalThis as Record<string, unknown>;
  const webCrypto = crypto as unknown as Record<string, unknown>;
  if (!("DigestStream" in webCrypto)) {
    Object.defineProperty(webCrypto, "DigestStream", { value: NodeDigestStream, configurable: true });
  }
  scope.FixedLengthStream ??= NodeFixedLengthStream;
}
