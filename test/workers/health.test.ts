import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const call = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://edge.test${path}`, init));

describe("operations endpoints", () => {
  it("answers /healthz with ok and a request id", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("echoes a sane X-Request-Id and replaces an insane one", async () => {
    const sane = await call("/healthz", { headers: { "X-Request-Id": "abc-123" } });
    expect(sane.headers.get("X-Request-Id")).toBe("abc-123");
    const insane = await call("/healthz", { headers: { "X-Request-Id": "a b<script>" } });
    expect(insane.headers.get("X-Request-Id")).not.toBe("a b<script>");
  });

  it("reports postgres, redis and storage ready", async () => {
    const res = await call("/readyz");
    const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; ms: number }> };
    expect(body.checks.postgres?.ok).toBe(true);
    expect(body.checks.redis?.ok).toBe(true);
    expect(body.checks.storage?.ok).toBe(true);
    expect(body.status).toBe("ok");
    expect(res.status).toBe(200);
  });

  it("answers an unknown route with a 404 problem", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 404, title: "Not Found" });
    expect(body.requestId).toBe(res.headers.get("X-Request-Id"));
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await call("/healthz", { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toContain("GET");
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
  });

  it("serves an OpenAPI 3.1 document listing the routes", async () => {
    const res = await call("/openapi.json");
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz"]));
  });
});
