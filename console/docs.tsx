// The API reference page (/docs): renders the service's own /openapi.json in the browser, with no
// script, font or style from anywhere but the service, so it works offline and behind firewalls.
import { render, useEffect, useState } from "hono/jsx/dom";

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: unknown }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  security?: unknown[];
}
interface OpenApi {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

/** `$ref`s are shown by name; the components are listed once at the bottom. */
const schemaText = (schema: unknown) =>
  JSON.stringify(
    schema,
    (key, value) =>
      key === "$ref" && typeof value === "string" ? value.replace("#/components/schemas/", "→ ") : value,
    2,
  );

function OperationView(props: { method: string; path: string; op: Operation }) {
  const { method, path, op } = props;
  const body = op.requestBody?.content;
  return (
    <details class="op" id={`${method}-${path}`}>
      <summary>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code>{" "}
        <span>{op.summary ?? ""}</span>
      </summary>
      {op.description && <p>{op.description}</p>}
      {op.parameters && op.parameters.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Parameter</th>
              <th>In</th>
              <th>Required</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {op.parameters.map((p) => (
              <tr>
                <td>
                  <code>{p.name}</code>
                </td>
                <td>{p.in}</td>
                <td>{p.required ? "yes" : "no"}</td>
                <td>{p.description ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {body &&
        Object.entries(body).map(([type, media]) => (
          <div>
            <h4>Request body ({type})</h4>
            <pre>{schemaText(media.schema)}</pre>
          </div>
        ))}
      <h4>Responses</h4>
      <ul>
        {Object.entries(op.responses ?? {}).map(([status, r]) => (
          <li>
            <strong>{status}</strong> {r.description ?? ""}{" "}
            {r.content && <span class="muted">({Object.keys(r.content).join(", ")})</span>}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Reference() {
  const [doc, setDoc] = useState<OpenApi | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    fetch("/openapi.json").then(
      async (res) => (res.ok ? setDoc((await res.json()) as OpenApi) : setError(`GET /openapi.json: ${res.status}`)),
      (e: Error) => setError(e.message),
    );
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!doc) return <p class="muted">Loading /openapi.json…</p>;
  const groups = new Map<string, Array<{ method: string; path: string; op: Operation }>>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? path.split("/").filter(Boolean).slice(0, 2).join("/");
      groups.set(tag, [...(groups.get(tag) ?? []), { method, path, op }]);
    }
  }
  return (
    <main>
      <h1>
        {doc.info.title} <span class="muted">{doc.info.version}</span>
      </h1>
      {doc.info.description && <p>{doc.info.description}</p>}
      <p class="muted">
        The machine-readable document: <a href="/openapi.json">/openapi.json</a>. The console:{" "}
        <a href="/console/">/console</a>.
      </p>
      {[...groups].map(([tag, ops]) => (
        <section>
          <h2>{tag}</h2>
          {ops.map((o) => (
            <OperationView method={o.method} path={o.path} op={o.op} />
          ))}
        </section>
      ))}
      <section>
        <h2>Schemas</h2>
        {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
          <details class="op" id={`schema-${name}`}>
            <summary>
              <code>{name}</code>
            </summary>
            <pre>{schemaText(schema)}</pre>
          </details>
        ))}
      </section>
    </main>
  );
}

const root = document.getElementById("root");
if (root) {
  root.textContent = "";
  render(<Reference />, root);
}
