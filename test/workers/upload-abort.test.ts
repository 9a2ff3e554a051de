// A client that goes away mid-upload: the body read fails inside the runtime. That is the client's
// doing, so a 400 `incomplete-body` problem (which it will rarely see) logged at info, never a
// 500 logged as an error with a stack; nothing is kept.
import { describe, expect, it } from "vitest";
import { bodySource } from "../../src/features/assets/body-source.ts";
import { call, createAuthUser } from "./support/auth.ts";

/** A body that sends `bytes` bytes and then breaks, as a dropped connection does. */
function breakingBody(bytes: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new Uint8Array(bytes).fill(7));
        return;
      }
      controller.error(new Error("Network connection lost."));
    },
  });
}

describe("a client abort mid-upload", () => {
  it("turns the runtime's read error into the 400 incomplete-body problem", async () => {
    const source = bodySource(breakingBody(10));
    const target = new Uint8Array(100);
    await expect(source.fill(target, 100)).rejects.toMatchObject({ status: 400, type: "incomplete-body" });
  });

  it("POST /v1/assets with a body that breaks off answers 400 problem+json, and stores nothing", async () => {
    const user = await createAuthUser();
    const res = await call("/v1/assets?filename=cut.bin", {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "application/octet-stream", "Content-Length": "1000" },
      body: breakingBody(100),
      // @ts-expect-error: workerd needs duplex for a streamed request body, like every fetch
      duplex: "half",
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    // workerd may hand the app the broken body as a short one (length-mismatch) or as a failed read
    // (incomplete-body): both are the client's 400, neither is stored.
    expect(["/problems/incomplete-body", "/problems/length-mismatch"]).toContain(
      ((await res.json()) as { type: string }).type,
    );
    const list = await call("/v1/assets", { headers: user.auth });
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
  });
});
