import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCompatibility, readWranglerVars, type WorkerBundle } from "../ours/build.ts";
import { capnpConfig } from "../ours/workerd.ts";
import { FULL, parseArgs } from "../lib/profile.ts";
import { median, quantile, ratioSummary } from "../lib/stats.ts";

const TOML = `name = "x"
main = "src/index.ts"
compatibility_date = "2026-11-01"
compatibility_flags = ["nodejs_compat", "other_flag"]

[vars]
JWT_ISSUER = "edge-backend"
QUOTED = "say \\"hi\\""

[[durable_objects.bindings]]
name = "ROOMS"
`;

describe("statistics", () => {
  it("interpolates quantiles and ignores order", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 0], 0.99)).toBeCloseTo(9.9);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });

  it("skips rounds whose ratio is undefined", () => {
    expect(ratioSummary([2, 4, Number.NaN], [1, 0, 1])).toEqual({ median: 2, min: 2, max: 2, rounds: 1 });
    expect(ratioSummary([], [])).toBeNull();
  });
});

describe("wrangler.toml reading", () => {
  it("takes the compatibility settings and only the [vars] table", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-toml-"));
    await writeFile(join(dir, "wrangler.toml"), TOML);
    expect(await readCompatibility(dir)).toEqual({ date: "2026-11-01", flags: ["nodejs_compat", "other_flag"] });
    expect(await readWranglerVars(dir)).toEqual({ JWT_ISSUER: "edge-backend", QUOTED: 'say "hi"' });
    await rm(dir, { recursive: true, force: true });
  });
});

describe("the workerd config", () => {
  const bundle: WorkerBundle = {
    dir: "/b",
    modulePath: "/b/index.js",
    rawBytes: 1,
    gzipBytes: 1,
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat"],
    buildMs: 1,
    source: "working tree",
    assetsDir: "/repo/public",
  };
  const config = capnpConfig({
    modulePath: "build/index.js",
    port: 8787,
    doDir: "/tmp/do",
    bundle,
    vars: { JWT_KEYS: '[{"kid":"a","secret":"x\\\\y"}]', PLAIN: "v" },
  });

  it("passes JSON secrets through as escaped text bindings", () => {
    expect(config).toContain(String.raw`(name = "JWT_KEYS", text = "[{\"kid\":\"a\",\"secret\":\"x\\\\y\"}]")`);
    expect(config).toContain('(name = "PLAIN", text = "v")');
  });

  it("binds ASSETS to the assets directory, read only (the Worker reads /openapi.json's template there)", () => {
    expect(config).toContain('(name = "assets", disk = (path = "/repo/public", writable = false))');
    expect(config).toContain('(name = "ASSETS", service = "assets")');
  });

  it("listens on loopback only and lets the Worker reach only local addresses", () => {
    expect(config).toContain('address = "127.0.0.1:8787"');
    expect(config).toContain('network = (allow = ["local"])');
    expect(config).toContain('globalOutbound = "loopback"');
  });

  it("stores the room objects in SQLite on disk, with the wrangler.toml compatibility settings", () => {
    expect(config).toContain('durableObjectStorage = (localDisk = "do-disk")');
    expect(config).toContain("enableSql = true");
    expect(config).toContain('(name = "ROOMS", durableObjectNamespace = "RoomObject")');
    expect(config).toContain('compatibilityDate = "2026-11-01"');
    expect(config).toContain('compatibilityFlags = ["nodejs_compat"]');
    expect(config).toContain('esModule = embed "build/index.js"');
  });
});

describe("options", () => {
  it("runs the full profile by default and the quick one on request", () => {
    expect(parseArgs([], {}).profile.name).toBe("full");
    expect(parseArgs(["--quick"], {}).profile.name).toBe("quick");
    expect(parseArgs([], { BENCH_QUICK: "1" }).profile.name).toBe("quick");
  });

  it("keeps the full run inside ten minutes including its watchdog", () => {
    expect(FULL.budgetS + 30).toBeLessThan(600);
    expect(FULL.realtime.sizes.map((s) => s.clients)).toEqual([100, 1000]);
    expect(FULL.uploads.sizesMiB).toEqual([1, 50, 90]);
  });

  it("reads suites, realtime sizes, budget and --write", () => {
    const o = parseArgs(["--only=http,uploads", "--write"], {
      BENCH_REALTIME_SIZES: "10:5,20:2",
      BENCH_BUDGET_S: "99",
    });
    expect([...(o.only ?? [])]).toEqual(["http", "uploads"]);
    expect(o.write).toBe(true);
    expect(o.profile.realtime.sizes).toEqual([
      { clients: 10, ratePerS: 5 },
      { clients: 20, ratePerS: 2 },
    ]);
    expect(o.profile.budgetS).toBe(99);
    // The shared profile object is not changed by one run's options.
    expect(FULL.budgetS).toBe(540);
  });

  it("runs the realtime floors unless BENCH_REALTIME_FLOORS=0", () => {
    expect(parseArgs([], {}).profile.realtime.floors).toBe(true);
    expect(parseArgs(["--quick"], {}).profile.realtime.floors).toBe(true);
    expect(parseArgs([], { BENCH_REALTIME_FLOORS: "0" }).profile.realtime.floors).toBe(false);
    expect(FULL.realtime.floors).toBe(true);
  });
});
