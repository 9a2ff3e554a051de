// Health: /readyz, read every few seconds: each dependency's readiness and how long its check took.
import { useEffect, useState } from "hono/jsx/dom";
import { client, describeError } from "../api.ts";

interface Check {
  ok: boolean;
  ms: number;
  error?: string;
}
interface Readiness {
  status: "ok" | "degraded" | "down";
  checks: Record<string, Check>;
}
const REFRESH_MS = 5000;

export function HealthPage() {
  const [report, setReport] = useState<Readiness | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [at, setAt] = useState<Date | null>(null);
  useEffect(() => {
    const read = async () => {
      try {
        // Plain fetch: /readyz answers 503 with the same body when Postgres is down.
        const res = await fetch(`${client.url}/readyz`, { cache: "no-store" });
        setReport((await res.json()) as Readiness);
        setError(null);
      } catch (e) {
        setError(describeError(e));
      }
      setAt(new Date());
    };
    void read();
    const timer = setInterval(read, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  return (
    <div>
      <h1>Health</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {report && (
        <section class="card">
          <p>
            Service: <strong class={report.status === "ok" ? "ok" : "bad"}>{report.status}</strong>{" "}
            <span class="muted">
              (checked {at?.toLocaleTimeString()}, every {REFRESH_MS / 1000} s)
            </span>
          </p>
          <table aria-label="Dependencies">
            <thead>
              <tr>
                <th>Dependency</th>
                <th>Ready</th>
                <th>Latency</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(report.checks).map(([name, check]) => (
                <tr data-check={name}>
                  <td>{name}</td>
                  <td class={check.ok ? "ok" : "bad"}>{check.ok ? "ready" : "not ready"}</td>
                  <td>{check.ms} ms</td>
                  <td>{check.error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
