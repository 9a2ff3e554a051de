// A local stand-in for the email API (Resend's `POST /emails`) for `npm run dev` and the tests: it
// accepts the same call, checks the Bearer key, and writes each message to the outbox folder as one
// JSON file `{ to, subject, text, html }` (plus `from`, `id`, `createdAt`). Nothing leaves the machine.
// Local extra: `GET /emails?to=<address>` lists what was written, oldest first, so tests running
// inside workerd (no file system) can read the outbox.
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface MailOutboxOptions {
  directory: string;
  /** The key clients must send as `Authorization: Bearer`; random when not given. */
  apiKey?: string;
  port?: number;
}

export interface MailOutbox {
  /** Base URL for MAIL_API_URL (`http://127.0.0.1:PORT`). */
  url: string;
  apiKey: string;
  directory: string;
  close(): Promise<void>;
}

export interface OutboxMessage {
  id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  createdAt: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/** Resend's body: `to` is one address or a list; we store one file per recipient list's first address. */
function parseMessage(raw: string): Omit<OutboxMessage, "id" | "createdAt"> | string {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return "body is not JSON";
  }
  const to = Array.isArray(body.to) ? body.to : [body.to];
  if (to.length !== 1 || !isText(to[0])) return "`to` must be one address";
  if (!isText(body.from)) return "`from` is required";
  if (!isText(body.subject)) return "`subject` is required";
  if (!isText(body.text) && !isText(body.html)) return "`text` or `html` is required";
  return {
    from: body.from,
    to: to[0],
    subject: body.subject,
    text: isText(body.text) ? body.text : "",
    html: isText(body.html) ? body.html : "",
  };
}

async function listMessages(directory: string, to: string | null): Promise<OutboxMessage[]> {
  const names = (await readdir(directory)).filter((n) => n.endsWith(".json")).sort();
  const messages = await Promise.all(
    names.map(async (n) => JSON.parse(await readFile(join(directory, n), "utf8")) as OutboxMessage),
  );
  return to === null ? messages : messages.filter((m) => m.to.toLowerCase() === to.toLowerCase());
}

export async function startMailOutbox(options: MailOutboxOptions): Promise<MailOutbox> {
  const apiKey = options.apiKey ?? randomBytes(24).toString("base64url");
  const expected = Buffer.from(`Bearer ${apiKey}`);
  await mkdir(options.directory, { recursive: true });
  let sequence = 0;

  const authorised = (req: IncomingMessage): boolean => {
    const got = Buffer.from(req.headers.authorization ?? "");
    return got.length === expected.length && timingSafeEqual(got, expected);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://outbox.local");
    if (url.pathname !== "/emails") return reply(res, 404, { name: "not_found", message: "no such route" });
    if (!authorised(req)) return reply(res, 401, { name: "missing_api_key", message: "bad or missing API key" });
    if (req.method === "GET") {
      return reply(res, 200, { data: await listMessages(options.directory, url.searchParams.get("to")) });
    }
    if (req.method !== "POST") return reply(res, 405, { name: "method_not_allowed", message: "POST or GET" });
    const raw = await readBody(req);
    if (raw === null) return reply(res, 413, { name: "validation_error", message: "body too large" });
    const parsed = parseMessage(raw);
    if (typeof parsed === "string") return reply(res, 422, { name: "validation_error", message: parsed });
    const message: OutboxMessage = { id: randomUUID(), ...parsed, createdAt: new Date().toISOString() };
    // Sortable names: time, then a per-process counter for messages within one millisecond.
    const name = `${Date.now().toString().padStart(15, "0")}-${String(sequence++).padStart(6, "0")}-${message.id}.json`;
    await writeFile(join(options.directory, name), `${JSON.stringify(message, null, 2)}\n`);
    reply(res, 200, { id: message.id });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { name: "internal_server_error", message: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    directory: options.directory,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
