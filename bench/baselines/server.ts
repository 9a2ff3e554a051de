// The classic stateful Node stack the benchmark compares against, written the way a team would ship it:
// Express 5 with express-session stored in Redis (connect-redis), settings cached in the same Redis
// in front of Postgres, multer's memory storage for uploads (then one PutObject to the same S3 server),
// and socket.io with @socket.io/redis-adapter so that several of these processes form one realtime
// service. The harness starts two of them. Production settings: NODE_ENV=production, one persistent
// Redis client per role, a pg Pool, no debug logging, default session semantics (rolling expiry via
// connect-redis' touch, like any express-session deployment with a maxAge). SOCKET_ADAPTER=redis-streams
// swaps in @socket.io/redis-streams-adapter with connection state recovery on (the linked suite's crash
// scenario: the closest socket.io comes to resuming a client on another process).
//
// Env: PORT, REDIS_URL, KEY_PREFIX, SESSION_SECRET, DATABASE_URL, S3_ENDPOINT, S3_REGION, S3_BUCKET,
//      S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_PUBLIC_BASE_URL, SOCKET_ADAPTER (redis | redis-streams).
import { createHash, randomUUID, scrypt, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { promisify } from "node:util";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { RedisStore } from "connect-redis";
import express, { type NextFunction, type Request, type Response } from "express";
import session from "express-session";
import multer from "multer";
import pg from "pg";
import { createClient } from "redis";
import { Server, type Socket } from "socket.io";

export interface SessionUser {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  createdAt: string;
}

declare module "express-session" {
  interface SessionData {
    user?: SessionUser;
  }
}

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const PORT = Number(env("PORT"));
const PREFIX = process.env.KEY_PREFIX ?? "baseline:";
const REDIS_TIMEOUT_MS = 1500;
const DB_TIMEOUT_MS = 5000;
const STORAGE_TIMEOUT_MS = 30_000;
/** Same cap as the Workers platform's request body limit. */
const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
const SETTINGS_TTL_SECONDS = 60;
const ROOM = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const MAX_FRAME_BYTES = 64 * 1024;

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

// Redis: one client for sessions and settings, and a pub/sub pair for the socket.io adapter.
const redis = createClient({
  url: env("REDIS_URL"),
  socket: { connectTimeout: REDIS_TIMEOUT_MS },
  commandOptions: { timeout: REDIS_TIMEOUT_MS },
});
redis.on("error", (e: unknown) => console.error("redis:", e instanceof Error ? e.message : e));
const pub = redis.duplicate();
const sub = redis.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([redis.connect(), pub.connect(), sub.connect()]);

const pool = new pg.Pool({
  connectionString: env("DATABASE_URL"),
  max: 10,
  connectionTimeoutMillis: DB_TIMEOUT_MS,
  query_timeout: DB_TIMEOUT_MS,
});
pool.on("error", () => {});
// The baseline keeps its own tables so it never depends on the other features' schema changes.
await pool.query(`
  create table if not exists baseline_users (
    id uuid primary key default gen_random_uuid(),
    email text not null unique,
    password_hash text not null,
    name text,
    roles text[] not null default '{user}',
    created_at timestamptz not null default now()
  );
  create table if not exists baseline_assets (
    id uuid primary key,
    owner_id uuid not null,
    object_key text not null unique,
    filename text not null,
    content_type text not null,
    size bigint not null,
    sha256 text not null,
    visibility text not null,
    created_at timestamptz not null default now()
  );`);

const s3 = new S3Client({
  endpoint: env("S3_ENDPOINT"),
  region: process.env.S3_REGION ?? "auto",
  forcePathStyle: true,
  credentials: { accessKeyId: env("S3_ACCESS_KEY_ID"), secretAccessKey: env("S3_SECRET_ACCESS_KEY") },
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
const BUCKET = env("S3_BUCKET");
const PUBLIC_BASE = env("S3_PUBLIC_BASE_URL").replace(/\/+$/, "");

const sessionMiddleware = session({
  store: new RedisStore({ client: redis, prefix: `${PREFIX}sess:` }),
  secret: env("SESSION_SECRET"),
  name: "sid",
  resave: false,
  saveUninitialized: false,
  // secure would be true behind TLS in production; it changes nothing measurable and the bench is plain HTTP.
  cookie: { httpOnly: true, sameSite: "lax", secure: false, maxAge: 30 * 24 * 3600 * 1000 },
});

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const app = express();
app.disable("x-powered-by");
app.set("trust proxy", 1);
app.use((req, res, next) => {
  const sent = req.get("x-request-id");
  res.set("X-Request-Id", sent && /^[\w.-]{1,128}$/.test(sent) ? sent : randomUUID());
  next();
});
app.get("/healthz", (_req, res) => {
  res.json({ status: "ok" });
});
app.use(sessionMiddleware);

const requireUser = (req: Request, _res: Response, next: NextFunction): void => {
  next(req.session.user ? undefined : new HttpError(401, "sign in first"));
};

async function hashPassword(password: string): Promise<string> {
  const salt = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  const key = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [, salt, key] = stored.split("$");
  if (!salt || !key) return false;
  const actual = await scryptAsync(password, Buffer.from(salt, "base64url"), 32);
  return timingSafeEqual(actual, Buffer.from(key, "base64url"));
}

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  created_at: Date;
  password_hash: string;
}
const toUser = (row: UserRow): SessionUser => ({
  id: row.id,
  email: row.email,
  name: row.name,
  roles: row.roles,
  createdAt: row.created_at.toISOString(),
});

function signIn(req: Request, user: SessionUser): Promise<void> {
  // A new session id at sign-in (session fixation), as the express-session docs advise.
  return new Promise((resolve, reject) =>
    req.session.regenerate((error) => {
      if (error) return reject(error);
      req.session.user = user;
      req.session.save((e) => (e ? reject(e) : resolve()));
    }),
  );
}

const credentials = (body: unknown): { email: string; password: string; name: string | null } => {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.email !== "string" || typeof b.password !== "string" || b.password.length < 8) {
    throw new HttpError(422, "email and a password of at least 8 characters are required");
  }
  return {
    email: b.email.trim().toLowerCase(),
    password: b.password,
    name: typeof b.name === "string" ? b.name : null,
  };
};

app.post("/v1/auth/register", express.json({ limit: "16kb" }), async (req, res) => {
  const { email, password, name } = credentials(req.body);
  const hash = await hashPassword(password);
  const { rows } = await pool.query<UserRow>(
    "insert into baseline_users (email, password_hash, name) values ($1, $2, $3) on conflict (email) do nothing returning *",
    [email, hash, name],
  );
  if (!rows[0]) throw new HttpError(409, "email taken");
  const user = toUser(rows[0]);
  await signIn(req, user);
  res.status(201).json({ user });
});

app.post("/v1/auth/login", express.json({ limit: "16kb" }), async (req, res) => {
  const { email, password } = credentials(req.body);
  const { rows } = await pool.query<UserRow>("select * from baseline_users where email = $1", [email]);
  if (!rows[0] || !(await checkPassword(password, rows[0].password_hash)))
    throw new HttpError(401, "wrong email or password");
  const user = toUser(rows[0]);
  await signIn(req, user);
  res.json({ user });
});

app.get("/v1/auth/me", requireUser, (req, res) => {
  res.json(req.session.user);
});

interface Setting {
  key: string;
  value: unknown;
  version: number;
  visibility: "public" | "authenticated" | "admin";
  updatedAt: string;
  updatedBy: string | null;
}

/** All settings, from Redis; on a miss from Postgres, then cached for SETTINGS_TTL_SECONDS. */
async function loadSettings(): Promise<Setting[]> {
  const key = `${PREFIX}settings:all`;
  const cached = await redis.get(key);
  if (cached) return JSON.parse(cached) as Setting[];
  const { rows } = await pool.query<{
    key: string;
    value: unknown;
    version: number;
    visibility: Setting["visibility"];
    updated_at: Date;
    updated_by: string | null;
  }>("select key, value, version, visibility, updated_at, updated_by from settings order by key");
  const items = rows.map((r) => ({
    key: r.key,
    value: r.value,
    version: r.version,
    visibility: r.visibility,
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
  }));
  await redis.set(key, JSON.stringify(items), { expiration: { type: "EX", value: SETTINGS_TTL_SECONDS } });
  return items;
}

app.get("/v1/settings", async (req, res) => {
  const user = req.session.user;
  const visible = new Set([
    "public",
    ...(user ? ["authenticated"] : []),
    ...(user?.roles.includes("admin") ? ["admin"] : []),
  ]);
  const items = (await loadSettings()).filter((s) => visible.has(s.visibility));
  res.json({ items });
});

const upload = multer({
  storage: multer.memoryStorage(),
  limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 10 },
});

app.post("/v1/assets", requireUser, upload.single("file"), async (req, res) => {
  const file = req.file;
  if (!file) throw new HttpError(422, "a multipart field named file is required");
  const owner = req.session.user as SessionUser;
  const id = randomUUID();
  const objectKey = `assets/${owner.id}/${id}`;
  const sha256 = createHash("sha256").update(file.buffer).digest("hex");
  const visibility = req.query.visibility === "public" ? "public" : "private";
  await s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: objectKey,
      Body: file.buffer,
      ContentType: file.mimetype,
      ContentLength: file.size,
    }),
    { abortSignal: AbortSignal.timeout(STORAGE_TIMEOUT_MS) },
  );
  const { rows } = await pool.query<{ created_at: Date }>(
    `insert into baseline_assets (id, owner_id, object_key, filename, content_type, size, sha256, visibility)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning created_at`,
    [id, owner.id, objectKey, file.originalname, file.mimetype, file.size, sha256, visibility],
  );
  res.status(201).json({
    id,
    url: `${PUBLIC_BASE}/${objectKey}`,
    filename: file.originalname,
    contentType: file.mimetype,
    size: file.size,
    sha256,
    visibility,
    status: "ready",
    ownerId: owner.id,
    createdAt: rows[0]?.created_at.toISOString(),
  });
});

app.use((_req, _res, next) => next(new HttpError(404, "no such route")));
app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const status =
    error instanceof HttpError
      ? error.status
      : error instanceof multer.MulterError && error.code === "LIMIT_FILE_SIZE"
        ? 413
        : 500;
  if (status === 500) console.error("baseline:", error instanceof Error ? error.message : error);
  res
    .status(status)
    .type("application/problem+json")
    .json({ status, title: status === 500 ? "Internal Server Error" : "Error" });
});

const httpServer = createServer(app);
const streams = process.env.SOCKET_ADAPTER === "redis-streams";
const io = new Server(httpServer, {
  serveClient: false,
  maxHttpBufferSize: MAX_FRAME_BYTES,
  // The documented way to resume a client's session (its rooms and the packets it missed) after a
  // disconnection; the streams adapter keeps both in Redis so another process can restore them.
  ...(streams ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000 } } : {}),
});
io.adapter(
  streams
    ? createStreamsAdapter(redis, {
        streamName: `${PREFIX}socket.io-stream`,
        sessionKeyPrefix: `${PREFIX}sio:session:`,
      })
    : createAdapter(pub, sub, { key: `${PREFIX}socket.io` }),
);
// The express-session middleware runs on the handshake, so a socket carries the signed-in user.
io.engine.use(sessionMiddleware);
io.use((socket, next) => {
  const user = (socket.request as Request).session?.user;
  if (!user) return next(new Error("unauthorized"));
  socket.data.user = user;
  next();
});

type Ack = (reply: Record<string, unknown>) => void;
const ackOf = (ack: unknown): Ack => (typeof ack === "function" ? (ack as Ack) : () => {});

io.on("connection", (socket: Socket) => {
  const user = socket.data.user as SessionUser;
  socket.on("join", async (room: unknown, ack: unknown) => {
    if (typeof room !== "string" || !ROOM.test(room)) return ackOf(ack)({ error: "bad room" });
    await socket.join(room);
    ackOf(ack)({ ok: true });
  });
  socket.on("publish", (frame: unknown, ack: unknown) => {
    const f = (frame ?? {}) as { room?: unknown; data?: unknown; id?: unknown };
    if (typeof f.room !== "string" || !socket.rooms.has(f.room)) return ackOf(ack)({ error: "join the room first" });
    // Through the Redis adapter this reaches the room's sockets on every process.
    io.to(f.room).emit("message", { from: { id: user.id }, data: f.data, ts: Date.now() });
    ackOf(ack)({ id: f.id ?? null });
  });
});

httpServer.keepAliveTimeout = 65_000;
httpServer.listen(PORT, "127.0.0.1", () => {
  process.stdout.write(`baseline listening on ${PORT}\n`);
});

const shutdown = (): void => {
  io.close();
  httpServer.close();
  void Promise.allSettled([redis.quit(), pub.quit(), sub.quit(), pool.end()]).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
