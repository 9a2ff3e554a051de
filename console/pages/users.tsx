// Users (admin): the accounts, newest first, searched by email; roles changed; an account disabled,
// enabled, or signed out everywhere (DELETE /v1/users/:id/sessions: every session revoked, its
// sockets closed, the account still enabled).
import { useEffect, useState } from "hono/jsx/dom";
import { ApiError } from "../../client/index.ts";
import { call, describeError } from "../api.ts";

interface Account {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  createdAt: string;
  disabled?: boolean;
}
interface Page {
  items: Account[];
  nextCursor: string | null;
}

function UserRow(props: { user: Account; onChanged: (user: Account) => void; onError: (text: string) => void }) {
  const { user } = props;
  const [roles, setRoles] = useState(user.roles.join(", "));
  const [note, setNote] = useState<string | null>(null);
  const saveRoles = async () => {
    try {
      const list = roles
        .split(",")
        .map((r) => r.trim())
        .filter(Boolean);
      const updated = await call<Account>(`/v1/users/${user.id}/roles`, { method: "PUT", json: { roles: list } });
      props.onChanged({ ...user, ...updated });
      setNote("Roles saved");
    } catch (e) {
      props.onError(describeError(e));
    }
  };
  const setDisabled = (disabled: boolean) =>
    call<Account>(`/v1/users/${user.id}/disabled`, { method: "PUT", json: { disabled } });
  const signOutEverywhere = async () => {
    try {
      await call<null>(`/v1/users/${user.id}/sessions`, { method: "DELETE" });
      setNote("Signed out everywhere");
    } catch (e) {
      props.onError(describeError(e));
    }
  };
  const toggleDisabled = async () => {
    try {
      const updated = await setDisabled(!user.disabled);
      props.onChanged({ ...user, ...updated, disabled: !user.disabled });
    } catch (e) {
      props.onError(describeError(e));
    }
  };
  return (
    <tr data-user={user.email}>
      <td>{user.email}</td>
      <td>{user.name ?? ""}</td>
      <td>
        <input
          aria-label={`Roles of ${user.email}`}
          value={roles}
          onInput={(e: Event) => setRoles((e.target as HTMLInputElement).value)}
        />{" "}
        <button type="button" class="secondary" onClick={saveRoles}>
          Save roles
        </button>
      </td>
      <td>{user.disabled ? "disabled" : "active"}</td>
      <td class="row">
        <button
          type="button"
          class="secondary"
          onClick={signOutEverywhere}
          title="Revokes every session of this account"
        >
          Sign out everywhere
        </button>
        <button type="button" class="danger" onClick={toggleDisabled}>
          {user.disabled ? "Enable" : "Disable"}
        </button>
        {note && <span class="ok">{note}</span>}
      </td>
    </tr>
  );
}

/** Without the user list (a service before GET /v1/users), roles can still be set by account id. */
function RolesById() {
  const [note, setNote] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const roles = String(form.get("roles"))
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean);
    try {
      const user = await call<Account>(`/v1/users/${encodeURIComponent(String(form.get("id")))}/roles`, {
        method: "PUT",
        json: { roles },
      });
      setNote(`${user.email}: ${user.roles.join(", ")}`);
    } catch (e) {
      setNote(describeError(e));
    }
  };
  return (
    <form class="card row" aria-label="Roles by account id" onSubmit={submit}>
      <label>
        Account id <input name="id" required />
      </label>
      <label>
        Roles <input name="roles" placeholder="user, admin" />
      </label>
      <button type="submit">Set roles</button>
      {note && <pre>{note}</pre>}
    </form>
  );
}

export function UsersPage() {
  const [page, setPage] = useState<Page | null>(null);
  const [query, setQuery] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [noList, setNoList] = useState(false);
  const load = async (q: string, cursor?: string) => {
    try {
      const params = new URLSearchParams({ limit: "50", ...(q && { q }), ...(cursor && { cursor }) });
      const next = await call<Page>(`/v1/users?${params}`);
      setPage((old) => (cursor && old ? { ...next, items: [...old.items, ...next.items] } : next));
      setError(null);
    } catch (e) {
      const missing = e instanceof ApiError && e.status === 404;
      setNoList(missing);
      setError(
        missing
          ? "This service has no user list (GET /v1/users): only role changes by id are available."
          : describeError(e),
      );
    }
  };
  useEffect(() => void load(""), []);
  const search = (event: Event) => {
    event.preventDefault();
    void load(query);
  };
  const replace = (user: Account) =>
    setPage((old) => old && { ...old, items: old.items.map((u) => (u.id === user.id ? user : u)) });
  return (
    <div>
      <h1>Users</h1>
      <form class="card row" aria-label="Search users" onSubmit={search}>
        <label>
          Search by email <input value={query} onInput={(e: Event) => setQuery((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
      {page && (
        <table aria-label="Users">
          <thead>
            <tr>
              <th>Email</th>
              <th>Name</th>
              <th>Roles</th>
              <th>State</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((u) => (
              <UserRow key={u.id} user={u} onChanged={replace} onError={setError} />
            ))}
          </tbody>
        </table>
      )}
      {noList && <RolesById />}
      {page?.nextCursor && (
        <button type="button" class="secondary" onClick={() => void load(query, page.nextCursor ?? undefined)}>
          More
        </button>
      )}
    </div>
  );
}
