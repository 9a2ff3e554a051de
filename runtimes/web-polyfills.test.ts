// The Workers-only stream classes as provided off Workers (runtimes/web-polyfills.ts).
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { installWorkersStreams } from "./web-polyfills.ts";

installWorkersStreams();
type DigestStreamClass = new (algorithm: string) => WritableStream<Uint8Array> & { digest: Promise<ArrayBuffer> };
type FixedLengthStreamClass = new (
  length: number,
) => { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };
const DigestStream = (crypto as unknown as { DigestStream: DigestStreamClass }).DigestStream;
const FixedLength = (globalThis as unknown as { FixedLengthStream: FixedLengthStreamClass }).FixedLengthStream;

async function drain(readable: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable as unknown as Readable) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

describe("Workers stream polyfills", () => {
  it("hashes chunks written to a DigestStream exactly as one SHA-256 of the whole", async () => {
    const parts = [new Uint8Array([1, 2, 3]), new Uint8Array(70_000).fill(7), new Uint8Array([255])];
    const digest = new DigestStream("SHA-256");
    const writer = digest.getWriter();
    for (const part of parts) await writer.write(part);
    await writer.close();
    const expected = createHash("sha256").update(Buffer.concat(parts)).digest("hex");
    expect(Buffer.from(await digest.digest).toString("hex")).toBe(expected);
  });

  it("passes exactly the declared bytes through a FixedLengthStream", async () => {
    const stream = new FixedLength(5);
    const writer = stream.writable.getWriter();
    const reading = drain(stream.readable);
    await writer.write(new Uint8Array([1, 2]));
    await writer.write(new Uint8Array([3, 4, 5]));
    await writer.close();
    expect([...(await reading)]).toEqual([1, 2, 3, 4, 5]);
  });

  it("fails a FixedLengthStream given fewer or more bytes than declared", async () => {
    const short = new FixedLength(4);
    const shortReading = drain(short.readable).catch((e: unknown) => e);
    const shortWriter = short.writable.getWriter();
    await shortWriter.write(new Uint8Array([1]));
    await expect(shortWriter.close()).rejects.toThrow(/1 of 4 bytes/);
    expect(await shortReading).toBeInstanceOf(Error);

    const long = new FixedLength(1);
    const longReading = drain(long.readable).catch((e: unknown) => e);
    await expect(long.writable.getWriter().write(new Uint8Array([1, 2]))).rejects.toThrow(/more than 1 bytes/);
    expect(await longReading).toBeInstanceOf(Error);
  });
});
