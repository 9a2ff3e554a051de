// Bad input never gets a 5xx (issue #11): text Postgres cannot store, cursors outside the range it
// accepts, and setting documents carrying either are refused with a 422 that names the field.
import { describe, expect, it } from "vitest";
import { callJson, call as callAs, createAuthUser, uniqueEmail } from "./support/auth.ts";
import { call, callerWith, jsonInit, uniqueKey } from "./support/settings.ts";

interface Problem {
  status: number;
  type: string;
  errors?: { path: string; message: string }[];
}

async function expectProblem(res: Response, status: number, path?: string): Promise<Problem> {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Problem;
  expect({ status: res.status, body: body.status }).toEqual({ status, body: status });
  if (path) expect(body.errors?.map((e) => e.path)).toContain(path);
  return body;
}

const base64Url = (text: string): string =>
  btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

describe("text Postgres cannot store", () => {
  it("a NUL in a registration name or a login email is a 422 naming the field, not a 500", async () => {
    const register = await callJson("/v1/auth/register", {
      email: uniqueEmail("nul"),
      password: "correct horse battery staple",
      name: "a\u0000b",
    });
    await expectProblem(register, 422, "name");
    const login = await callJson("/v1/auth/login", { email: "a\u0000b@example.test", password: "whatever-it-is" });
    await expectProblem(login, 422, "email");
  });

  it("a lone surrogate in a registration name is a 422 too", async () => {
    const res = await callJson("/v1/auth/register", {
      email: uniqueEmail("surrogate"),
      password: "correct horse battery staple",
      name: "a\ud800b",
    });
    await expectProblem(res, 422, "name");
  });

  it("a setting value or schema with NUL or a lone surrogate is a 422 at the offending path, never a 503", async () => {
    const admin = await callerWith(["admin"]);
    const put = (body: unknown) =>
      call(`/v1/settings/${uniqueKey("nul")}`, jsonInit("PUT", body, { ...admin.headers, "If-None-Match": "*" }));
    let res = await put({ value: { note: "a\u0000b" } });
    expect(res.headers.get("retry-after")).toBeNull();
    await expectProblem(res, 422, "value.note");
    res = await put({ value: ["ok", "\udc00"] });
    await expectProblem(res, 422, "value.1");
    res = await put({ value: { "k\u0000": 1 } });
    await expectProblem(res, 422, "value.k\u0000");
    res = await put({ value: 1, schema: { type: "number", description: "\ud800" } });
    await expectProblem(res, 422, "schema.description");
  });

  it("a NUL in an upload's filename is a 422", async () => {
    const user = await createAuthUser();
    const res = await callJson(
      "/v1/assets/uploads",
      { filename: "a\u0000.png", contentType: "image/png", size: 10 },
      { headers: user.auth },
    );
    await expectProblem(res, 422, "filename");
  });
});

describe("cursors outside what Postgres accepts", () => {
  const id = "0b9f7c2e-8a4e-4c1e-9d1b-2f4c0f6a7e11";
  it.each([
    ["year 0000", "0000-01-01T00:00:00.000Z"],
    ["year +275760", "+275760-09-13T00:00:00.000Z"],
    ["year -271821", "-271821-04-20T00:00:00.000Z"],
    ["year 10000", "+010000-01-01T00:00:00.000Z"],
  ])("an asset-list cursor holding %s is a 422", async (_label, at) => {
    const user = await createAuthUser();
    const res = await callAs(`/v1/assets?cursor=${base64Url(JSON.stringify([at, id]))}`, { headers: user.auth });
    await expectProblem(res, 422, "query.cursor");
  });

  it("a settings-history cursor past the largest version is a 422", async () => {
    const admin = await callerWith(["admin"]);
    const key = uniqueKey("history");
    const created = await call(
      `/v1/settings/${key}`,
      jsonInit("PUT", { value: 1 }, { ...admin.headers, "If-None-Match": "*" }),
    );
    expect(created.status).toBe(201);
    const cursor = btoa("v9999999999").replace(/=+$/, "");
    const res = await call(`/v1/settings/${key}/history?cursor=${cursor}`, { headers: admin.headers });
    await expectProblem(res, 422, "query.cursor");
  });
});
