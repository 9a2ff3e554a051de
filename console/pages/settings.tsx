// Settings: the list (live: the `system` room announces every committed change), a JSON editor that
// sends If-Match with the version it was opened at (a 412 shows the version that won), creation
// with If-None-Match: *, an optional JSON Schema, and each key's history.
import { useEffect, useState } from "hono/jsx/dom";
import { ApiError } from "../../client/index.ts";
import { call, client, describeError } from "../api.ts";

interface Setting {
  key: string;
  value: unknown;
  version: number;
  visibility: "public" | "authenticated" | "admin";
  updatedAt: string;
  updatedBy: string | null;
  schema?: unknown;
}
interface HistoryEntry {
  version: number;
  value: unknown;
  visibility: string;
  deleted: boolean;
  changedAt: string;
  changedBy: string | null;
}

const pretty = (value: unknown) => JSON.stringify(value, null, 2);
const path = (key: string) => `/v1/settings/${encodeURIComponent(key)}`;

/** Parses a textarea as JSON, or says where it is not JSON. `allowEmpty`: "" means "not given". */
function parseJson(
  label: string,
  text: string,
  allowEmpty = false,
): { ok: true; value: unknown } | { ok: false; error: string } {
  if (allowEmpty && text.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `${label} is not valid JSON: ${(e as Error).message}` };
  }
}

function Editor(props: {
  setting: Setting;
  latest: Setting | undefined;
  /** This editor is the one a save just reopened (at the saved version): say so. */
  justSaved: boolean;
  onSaved: (version: number | null) => void;
}) {
  const { setting, latest } = props;
  const [value, setValue] = useState(pretty(setting.value));
  const [schema, setSchema] = useState(setting.schema === undefined ? "" : pretty(setting.schema));
  const [visibility, setVisibility] = useState(setting.visibility);
  const [error, setError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Setting | null>(null);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);

  const save = async () => {
    setError(null);
    setConflict(null);
    const parsedValue = parseJson("The value", value);
    if (!parsedValue.ok) return setError(parsedValue.error);
    const parsedSchema = parseJson("The schema", schema, true);
    if (!parsedSchema.ok) return setError(parsedSchema.error);
    try {
      const res = await call<Setting>(path(setting.key), {
        method: "PUT",
        headers: { "If-Match": `"${setting.version}"` },
        json: {
          value: parsedValue.value,
          visibility,
          // Emptied: the key's schema is removed; never had one: left out.
          ...(parsedSchema.value !== undefined
            ? { schema: parsedSchema.value }
            : setting.schema !== undefined && { schema: null }),
        },
      });
      props.onSaved(res.version);
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        // Someone else committed first: show what won, and let the admin start from it.
        setConflict(await call<Setting>(path(setting.key)).catch(() => null));
      }
      setError(describeError(e));
    }
  };
  const remove = async () => {
    setError(null);
    try {
      await call(path(setting.key), { method: "DELETE", headers: { "If-Match": `"${setting.version}"` } });
      props.onSaved(null);
    } catch (e) {
      setError(describeError(e));
    }
  };
  const loadHistory = async () => {
    try {
      setHistory((await call<{ items: HistoryEntry[] }>(`${path(setting.key)}/history?limit=50`)).items);
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <section class="card" aria-label={`Edit ${setting.key}`}>
      <h2>
        {setting.key} <span class="muted">editing version {setting.version}</span>
      </h2>
      {latest && latest.version !== setting.version && (
        <p class="notice" role="status">
          Changed elsewhere: version {latest.version} is current. Saving now would be refused (412).
        </p>
      )}
      <label class="field">
        Value (JSON)
        <textarea
          aria-label="Value (JSON)"
          value={value}
          onInput={(e: Event) => setValue((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <label class="field">
        JSON Schema (optional)
        <textarea
          aria-label="JSON Schema (optional)"
          value={schema}
          onInput={(e: Event) => setSchema((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <div class="row">
        <label>
          Visibility{" "}
          <select
            value={visibility}
            onChange={(e: Event) => setVisibility((e.target as HTMLSelectElement).value as Setting["visibility"])}
          >
            <option value="public">public</option>
            <option value="authenticated">authenticated</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="button" onClick={save}>
          Save
        </button>
        <button type="button" class="secondary" onClick={loadHistory}>
          History
        </button>
        <button type="button" class="danger" onClick={remove}>
          Delete
        </button>
        {props.justSaved && (
          <span class="ok" role="status">
            Saved as version {setting.version}
          </span>
        )}
      </div>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
      {conflict && (
        <section class="notice" aria-label="Current version">
          <p>
            The current version is {conflict.version} (by {conflict.updatedBy ?? "unknown"} at {conflict.updatedAt}):
          </p>
          <pre>{pretty(conflict.value)}</pre>
        </section>
      )}
      {history && (
        <table aria-label={`History of ${setting.key}`}>
          <thead>
            <tr>
              <th>Version</th>
              <th>Value</th>
              <th>Visibility</th>
              <th>When</th>
              <th>By</th>
            </tr>
          </thead>
          <tbody>
            {history.map((h) => (
              <tr>
                <td>{h.version}</td>
                <td>{h.deleted ? <em>deleted</em> : <pre>{pretty(h.value)}</pre>}</td>
                <td>{h.visibility}</td>
                <td>{h.changedAt}</td>
                <td>{h.changedBy ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CreateForm(props: { onCreated: (key: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const key = String(form.get("key"));
    const value = parseJson("The value", String(form.get("value")));
    if (!value.ok) return setError(value.error);
    const schema = parseJson("The schema", String(form.get("schema")), true);
    if (!schema.ok) return setError(schema.error);
    setError(null);
    try {
      await call(path(key), {
        method: "PUT",
        headers: { "If-None-Match": "*" },
        json: {
          value: value.value,
          visibility: form.get("visibility"),
          ...(schema.value !== undefined && { schema: schema.value }),
        },
      });
      (event.target as HTMLFormElement).reset();
      props.onCreated(key);
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <form class="card" aria-label="New setting" onSubmit={submit}>
      <h2>New setting</h2>
      <div class="row">
        <label>
          Key <input name="key" required pattern="[a-z0-9][a-z0-9._\-]{0,127}" />
        </label>
        <label>
          Visibility{" "}
          <select name="visibility">
            <option value="admin">admin</option>
            <option value="authenticated">authenticated</option>
            <option value="public">public</option>
          </select>
        </label>
      </div>
      <label class="field">
        Value (JSON) <textarea name="value" required />
      </label>
      <label class="field">
        JSON Schema (optional) <textarea name="schema" />
      </label>
      <button type="submit">Create</button>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
    </form>
  );
}

export function SettingsPage() {
  const [items, setItems] = useState<Setting[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Setting | null>(null);
  const [justSaved, setJustSaved] = useState<string | null>(null);
  const [live, setLive] = useState(false);

  const load = async () => {
    try {
      setItems((await call<{ items: Setting[] }>("/v1/settings")).items);
      setError(null);
    } catch (e) {
      setError(describeError(e));
    }
  };
  const open = async (key: string) => {
    try {
      setEditing(await call<Setting>(path(key)));
    } catch (e) {
      setError(describeError(e));
    }
  };
  useEffect(() => {
    void load();
    // Every committed change is announced in `system`; the list is read again (through the cache).
    const room = client.rooms.connect("system");
    room.on("welcome", () => setLive(true));
    room.on("close", () => setLive(false));
    room.on("message", (m) => {
      if ((m.data as { type?: string } | null)?.type === "setting.changed") void load();
    });
    return () => room.close();
  }, []);

  return (
    <div>
      <h1>Settings</h1>
      <p class="muted" role="status" aria-label="Live updates">
        {live ? "Live: changes made elsewhere appear here." : "Connecting to live updates…"}
      </p>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
      <table aria-label="Settings">
        <thead>
          <tr>
            <th>Key</th>
            <th>Value</th>
            <th>Version</th>
            <th>Visibility</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {items.map((s) => (
            <tr data-key={s.key}>
              <td>
                <button type="button" class="secondary" onClick={() => void open(s.key)}>
                  {s.key}
                </button>
              </td>
              <td>
                <pre data-role="value">{JSON.stringify(s.value)}</pre>
              </td>
              <td>{s.version}</td>
              <td>{s.visibility}</td>
              <td>{s.updatedAt}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && <p class="muted">No settings yet.</p>}
      {editing && (
        <Editor
          key={`${editing.key}@${editing.version}`}
          setting={editing}
          latest={items.find((s) => s.key === editing.key)}
          justSaved={justSaved === `${editing.key}@${editing.version}`}
          onSaved={(version) => {
            setJustSaved(version === null ? null : `${editing.key}@${version}`);
            void open(editing.key).then(load);
          }}
        />
      )}
      <CreateForm onCreated={(key) => void load().then(() => open(key))} />
    </div>
  );
}
