// The console: sign-in, then one page per feature, chosen by the URL's hash (#/settings) so the
// static files need no server-side routing on any runtime.
import { render, useEffect, useState } from "hono/jsx/dom";
import type { User } from "../client/index.ts";
import { client, describeError } from "./api.ts";
import { AssetsPage } from "./pages/assets.tsx";
import { HealthPage } from "./pages/health.tsx";
import { RoomsPage } from "./pages/rooms.tsx";
import { SettingsPage } from "./pages/settings.tsx";
import { UsersPage } from "./pages/users.tsx";

const PAGES = [
  { path: "users", name: "Users", Page: UsersPage },
  { path: "settings", name: "Settings", Page: SettingsPage },
  { path: "assets", name: "Assets", Page: AssetsPage },
  { path: "rooms", name: "Rooms", Page: RoomsPage },
  { path: "health", name: "Health", Page: HealthPage },
] as const;

const currentPath = () => location.hash.replace(/^#\/?/, "") || "settings";

function SignIn() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await client.auth.signIn({ email: String(form.get("email")), password: String(form.get("password")) });
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="signin" onSubmit={submit}>
      <h1>Sign in to the console</h1>
      <label>
        Email
        <input name="email" type="email" autocomplete="username" required />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" required />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Sign in
      </button>
      <p class="muted">
        Most pages need an admin account (<code>npm run db:seed</code>). API reference: <a href="/docs">/docs</a>.
      </p>
    </form>
  );
}

function App() {
  const [user, setUser] = useState<User | null>(client.auth.user);
  const [path, setPath] = useState(currentPath());
  useEffect(() => client.auth.onChange((next) => setUser(next)), []);
  useEffect(() => {
    const onHash = () => setPath(currentPath());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  if (!user) return <SignIn />;
  const page = PAGES.find((p) => p.path === path) ?? PAGES[1];
  const { Page } = page;
  return (
    <div>
      <header>
        <strong>edge-backend</strong>
        <nav aria-label="Console">
          {PAGES.map((p) => (
            <a href={`#/${p.path}`} aria-current={p === page ? "page" : undefined}>
              {p.name}
            </a>
          ))}
          <a href="/docs">API docs</a>
        </nav>
        <span>{user.email}</span>
        <button type="button" onClick={() => void client.auth.signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <Page />
      </main>
    </div>
  );
}

const root = document.getElementById("root");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
