// The local mail outbox through the production mail adapter (the same HTTP call Resend receives).
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack } from "../../dev/local-stack.ts";
import { type MailOutbox, startMailOutbox } from "../../dev/mail-outbox.ts";
import { createHttpMailer, MailError } from "../../src/adapters/mail.ts";

let dir: string;
let outbox: MailOutbox;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edge-outbox-test-"));
  outbox = await startMailOutbox({ directory: dir });
});
afterAll(async () => {
  await outbox.close();
  await rm(dir, { recursive: true, force: true });
});

const mailer = (apiKey = outbox.apiKey) =>
  createHttpMailer({ apiUrl: outbox.url, apiKey, from: "App <no-reply@example.test>", timeoutMs: 2_000 });

describe("the local mail outbox", () => {
  it("writes each accepted message as one JSON file with to, subject, text and html", async () => {
    const message = { to: "ada@example.test", subject: "Hello", text: "token=abc", html: "<p>token=abc</p>" };
    await mailer().send(message);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const stored = JSON.parse(await readFile(join(dir, files[0] as string), "utf8")) as Record<string, unknown>;
    expect(stored).toMatchObject({ ...message, from: "App <no-reply@example.test>" });

    const listed = await fetch(`${outbox.url}/emails?to=ADA@example.test`, {
      headers: { Authorization: `Bearer ${outbox.apiKey}` },
    });
    expect(((await listed.json()) as { data: unknown[] }).data).toEqual([expect.objectContaining(message)]);
  });

  it("refuses a wrong key (401) and an incomplete message (422), writing nothing", async () => {
    const before = (await readdir(dir)).length;
    const wrongKey = await mailer("not-the-key")
      .send({ to: "x@example.test", subject: "s", text: "t", html: "" })
      .catch((e: unknown) => e);
    expect(wrongKey).toBeInstanceOf(MailError);
    expect((wrongKey as MailError).status).toBe(401);
    const incomplete = await mailer()
      .send({ to: "x@example.test", subject: "", text: "t", html: "" })
      .catch((e: unknown) => e);
    expect((incomplete as MailError).status).toBe(422);
    expect((await readdir(dir)).length).toBe(before);
  });

  it("reports an unreachable API as a MailError", async () => {
    const down = createHttpMailer({ apiUrl: "http://127.0.0.1:9", apiKey: "k", from: "a@b.c", timeoutMs: 1_000 });
    await expect(down.send({ to: "x@example.test", subject: "s", text: "t", html: "" })).rejects.toBeInstanceOf(
      MailError,
    );
  });
});

describe("the local stack's mail stand-in (npm run dev)", () => {
  it("starts with `mail: true`, hands the Worker its MAIL_* values, writes under <dataDir>/outbox and stops with the stack", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "edge-stack-mail-"));
    try {
      const stack = await startLocalStack({
        dataDir,
        databaseUrl: "postgres://db.example.invalid/app",
        skip: { cache: true, s3: true },
        mail: true,
      });
      const { MAIL_API_URL: url = "", MAIL_API_KEY: key = "", MAIL_FROM: from = "" } = stack.vars;
      expect(stack.services.some((s) => s.startsWith("Mail: outbox"))).toBe(true);
      await createHttpMailer({ apiUrl: url, apiKey: key, from, timeoutMs: 2_000 }).send({
        to: "dev@example.test",
        subject: "s",
        text: "token=x",
        html: "",
      });
      expect((await readdir(join(dataDir, "outbox"))).filter((f) => f.endsWith(".json"))).toHaveLength(1);
      await stack.close();
      await expect(fetch(`${url}/emails`)).rejects.toThrow();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
