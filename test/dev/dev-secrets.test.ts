import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadOrCreateAdmin, loadOrCreateJwtKeys } from "../../dev/dev-secrets.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("dev secrets", () => {
  it("generates the admin once and returns the same one later", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edge-secrets-"));
    dirs.push(dir);
    const path = join(dir, "nested", "admin.json");
    const first = await loadOrCreateAdmin(path);
    expect(first.generated).toBe(true);
    expect(first.email).toBe("admin@localhost");
    expect(first.password.length).toBeGreaterThanOrEqual(16);
    const again = await loadOrCreateAdmin(path);
    expect(again).toEqual({ ...first, generated: false });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("generates JWT_KEYS in the format the Worker expects, stable across calls", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edge-secrets-"));
    dirs.push(dir);
    const path = join(dir, "jwt-keys.json");
    const keys = await loadOrCreateJwtKeys(path);
    const parsed = JSON.parse(keys) as { kid: string; alg: string; secret: string }[];
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ kid: "dev-hs256", alg: "HS256" });
    expect(Buffer.from(parsed[0]?.secret ?? "", "base64url")).toHaveLength(32);
    expect(await loadOrCreateJwtKeys(path)).toBe(keys);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ JWT_KEYS: keys });
  });
});
