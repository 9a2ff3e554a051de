// The deploy bundle's "zod" (scripts/bundle/zod.ts) hands out `z` as an object of the members the
// code calls, so the bundler can drop the rest. A member used in code but missing there would be
// `undefined` in the Worker only: this scans every module the Worker (and its tests) load for
// `z.<name>` and checks the slim `z` has that very member.
import * as realS3 from "@aws-sdk/client-s3";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import * as real from "zod";
import { COMMANDS, generateFiles, literalSchemas, OUT_DIR } from "../../scripts/s3-client-build.ts";
import { generateZodFiles, ZOD_OUT_DIR } from "../../scripts/zod-classic-build.ts";
import * as slim from "../../scripts/bundle/zod.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIRS = ["src", "durable", "common", "protocol", "client", "test/workers"];
// Only ever used as types (`z.infer<typeof s>`), which are erased before anything runs.
const TYPE_ONLY = new Set(["infer", "input", "output", "core"]);

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return (
    entries
      // Sources only: not declaration files, nor the SDK's build output (client/dist, .build, .pack).
      .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts"))
      .filter((e) => !/(^|\/)(node_modules|dist|\.build|\.pack)(\/|$)/.test(e.parentPath))
      .map((e) => join(e.parentPath, e.name))
  );
}

describe("bundle alias for zod", () => {
  it("has every z member the sources use, the very same as zod's", async () => {
    const used = new Set<string>();
    for (const dir of DIRS)
      for (const file of await sources(dir)) {
        const text = (await readFile(file, "utf8")).replace(/\/\/.*$/gm, "");
        for (const m of text.matchAll(/\bz\s*\.\s*([A-Za-z_$][\w$]*)/g)) if (!TYPE_ONLY.has(m[1]!)) used.add(m[1]!);
      }
    expect(used.size).toBeGreaterThan(10);
    const slimZ = slim.z as Record<string, unknown>;
    const realZ = real.z as unknown as Record<string, unknown>;
    // The committed entry (what the generated .bundle/zod/index.ts is made from; the tests below hold
    // the two, and the copies of zod's classic modules, to each other): the same function by name.
    const same = (m: unknown): unknown =>
      typeof m === "function"
        ? `function ${m.name}`
        : m && typeof m === "object" // the coerce and iso namespaces
          ? Object.fromEntries(
              Object.entries(m).map(([k, v]) => [k, typeof v === "function" ? `function ${v.name}` : v]),
            )
          : m;
    for (const name of used) expect({ name, member: same(slimZ[name]) }).toEqual({ name, member: same(realZ[name]) });
  });
});

// The SDK aliases (.bundle/client-s3/, event-streams.js, checksums.js) import the SDK's
// dist-es files, which Node cannot load as they are (extensionless imports): esbuild bundles each
// one here, as wrangler does, and the test imports the result.
async function bundled(entry: string): Promise<Record<string, unknown>> {
  const { build } = await import("esbuild");
  const dir = await mkdtemp(join(tmpdir(), "bundle-alias-"));
  const outfile = join(dir, "out.mjs");
  await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    outfile,
    logLevel: "silent",
  });
  try {
    return (await import(pathToFileURL(outfile).href)) as Record<string, unknown>;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deep equality of schema values, calling the lazy `() => schema` references on both sides. */
function sameSchema(a: unknown, b: unknown, path: string, seen = new Map<unknown, unknown>()): void {
  if (typeof a === "function" && typeof b === "function") {
    if (seen.get(a) === b) return;
    seen.set(a, b);
    // Error classes (registries) compare by name; schema references by what they return.
    if (/^class\b/.test(Function.prototype.toString.call(a))) {
      expect((a as { name: string }).name, path).toBe((b as { name: string }).name);
      return;
    }
    sameSchema((a as () => unknown)(), (b as () => unknown)(), `${path}()`, seen);
    return;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    if (seen.get(a) === b) return;
    seen.set(a, b);
    expect(Object.keys(a), path).toEqual(Object.keys(b));
    for (const k of Object.keys(a))
      sameSchema((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, seen);
    return;
  }
  expect(a, path).toBe(b);
}

/** The files in `dir` (relative paths), which the build prelude wrote: what the bundle and the workers tests read. */
async function written(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => {
    throw new Error(`${dir} is missing: run \`npm run bundle:build\` (npm test runs it first)`);
  });
  const files = new Map<string, string>();
  for (const e of entries.filter((e) => e.isFile()))
    files.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name), "utf8"));
  return files;
}

const sorted = (files: Map<string, string>) => new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1)));

describe("bundle alias for @aws-sdk/client-s3 (.bundle/client-s3/, generated)", () => {
  it("is exactly what scripts/s3-client-build.ts generates now from the installed SDK, nothing left over", async () => {
    expect(sorted(await written(OUT_DIR))).toEqual(sorted(await generateFiles()));
    expect(relative(ROOT, OUT_DIR)).toBe(".bundle/client-s3");
  });

  it("has schemas equal to the SDK's own, computed keys and all", async () => {
    const original = await readFile(join(ROOT, "node_modules/@aws-sdk/client-s3/dist-es/schemas/schemas_0.js"), "utf8");
    expect(literalSchemas(original).computedKeys).toBeGreaterThan(1000);
    const slim = await bundled(".bundle/client-s3/schemas.js");
    const names = Object.keys(slim).filter((k) => k.endsWith("$"));
    expect(names.length).toBeGreaterThan(400);
    for (const name of names) sameSchema(slim[name], (realS3 as Record<string, unknown>)[name], name);
  });

  it("exports every command the sources import, and the bundle client exports the same classes' names", async () => {
    const used = new Set<string>();
    for (const dir of DIRS)
      for (const file of await sources(dir)) {
        const text = await readFile(file, "utf8");
        for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/client-s3"/g))
          for (const spec of m[1]!.split(",")) {
            const name = spec.replace(/^\s*type\s+/, "").trim();
            if (name && !/^type\s/.test(spec.trim())) used.add(name);
          }
      }
    expect(used).toContain("PutObjectCommand");
    const index = await readFile(join(OUT_DIR, "index.js"), "utf8");
    for (const name of used)
      if (name.endsWith("Command")) expect(COMMANDS.map((c) => `${c}Command`)).toContain(name);
      else expect({ name, exported: index.includes("S3Client.js") }).toEqual({ name, exported: name === "S3Client" });
  });

  it("sends no command with an event stream or a required checksum (what the two stubs leave out)", async () => {
    const { NormalizedSchema } = await import("@smithy/core/schema");
    const builder = await readFile(join(ROOT, "node_modules/@aws-sdk/client-s3/dist-es/commandBuilder.js"), "utf8");
    const required = new Set(
      [...builder.matchAll(/export const (_mw\d+) = [\s\S]*?(?=\nexport const|$)/g)]
        .filter((m) => /requestChecksumRequired: true/.test(m[0]))
        .map((m) => m[1]),
    );
    expect(required.size).toBeGreaterThan(0); // DeleteObjects and others
    for (const command of COMMANDS) {
      const file = await readFile(
        join(ROOT, `node_modules/@aws-sdk/client-s3/dist-es/commands/${command}Command.js`),
        "utf8",
      );
      const mw = /command\(_ep\d+, (_mw\d+),/.exec(file)?.[1];
      expect({ command, mw: mw && !required.has(mw) }).toEqual({ command, mw: true });
      const op = (realS3 as unknown as Record<string, unknown[]>)[`${command}$`]!;
      for (const io of [op[4], op[5]]) {
        const schema = NormalizedSchema.of((io as () => never)());
        if (schema.isStructSchema())
          expect({ command, stream: schema.getEventStreamMember() }).toEqual({ command, stream: "" });
      }
    }
    const select = NormalizedSchema.of(realS3.SelectObjectContentOutput$ as never);
    expect(select.getEventStreamMember()).toBe("Payload"); // the check above can see one
  });
});

describe("bundle alias for @smithy/core/event-streams (scripts/bundle/event-streams.js)", () => {
  it("stands in for the real module's names and fails loudly if an event stream is ever used", async () => {
    const real = await import("@smithy/core/event-streams");
    const slim = await bundled("scripts/bundle/event-streams.js");
    for (const name of Object.keys(slim)) expect(typeof (real as Record<string, unknown>)[name], name).toBe("function");
    const config = (
      slim.resolveEventStreamSerdeConfig as (c: object) => { eventStreamMarshaller: Record<string, () => void> }
    )({
      eventStreamSerdeProvider: slim.eventStreamSerdeProvider,
    });
    expect(() => config.eventStreamMarshaller.deserialize!()).toThrow(/not in the Worker bundle/);
    expect(() => new (slim.EventStreamSerde as new () => unknown)()).toThrow(/not in the Worker bundle/);
  });
});

describe("bundle alias for @aws-sdk/checksums (scripts/bundle/checksums.js)", () => {
  type Mw = (next: (a: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>;
  async function guard(config: Record<string, unknown>, middlewareConfig: Record<string, unknown>) {
    const slim = await bundled("scripts/bundle/checksums.js");
    const added: { mw: Mw; options: Record<string, unknown> }[] = [];
    const stack = {
      add: (mw: Mw, options: Record<string, unknown>) => added.push({ mw, options }),
      addRelativeTo: (mw: Mw, options: Record<string, unknown>) => added.push({ mw, options }),
    };
    const resolved = (slim.resolveFlexibleChecksumsConfig as (c: object) => Record<string, unknown>)(config);
    (slim.getFlexibleChecksumsPlugin as (c: object, m: object) => { applyToStack(s: object): void })(
      resolved,
      middlewareConfig,
    ).applyToStack(stack);
    return {
      slim,
      added,
      run: (input: Record<string, unknown>, headers: Record<string, string> = {}) =>
        added[0]!.mw(async () => "sent")({ input, request: { headers } }),
    };
  }
  const WHEN_REQUIRED = { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" };
  const put = {
    requestAlgorithmMember: { httpHeader: "x-amz-sdk-checksum-algorithm", name: "ChecksumAlgorithm" },
    requestChecksumRequired: false,
  };

  it("takes the real middleware's place and passes the calls the service makes", async () => {
    const real = await import("@aws-sdk/checksums/flexible-checksums");
    const { slim, added, run } = await guard(WHEN_REQUIRED, put);
    expect(added[0]!.options).toEqual(real.flexibleChecksumsMiddlewareOptions);
    expect(added[1]!.options.name).toBe("flexibleChecksumsInputMiddleware"); // the real one, kept
    expect(typeof real.resolveFlexibleChecksumsConfig).toBe("function");
    await expect(run({ Bucket: "b", Key: "k" })).resolves.toBe("sent");
    expect(() => new (slim.Sha1 as new () => unknown)()).toThrow(/not in the Worker bundle/);
  });

  it("fails every call the real middleware would have checksummed, before it is sent", async () => {
    await expect((await guard(WHEN_REQUIRED, { ...put, requestChecksumRequired: true })).run({})).rejects.toThrow(
      /request checksums/,
    );
    await expect(
      (await guard({ ...WHEN_REQUIRED, requestChecksumCalculation: "WHEN_SUPPORTED" }, put)).run({}),
    ).rejects.toThrow(/request checksums/);
    await expect((await guard(WHEN_REQUIRED, put)).run({ ChecksumAlgorithm: "CRC32" })).rejects.toThrow(
      /request checksums/,
    );
    await expect((await guard(WHEN_REQUIRED, put)).run({}, { "x-amz-checksum-crc32": "AAAA" })).rejects.toThrow(
      /request checksums/,
    );
    const get = {
      requestChecksumRequired: false,
      requestValidationModeMember: "ChecksumMode",
      responseAlgorithms: ["CRC32"],
    };
    await expect((await guard(WHEN_REQUIRED, get)).run({ ChecksumMode: "ENABLED" })).rejects.toThrow(
      /response checksums/,
    );
    await expect((await guard(WHEN_REQUIRED, get)).run({})).resolves.toBe("sent");
  });
});

describe("bundle alias for zod (.bundle/zod/, generated)", () => {
  it("is exactly what scripts/zod-classic-build.ts generates now from the installed zod, nothing left over", async () => {
    const files = await generateZodFiles();
    expect(sorted(await written(ZOD_OUT_DIR))).toEqual(sorted(files));
    expect(relative(ROOT, ZOD_OUT_DIR)).toBe(".bundle/zod");
    // The entry modules are the committed ones, re-pointed at the copies, nothing else changed.
    const strip = (t: string) => t.replace(/^\/\/ Generated by .*\n/, "").replace(/"[^"\n]*\.(js|ts)"/g, '"…"');
    expect(strip(files.get("index.ts")!)).toBe(strip(await readFile(join(ROOT, "scripts/bundle/zod.ts"), "utf8")));
    const classic = files.get("classic.ts")!;
    expect(strip(classic)).toBe(strip(await readFile(join(ROOT, "scripts/bundle/zod-classic.ts"), "utf8")));
    expect(classic).not.toContain("node_modules/zod/v4/classic/schemas.js");
    for (const name of ["schemas", "iso", "coerce", "deep-partial", "in-out"])
      expect(classic).toContain(`"./classic/${name}.js"`);
    // Each copy is zod's own text but for its import specifiers.
    for (const name of ["schemas", "iso", "coerce", "deep-partial", "in-out"]) {
      const original = await readFile(join(ROOT, `node_modules/zod/v4/classic/${name}.js`), "utf8");
      expect(strip(files.get(`classic/${name}.js`)!)).toBe(strip(original));
    }
  });

  it("has the committed z object's members, the generated entry being the one wrangler bundles", async () => {
    const slimZod = await bundled(".bundle/zod/index.ts");
    expect(Object.keys(slimZod.z as object).sort()).toEqual(Object.keys(slim.z).sort());
  });

  it("is only reached for JSON Schema conversion, which no source calls", async () => {
    for (const dir of DIRS)
      for (const file of await sources(dir)) {
        const text = (await readFile(file, "utf8")).replace(/\/\/.*$/gm, "");
        const calls = /toJSONSchema|jsonSchema\s*\.|processJSONSchema|JSONSchemaGenerator/.test(text);
        expect({ file, calls }).toEqual({ file, calls: false });
      }
    const slimZod = await bundled(".bundle/zod/index.ts");
    const schema = (slimZod.z as typeof real.z).string().min(3);
    expect(schema.parse("abcd")).toBe("abcd");
    expect(schema.minLength).toBe(3); // aggregateChecks is the real one
    expect(() => schema.toJSONSchema()).toThrow(/not in the Worker bundle/);
  });
});

describe("bundle alias for @upstash/core-analytics (scripts/bundle/core-analytics.js)", () => {
  it("is never constructed: every rate limiter has analytics off", async () => {
    let limiters = 0;
    for (const dir of DIRS)
      for (const file of await sources(dir)) {
        const text = await readFile(file, "utf8");
        for (const m of text.matchAll(/new Ratelimit\(\{([\s\S]*?)\}\)/g)) {
          limiters++;
          expect({ file, analytics: /analytics:\s*false/.test(m[1]!) }).toEqual({ file, analytics: true });
        }
      }
    expect(limiters).toBeGreaterThan(0);
    const slim = await bundled("scripts/bundle/core-analytics.js");
    expect(() => new (slim.Analytics as new () => unknown)()).toThrow(/not in the Worker bundle/);
  });
});
