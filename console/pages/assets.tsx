// Assets: the caller's uploads, newest first, with image previews through the token-free URL
// (a signed GET for private images), a progress bar while a file goes straight to the bucket
// (presigned parts for big files), and delete.
import { useEffect, useState } from "hono/jsx/dom";
import type { Asset } from "../../client/index.ts";
import { call, client, describeError } from "../api.ts";

/** From this size the console sends presigned parts (8 MiB each), so a big file is not one request. */
const MULTIPART_FROM_BYTES = 16 * 1024 * 1024;

const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;

function Preview(props: { asset: Asset }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    if (!props.asset.contentType.startsWith("image/") || props.asset.status !== "ready") return;
    client.assets.url(props.asset.id).then(
      (link) => setSrc(link.url),
      () => setSrc(null),
    );
  }, [props.asset.id]);
  return src ? (
    <img src={src} alt={`Preview of ${props.asset.filename}`} />
  ) : (
    <div class="muted">{props.asset.contentType}</div>
  );
}

export function AssetsPage() {
  const [items, setItems] = useState<Asset[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ name: string; loaded: number; total: number } | null>(null);
  const [visibility, setVisibility] = useState<"private" | "public">("private");

  const load = async (cursor?: string) => {
    try {
      const page = await call<{ items: Asset[]; nextCursor: string | null }>(
        `/v1/assets?limit=24${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      setItems((old) => (cursor ? [...old, ...page.items] : page.items));
      setNext(page.nextCursor);
    } catch (e) {
      setError(describeError(e));
    }
  };
  useEffect(() => void load(), []);

  const upload = async (event: Event) => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    setError(null);
    setProgress({ name: file.name, loaded: 0, total: file.size });
    try {
      await client.assets.upload(file, {
        visibility,
        multipart: file.size >= MULTIPART_FROM_BYTES,
        onProgress: ({ loaded, total }) => setProgress({ name: file.name, loaded, total }),
      });
      await load();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setProgress(null);
      input.value = "";
    }
  };
  const remove = async (asset: Asset) => {
    try {
      await call(`/v1/assets/${asset.id}`, { method: "DELETE" });
      setItems((old) => old.filter((a) => a.id !== asset.id));
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <div>
      <h1>Assets</h1>
      <section class="card row">
        <label>
          Upload a file <input type="file" onChange={upload} disabled={progress !== null} />
        </label>
        <label>
          Visibility{" "}
          <select
            value={visibility}
            onChange={(e: Event) => setVisibility((e.target as HTMLSelectElement).value as "private" | "public")}
          >
            <option value="private">private</option>
            <option value="public">public</option>
          </select>
        </label>
        {progress && (
          <span class="row">
            <progress aria-label="Upload progress" max={progress.total} value={progress.loaded} />
            <span>
              {progress.name}: {sizeText(progress.loaded)} of {sizeText(progress.total)}
            </span>
          </span>
        )}
      </section>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
      <section class="assets" aria-label="Your assets">
        {items.map((a) => (
          <figure data-asset-id={a.id}>
            <Preview asset={a} />
            <figcaption>
              <div>
                <strong>{a.filename}</strong>
              </div>
              <div class="muted">
                {sizeText(a.size)} · {a.visibility} · {a.status}
              </div>
              <button type="button" class="danger" aria-label={`Delete ${a.filename}`} onClick={() => void remove(a)}>
                Delete
              </button>
            </figcaption>
          </figure>
        ))}
      </section>
      {items.length === 0 && <p class="muted">No assets yet.</p>}
      {next && (
        <button type="button" class="secondary" onClick={() => void load(next)}>
          Load more
        </button>
      )}
    </div>
  );
}
