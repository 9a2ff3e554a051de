import { describe, expect, it } from "vitest";
import type { CompletedPart, ObjectStore } from "../../adapters/storage.ts";
import { streamToBucket } from "./stream-upload.ts";

/** Records what reaches the bucket; copies each body, since the caller reuses its buffer. */
function recordingStore() {
  const calls: string[] = [];
  const parts: Uint8Array[] = [];
  let put: Uint8Array | null = null;
  const store = {
    put: async (_key: string, body: Uint8Array) => {
      calls.push(`put ${body.byteLength}`);
      put = body.slice();
    },
    createMultipart: async () => {
      calls.push("create");
      return "upload-1";
    },
    uploadPart: async (_key: string, _id: string, n: number, body: Uint8Array) => {
      calls.push(`part ${n} ${body.byteLength}`);
      parts.push(body.slice());
      return `etag-${n}`;
    },
    completeMultipart: async (_key: string, _id: string, done: CompletedPart[]) => {
      calls.push(`complete ${done.map((p) => `${p.partNumber}:${p.etag}`).join(",")}`);
      return true;
    },
  } as unknown as ObjectStore;
  return {
    store,
    calls,
    stored: () => put ?? concat(parts),
  };
}

const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
};

const hex = async (bytes: Uint8Array) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );

const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

/** A byte stream (BYOB-capable) or a plain one, delivering `bytes` in chunks of `chunk`. */
function streamOf(bytes: Uint8Array, chunk: number, kind: "bytes" | "plain"): ReadableStream<Uint8Array> {
  let at = 0;
  if (kind === "bytes") {
    return new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      },
    }) as ReadableStream<Uint8Array>;
  }
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

type UploadInput = Parameters<typeof streamToBucket>[0];

/** streamToBucket with the defaults these tests share: an octet-stream at key "k" in 16-byte parts. */
const upload = (store: ObjectStore, input: Pick<UploadInput, "declaredLength" | "body"> & Partial<UploadInput>) =>
  streamToBucket({
    store,
    key: "k",
    contentType: "application/octet-stream",
    onMultipartStarted: async () => {},
    partSize: 16,
    ...input,
  });

describe.each(["bytes", "plain"] as const)("streamToBucket over a %s stream", (kind) => {
  it.each([
    {
      name: "sends a body of exactly one part as a single put, hashed",
      ...{ size: 64, chunk: 5, partSize: 64 },
      calls: ["put 64"],
      started: [],
    },
    {
      name: "sends a longer body as parts of the part size, recording the upload first",
      ...{ size: 40, chunk: 7, partSize: 16 },
      calls: ["create", "part 1 16", "part 2 16", "part 3 8", "complete 1:etag-1,2:etag-2,3:etag-3"],
      started: ["upload-1"],
    },
  ])("$name", async ({ size, chunk, partSize, ...expected }) => {
    const { store, calls, stored } = recordingStore();
    const body = bytesOf(size);
    const started: string[] = [];
    const onMultipartStarted = async (id: string) => void started.push(id);
    const { sha256 } = await upload(store, {
      declaredLength: size,
      body: streamOf(body, chunk, kind),
      onMultipartStarted,
      partSize,
    });
    expect({ calls, started }).toEqual({ calls: expected.calls, started: expected.started });
    expect(stored()).toEqual(body);
    expect(sha256).toBe(await hex(body));
  });

  it("refuses a body longer than declared and stores nothing visible", async () => {
    const { store, calls } = recordingStore();
    await expect(upload(store, { declaredLength: 10, body: streamOf(bytesOf(11), 4, kind) })).rejects.toMatchObject({
      status: 400,
      type: "length-mismatch",
    });
    expect(calls).toEqual([]);
  });

  it("refuses a body shorter than declared without completing the multipart upload", async () => {
    const { store, calls } = recordingStore();
    await expect(upload(store, { declaredLength: 40, body: streamOf(bytesOf(30), 4, kind) })).rejects.toMatchObject({
      status: 400,
    });
    expect(calls.some((c) => c.startsWith("complete"))).toBe(false);
  });

  it("refuses bytes that contradict a PNG declaration before sending anything", async () => {
    const { store, calls } = recordingStore();
    await expect(
      upload(store, {
        contentType: "image/png",
        declaredLength: 40,
        body: streamOf(new TextEncoder().encode("%PDF-1.7 this is not a png at all, really"), 8, kind),
      }),
    ).rejects.toMatchObject({ status: 415 });
    expect(calls).toEqual([]);
  });
});
