import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApiClient } from "./http-client.ts";

describe("the typed HTTP client", () => {
  it("calls the service through typed paths", async () => {
    const api = createApiClient("http://edge.test", {
      fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)),
    });
    const res = await api.healthz.$get();
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("ok");
  });
});
