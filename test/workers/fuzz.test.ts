// The fuzz suite on workerd: every route of /openapi.json with generated bad input (seeded, bounded).
// FUZZ_SEED and FUZZ_CASES override the defaults; the per-route counts are printed.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { formatFuzzReport, fuzzRoutes } from "../support/fuzz.ts";
import { createAuthUser } from "./support/auth.ts";

const SEED = 11;
const CASES_PER_ROUTE = 60;

describe("fuzz (workerd)", () => {
  it(`every route, ${CASES_PER_ROUTE} generated bad requests each: no 5xx, every error problem+json`, async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"] });
    const report = await fuzzRoutes({
      send: (request) => exports.default.fetch(request),
      origin: "http://edge.test",
      adminToken: admin.accessToken,
      seed: SEED,
      casesPerRoute: CASES_PER_ROUTE,
    });
    console.log(formatFuzzReport(report, "workerd"));
    expect(Object.keys(report.routes).length).toBeGreaterThan(20);
    expect(report.failures).toEqual([]);
  }, 300_000);
});
