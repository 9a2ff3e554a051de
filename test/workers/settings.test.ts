import { describe, expect, it } from "vitest";
import { call, type Caller, callerWith, callWithEnv, isolatedPrefix, jsonInit, uniqueKey } from "./support/settings.ts";

interface SettingBody {
  key: string;
  value: unknown;
  version: number;
  visibility: string;
  updatedAt: string;
  updatedBy: string | null;
  schema?: unknown;
}
interface Problem {
  status: number;
  type: string;
  errors?: { path: string; message: string }[];
}
interface HistoryBody {
  items: { version: number; value: unknown; deleted: boolean; changedBy: string | null }[];
  nextCursor: string | null;
}

const admin = await callerWith(["admin"]);
const user = await callerWith(["user"]);

const put = (key: string, body: unknown, headers: Record<string, string>, who: Caller = admin) =>
  call(`/v1/settings/${key}`, jsonInit("PUT", body, { ...who.headers, ...headers }));

async function create(key: string, body: Record<string, unknown>): Promise<SettingBody> {
  const res = await put(key, body, { "If-None-Match": "*" });
  expect(res.status).toBe(201);
  return (await res.json()) as SettingBody;
}

describe("settings writes", () => {
  it("creates with If-None-Match: *, answering 201 with ETag, Location and the admin as author", async () => {
    const key = uniqueKey("create");
    const res = await put(key, { value: { on: true }, visibility: "public" }, { "If-None-Match": "*" });
    expect(res.status).toBe(201);
    expect(res.headers.get("ETag")).toBe('"1"');
    expect(res.headers.get("Location")).toBe(`/v1/settings/${key}`);
    const body = (await res.json()) as SettingBody;
    expect(body).toMatchObject({ key, value: { on: true }, version: 1, visibility: "public", updatedBy: admin.userId });
    expect(Date.parse(body.updatedAt)).not.toBeNaN();
  });

  it("refuses a write without a precondition with 428, and a second create with 412", async () => {
    const key = uniqueKey("precondition");
    expect((await put(key, { value: 1 }, {})).status).toBe(428);
    await create(key, { value: 1 });
    const again = await put(key, { value: 2 }, { "If-None-Match": "*" });
    expect(again.status).toBe(412);
    expect(((await again.json()) as Problem).type).toBe("/problems/precondition-failed");
  });

  it("updates only on a current If-Match, growing the version by exactly one", async () => {
    const key = uniqueKey("update");
    await create(key, { value: "a" });
    const ok = await put(key, { value: "b" }, { "If-Match": '"1"' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ETag")).toBe('"2"');
    expect((await put(key, { value: "c" }, { "If-Match": '"1"' })).status).toBe(412);
    // A list matches when any tag is current; a weak tag never does (strong comparison).
    const listed = await put(key, { value: "c" }, { "If-Match": '"7", "2"' });
    expect(listed.headers.get("ETag")).toBe('"3"');
    expect((await put(key, { value: "d" }, { "If-Match": 'W/"3"' })).status).toBe(412);
    const star = await put(key, { value: "d" }, { "If-Match": "*" });
    expect(star.headers.get("ETag")).toBe('"4"');
    expect((await put(uniqueKey("absent"), { value: 1 }, { "If-Match": "*" })).status).toBe(412);
  });

  it("lets exactly one of two writers holding the same version win", async () => {
    const key = uniqueKey("race");
    await create(key, { value: 0 });
    const [a, b] = await Promise.all([
      put(key, { value: "from-a" }, { "If-Match": '"1"' }),
      put(key, { value: "from-b" }, { "If-Match": '"1"' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const winner = a.status === 200 ? "from-a" : "from-b";
    const current = (await (await call(`/v1/settings/${key}`, { headers: admin.headers })).json()) as SettingBody;
    expect(current).toMatchObject({ version: 2, value: winner });
    const history = (await (
      await call(`/v1/settings/${key}/history`, { headers: admin.headers })
    ).json()) as HistoryBody;
    expect(history.items.map((i) => [i.version, i.value])).toEqual([
      [2, winner],
      [1, 0],
    ]);
  });

  it("answers 401 to anonymous and 403 to non-admin writers", async () => {
    const key = uniqueKey("authz");
    const anonymous = await call(`/v1/settings/${key}`, jsonInit("PUT", { value: 1 }, { "If-None-Match": "*" }));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("WWW-Authenticate")).toContain("Bearer");
    expect((await put(key, { value: 1 }, { "If-None-Match": "*" }, user)).status).toBe(403);
    const del = await call(`/v1/settings/${key}`, {
      method: "DELETE",
      headers: { ...user.headers, "If-Match": '"1"' },
    });
    expect(del.status).toBe(403);
  });

  it("validates keys, sizes, fields and header syntax with 422, and a huge body with 413", async () => {
    expect((await put("Bad_Key", { value: 1 }, { "If-None-Match": "*" })).status).toBe(422);
    const big = await put(uniqueKey("big"), { value: "x".repeat(64 * 1024) }, { "If-None-Match": "*" });
    expect(big.status).toBe(422);
    expect(((await big.json()) as Problem).errors?.[0]?.path).toBe("value");
    const exact = await put(uniqueKey("exact"), { value: "x".repeat(64 * 1024 - 2) }, { "If-None-Match": "*" });
    expect(exact.status).toBe(201);
    expect((await put(uniqueKey("typo"), { value: 1, visiblity: "public" }, { "If-None-Match": "*" })).status).toBe(
      422,
    );
    expect((await put(uniqueKey("novalue"), { visibility: "public" }, { "If-None-Match": "*" })).status).toBe(422);
    expect((await put(uniqueKey("hdr"), { value: 1 }, { "If-Match": "3" })).status).toBe(422);
    const huge = await put(uniqueKey("huge"), { value: "x".repeat(300 * 1024) }, { "If-None-Match": "*" });
    expect(huge.status).toBe(413);
  });

  it("keeps JSON null as a value", async () => {
    const key = uniqueKey("null");
    const made = await create(key, { value: null, visibility: "public" });
    expect(made.value).toBeNull();
    const read = (await (await call(`/v1/settings/${key}`)).json()) as SettingBody;
    expect(read.value).toBeNull();
  });
});

describe("per-key JSON Schema", () => {
  const limits = {
    type: "object",
    properties: { maxBytes: { type: "integer", minimum: 1 }, types: { type: "array", items: { type: "string" } } },
    required: ["maxBytes"],
    additionalProperties: false,
  };

  it("refuses a value that breaks the schema with 422 naming every failing path", async () => {
    const key = uniqueKey("schema");
    const res = await put(
      key,
      { value: { maxBytes: 0, types: ["a", 3], extra: 1 }, schema: limits },
      { "If-None-Match": "*" },
    );
    expect(res.status).toBe(422);
    const problem = (await res.json()) as Problem;
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(["value.extra", "value.maxBytes", "value.types.1"]);
    // Nothing was written.
    expect((await call(`/v1/settings/${key}`, { headers: admin.headers })).status).toBe(404);
  });

  it("holds later writes to the stored schema until an admin removes it", async () => {
    const key = uniqueKey("schema-kept");
    const made = await create(key, { value: { maxBytes: 10 }, schema: limits });
    expect(made.schema).toEqual(limits);
    const bad = await put(key, { value: { maxBytes: "ten" } }, { "If-Match": '"1"' });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as Problem).errors?.[0]?.path).toBe("value.maxBytes");
    const cleared = await put(key, { value: "anything", schema: null }, { "If-Match": '"1"' });
    expect(cleared.status).toBe(200);
    const body = (await cleared.json()) as SettingBody;
    expect(body).toMatchObject({ version: 2, value: "anything" });
    expect(body.schema).toBeUndefined();
  });

  it("refuses a schema the validator cannot run", async () => {
    const res = await put(
      uniqueKey("bad-schema"),
      { value: "a", schema: { $ref: "https://elsewhere.test/s" } },
      { "If-None-Match": "*" },
    );
    expect(res.status).toBe(422);
    expect(((await res.json()) as Problem).errors?.[0]?.path).toBe("schema");
  });

  it("shows the schema to admins only", async () => {
    const key = uniqueKey("schema-view");
    await create(key, { value: { maxBytes: 1 }, schema: limits, visibility: "public" });
    const anonymous = (await (await call(`/v1/settings/${key}`)).json()) as SettingBody;
    expect(anonymous.schema).toBeUndefined();
    const asAdmin = (await (await call(`/v1/settings/${key}`, { headers: admin.headers })).json()) as SettingBody;
    expect(asAdmin.schema).toEqual(limits);
  });
});

describe("settings reads", () => {
  it("shows each caller only the visibilities it may see, in the list and by key", async () => {
    const pub = uniqueKey("vis-public");
    const auth = uniqueKey("vis-auth");
    const adm = uniqueKey("vis-admin");
    await create(pub, { value: 1, visibility: "public" });
    await create(auth, { value: 2, visibility: "authenticated" });
    await create(adm, { value: 3 });
    const keysFor = async (headers: Record<string, string>) => {
      const res = await call("/v1/settings", { headers });
      expect(res.status).toBe(200);
      const { items } = (await res.json()) as { items: SettingBody[] };
      return items.map((i) => i.key).filter((k) => [pub, auth, adm].includes(k));
    };
    expect(await keysFor({})).toEqual([pub]);
    expect((await keysFor(user.headers)).sort()).toEqual([auth, pub].sort());
    expect((await keysFor(admin.headers)).sort()).toEqual([adm, auth, pub].sort());

    expect((await call(`/v1/settings/${auth}`)).status).toBe(404);
    expect((await call(`/v1/settings/${auth}`, { headers: user.headers })).status).toBe(200);
    expect((await call(`/v1/settings/${adm}`, { headers: user.headers })).status).toBe(404);
    expect((await call(`/v1/settings/${adm}`, { headers: admin.headers })).status).toBe(200);
  });

  it("refuses an invalid token on a read rather than treating it as anonymous", async () => {
    const res = await call("/v1/settings", { headers: { Authorization: "Bearer not.a.token" } });
    expect(res.status).toBe(401);
  });

  it("serves the read after a write from the cache, with a strong ETag and 304 on a current If-None-Match", async () => {
    // A cache namespace of its own: other suites writing settings must not move this one's generation.
    const own = { REDIS_KEY_PREFIX: isolatedPrefix("etag") };
    const key = uniqueKey("etag");
    const write = (body: unknown, headers: Record<string, string>) =>
      callWithEnv(`/v1/settings/${key}`, own, jsonInit("PUT", body, { ...admin.headers, ...headers }));
    const read = (headers: Record<string, string> = {}) => callWithEnv(`/v1/settings/${key}`, own, { headers });
    expect((await write({ value: "v1", visibility: "public" }, { "If-None-Match": "*" })).status).toBe(201);
    const first = await read();
    expect(first.status).toBe(200);
    expect(first.headers.get("ETag")).toBe('"1"');
    expect(first.headers.get("X-Settings-Source")).toBe("cache");
    expect(first.headers.get("Vary")).toContain("Authorization");
    const notModified = await read({ "If-None-Match": '"1"' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("ETag")).toBe('"1"');
    expect((await write({ value: "v2" }, { "If-Match": '"1"' })).status).toBe(200);
    const changed = await read({ "If-None-Match": '"1"' });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("X-Settings-Source")).toBe("cache");
    expect(((await changed.json()) as SettingBody).value).toBe("v2");
  });

  it("answers 404 for a key that does not exist and 422 for one that cannot", async () => {
    expect((await call(`/v1/settings/${uniqueKey("missing")}`)).status).toBe(404);
    expect((await call("/v1/settings/-nope")).status).toBe(422);
  });
});

describe("deletes and history", () => {
  it("deletes with a current If-Match, records the deletion as the next version, and continues it on re-create", async () => {
    const key = uniqueKey("delete");
    await create(key, { value: "a", visibility: "public" });
    await put(key, { value: "b" }, { "If-Match": '"1"' });
    const del = (headers: Record<string, string>) =>
      call(`/v1/settings/${key}`, { method: "DELETE", headers: { ...admin.headers, ...headers } });
    expect((await del({})).status).toBe(428);
    expect((await del({ "If-Match": '"1"' })).status).toBe(412);
    expect((await del({ "If-Match": '"2"' })).status).toBe(204);
    expect((await call(`/v1/settings/${key}`)).status).toBe(404);
    expect((await del({ "If-Match": '"2"' })).status).toBe(404);

    const again = await put(key, { value: "c" }, { "If-None-Match": "*" });
    expect(again.headers.get("ETag")).toBe('"4"');
    const history = (await (
      await call(`/v1/settings/${key}/history`, { headers: admin.headers })
    ).json()) as HistoryBody;
    expect(history.items.map((i) => [i.version, i.value, i.deleted])).toEqual([
      [4, "c", false],
      [3, null, true],
      [2, "b", false],
      [1, "a", false],
    ]);
    expect(history.items.every((i) => i.changedBy === admin.userId)).toBe(true);
    expect(history.nextCursor).toBeNull();
  });

  it("pages history newest first with an opaque cursor, to admins only", async () => {
    const key = uniqueKey("history");
    await create(key, { value: 1 });
    for (let v = 1; v <= 4; v++) await put(key, { value: v + 1 }, { "If-Match": `"${v}"` });
    const page = async (query: string) => {
      const res = await call(`/v1/settings/${key}/history${query}`, { headers: admin.headers });
      expect(res.status).toBe(200);
      return (await res.json()) as HistoryBody;
    };
    const first = await page("?limit=2");
    expect(first.items.map((i) => i.version)).toEqual([5, 4]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await page(`?limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((i) => i.version)).toEqual([3, 2]);
    const third = await page(`?limit=2&cursor=${second.nextCursor}`);
    expect(third.items.map((i) => i.version)).toEqual([1]);
    expect(third.nextCursor).toBeNull();

    expect((await call(`/v1/settings/${key}/history`, { headers: user.headers })).status).toBe(403);
    expect((await call(`/v1/settings/${key}/history?cursor=zzz`, { headers: admin.headers })).status).toBe(422);
    expect((await call(`/v1/settings/${uniqueKey("never")}/history`, { headers: admin.headers })).status).toBe(404);
  });
});

describe("live propagation", () => {
  interface RoomPage {
    items: { seq: number; data: { type?: string; key?: string } }[];
    seq: number;
  }
  const systemMessages = async (since: number) => {
    const res = await call(`/v1/rooms/system/messages?since=${since}&limit=100`, { headers: user.headers });
    expect(res.status).toBe(200);
    return (await res.json()) as RoomPage;
  };

  it("publishes every committed change to the system room, with the value only while public", async () => {
    const key = uniqueKey("live");
    const since = (await systemMessages(0)).seq;
    await create(key, { value: "on", visibility: "public" });
    await put(key, { value: "hidden" }, { "If-Match": '"1"' }).then((r) => expect(r.status).toBe(200));
    await put(key, { value: "hidden", visibility: "admin" }, { "If-Match": '"2"' });
    await call(`/v1/settings/${key}`, { method: "DELETE", headers: { ...admin.headers, "If-Match": '"3"' } });

    // Publishing runs after each response (waitUntil), so the room may lag the writes a little.
    let events: unknown[] = [];
    for (let attempt = 0; attempt < 40 && events.length < 4; attempt++) {
      events = (await systemMessages(since)).items.map((m) => m.data).filter((d) => d.key === key);
      if (events.length < 4) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(events).toEqual([
      { type: "setting.changed", key, version: 1, value: "on" },
      { type: "setting.changed", key, version: 2, value: "hidden" },
      { type: "setting.changed", key, version: 3 },
      { type: "setting.changed", key, version: 4, deleted: true },
    ]);
  });
});

describe("settings in the OpenAPI document", () => {
  // The settings router's own generated document is checked in Node (test/node/openapi-features.test.ts):
  // the Worker bundle has no generator, it serves the prebuilt document.
  it("appears in the app's /openapi.json", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/settings", "/v1/settings/{key}", "/v1/settings/{key}/history"]),
    );
  });
});
