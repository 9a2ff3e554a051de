// The settings both sides read: 20 small JSON values, 14 public and 6 for signed-in users. Written
// through the service's own API when it has it (so its cache and history see a normal write),
// otherwise straight into the `settings` table so the baseline still has the same data to serve.
import pg from "pg";

export const SETTINGS_COUNT = 20;

function settingAt(i: number): { key: string; value: unknown; visibility: "public" | "authenticated" } {
  return {
    key: `bench.feature-${String(i).padStart(2, "0")}`,
    value: {
      enabled: i % 3 !== 0,
      rollout: (i * 7) % 100,
      label: `Feature ${i}`,
      variants: ["a", "b", "c"].slice(0, (i % 3) + 1),
      limits: { perMinute: 60 + i, burst: 10 },
    },
    visibility: i < 14 ? "public" : "authenticated",
  };
}

export interface SeedResult {
  via: "api" | "sql";
  detail: string;
}

export async function seedSettings(oursUrl: string, adminToken: string, databaseUrl: string): Promise<SeedResult> {
  const first = settingAt(0);
  const put = (s: ReturnType<typeof settingAt>) =>
    fetch(`${oursUrl}/v1/settings/${s.key}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", "if-none-match": "*" },
      body: JSON.stringify({ value: s.value, visibility: s.visibility }),
      signal: AbortSignal.timeout(15_000),
    });
  let res: Response | undefined;
  try {
    res = await put(first);
    await res.arrayBuffer();
  } catch {
    res = undefined;
  }
  if (res && (res.status === 201 || res.status === 200)) {
    for (let i = 1; i < SETTINGS_COUNT; i++) {
      const r = await put(settingAt(i));
      await r.arrayBuffer();
      if (r.status !== 201 && r.status !== 200)
        throw new Error(`PUT /v1/settings/${settingAt(i).key} answered ${r.status}`);
    }
    return { via: "api", detail: `${SETTINGS_COUNT} settings written with PUT /v1/settings/:key` };
  }
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 10_000 });
  await client.connect();
  try {
    for (let i = 0; i < SETTINGS_COUNT; i++) {
      const s = settingAt(i);
      await client.query(
        "insert into settings (key, value, version, visibility) values ($1, $2, 1, $3) on conflict (key) do nothing",
        [s.key, JSON.stringify(s.value), s.visibility],
      );
    }
  } finally {
    await client.end();
  }
  return {
    via: "sql",
    detail: `PUT /v1/settings answered ${res?.status ?? "nothing"}; ${SETTINGS_COUNT} settings inserted with SQL`,
  };
}
