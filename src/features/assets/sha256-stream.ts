import { toHex } from "../../../common/encoding.ts";

/**
 * An incremental SHA-256 over a stream: workerd's `crypto.DigestStream` (a Workers API; WebCrypto's
 * digest() needs the whole input at once). Typed here rather than through the global `Crypto` so the
 * Node typecheck, which has no Workers types, accepts the files that use it.
 */
export interface Sha256Stream {
  writable: WritableStream<ArrayBufferView | ArrayBuffer>;
  /** Hex digest once the writable is closed; rejects if it is aborted. */
  hex(): Promise<string>;
}

interface DigestStreamLike extends WritableStream<ArrayBufferView | ArrayBuffer> {
  readonly digest: Promise<ArrayBuffer>;
}
type DigestStreamCtor = new (algorithm: string) => DigestStreamLike;

export function sha256Stream(): Sha256Stream {
  const Ctor = (crypto as unknown as { DigestStream: DigestStreamCtor }).DigestStream;
  const stream = new Ctor("SHA-256");
  // An aborted stream rejects its digest; mark it handled here, callers that want it still see it.
  stream.digest.catch(() => {});
  return { writable: stream, hex: async () => toHex(await stream.digest) };
}
