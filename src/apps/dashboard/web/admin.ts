/**
 * The admin token and admin actions: the token comes from the URL fragment (`#token=…`, as
 * `mcml up` prints it) or a prompt, is kept for the tab, and is sent as a bearer header.
 */

const TOKEN_KEY = 'mcml-admin-token';

/** Takes the token from the fragment once, keeps it for the tab, and hides it from the URL. */
export function initialToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m?.[1]) {
    const token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function adminToken(): string | null {
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) return stored;
  const asked = prompt('Admin token (mcml up prints it, or see .mcml/admin-token)');
  if (asked) sessionStorage.setItem(TOKEN_KEY, asked.trim());
  return asked?.trim() || null;
}

export async function adminPost(path: string, body?: unknown): Promise<unknown> {
  const token = adminToken();
  if (!token) throw new Error('an admin token is needed for this action');
  const res = await fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const payload = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Error('the admin token was refused; reload with the URL mcml up printed');
  }
  if (!res.ok) throw new Error(payload.error ?? `HTTP ${res.status}`);
  return payload;
}
