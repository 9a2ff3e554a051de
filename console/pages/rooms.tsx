// Rooms: join one over the SDK's room client (reconnects and resumes by itself), see who is there
// and what is said live, send, and page through the retained history over HTTP.
import { useEffect, useRef, useState } from "hono/jsx/dom";
import type { MessageFrame, PresenceUser, RoomClient } from "../../client/index.ts";
import { ROOM_NAME_PATTERN } from "../../client/index.ts";
import { call, client, describeError } from "../api.ts";

interface HistoryPage {
  items: MessageFrame[];
  nextCursor: string | null;
  seq: number;
  oldestSeq: number;
}

const textOf = (data: unknown) =>
  typeof (data as { text?: unknown } | null)?.text === "string"
    ? (data as { text: string }).text
    : JSON.stringify(data);

function Message(props: { m: MessageFrame }) {
  const { m } = props;
  return (
    <li>
      <span class="muted">
        #{m.seq} {new Date(m.ts).toLocaleTimeString()} {m.from.id === client.auth.user?.id ? "you" : m.from.id}:
      </span>{" "}
      {textOf(m.data)}
    </li>
  );
}

function Room(props: { name: string; onLeave: () => void }) {
  const [status, setStatus] = useState("connecting");
  const [messages, setMessages] = useState<MessageFrame[]>([]);
  const [present, setPresent] = useState<PresenceUser[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [history, setHistory] = useState<HistoryPage | null>(null);
  const [text, setText] = useState("");
  const room = useRef<RoomClient | null>(null);

  useEffect(() => {
    const r = client.rooms.connect(props.name);
    room.current = r;
    r.on("welcome", () => setStatus("connected"));
    r.on("close", (e) => setStatus(e.code === 4401 ? "signed out" : "reconnecting"));
    r.on("message", (m) => setMessages((old) => [...old, m]));
    r.on("error", (e) => setError(`${e.code}: ${e.message}`));
    r.on("presence", (p) => {
      if (p.action === "sync") return setPresent(p.users);
      // A diff states each changed user's final status: apply `left`, then `joined`, as set operations.
      const left = new Set(p.left.map((u) => u.id));
      setPresent((old) => {
        const kept = old.filter((u) => !left.has(u.id));
        const added = p.joined
          .filter((u) => !kept.some((k) => k.id === u.id))
          .map((u) => ({ id: u.id, connections: 1 }));
        return [...kept, ...added];
      });
    });
    return () => r.close();
  }, [props.name]);

  const send = async (event: Event) => {
    event.preventDefault();
    if (!text.trim() || !room.current) return;
    setError(null);
    try {
      await room.current.publish({ text });
      setText("");
    } catch (e) {
      setError(describeError(e));
    }
  };
  const loadHistory = async (cursor?: string) => {
    try {
      const query = cursor ? `cursor=${encodeURIComponent(cursor)}` : "since=0";
      const page = await call<HistoryPage>(`/v1/rooms/${encodeURIComponent(props.name)}/messages?limit=50&${query}`);
      setHistory((old) => (cursor && old ? { ...page, items: [...old.items, ...page.items] } : page));
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <section class="card" aria-label={`Room ${props.name}`}>
      <div class="row">
        <h2>{props.name}</h2>
        <span class="muted" role="status" aria-label="Connection">
          {status}
        </span>
        <button type="button" class="secondary" onClick={props.onLeave}>
          Leave
        </button>
      </div>
      <section aria-label="Present">
        Here now:{" "}
        {present.map((u) => (
          <code>
            {u.id === client.auth.user?.id ? "you" : u.id}
            {u.connections > 1 ? ` ×${u.connections}` : ""}{" "}
          </code>
        ))}
      </section>
      <ul class="messages" aria-label="Messages">
        {messages.map((m) => (
          <Message m={m} />
        ))}
      </ul>
      <form class="row" onSubmit={send}>
        <label>
          Message <input value={text} onInput={(e: Event) => setText((e.target as HTMLInputElement).value)} size={50} />
        </label>
        <button type="submit" disabled={status !== "connected"}>
          Send
        </button>
      </form>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
      <h2>History</h2>
      <button type="button" class="secondary" onClick={() => void loadHistory()}>
        Load history
      </button>
      {history && (
        <div>
          <p class="muted">
            Retained: #{history.oldestSeq} to #{history.seq}
          </p>
          <ul class="messages" aria-label="History">
            {history.items.map((m) => (
              <Message m={m} />
            ))}
          </ul>
          {history.nextCursor && (
            <button type="button" class="secondary" onClick={() => void loadHistory(history.nextCursor ?? undefined)}>
              More
            </button>
          )}
        </div>
      )}
    </section>
  );
}

export function RoomsPage() {
  const [name, setName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const join = (event: Event) => {
    event.preventDefault();
    const value = String(new FormData(event.target as HTMLFormElement).get("room")).trim();
    if (!ROOM_NAME_PATTERN.test(value)) {
      setError("Room names are lower-case letters, digits and . _ : - (up to 64), starting with a letter or digit.");
      return;
    }
    setError(null);
    setName(value);
  };
  return (
    <div>
      <h1>Rooms</h1>
      <form class="card row" onSubmit={join}>
        <label>
          Room <input name="room" required placeholder="lobby" />
        </label>
        <button type="submit">Join</button>
        {error && <span class="error">{error}</span>}
      </form>
      {name && <Room key={name} name={name} onLeave={() => setName(null)} />}
    </div>
  );
}
