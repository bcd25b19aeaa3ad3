// The one door to the server: PostgREST's /rpc/* through Caddy on the same origin (no CORS).
// The JWT lives in this module's memory only (never localStorage or a cookie): a reload or a
// closed tab signs the user out, and no script injected later can read it from storage.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public hint: string | null = null,
  ) {
    super(message);
  }
}

let token: string | null = null;
let onUnauthorized: () => void = () => {};

export function setToken(t: string | null): void {
  token = t;
}
export function hasToken(): boolean {
  return token !== null;
}
// Called on any 401 from the server: the session is gone, back to the sign-in page.
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

type Params = Record<string, string | number | boolean | null | undefined>;

function query(params: Params | undefined): string {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function send(path: string, init: RequestInit, authenticated = true): Promise<unknown> {
  const headers = new Headers(init.headers);
  if (authenticated && token) headers.set('Authorization', 'Bearer ' + token);
  headers.set('Accept', 'application/json');
  const res = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  const body = await parse(res);
  if (!res.ok) {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const err = new ApiError(
      res.status,
      String(b.code ?? 'HTTP' + res.status),
      String(b.message ?? b.title ?? res.statusText ?? 'request failed'),
      b.hint ? String(b.hint) : null,
    );
    if (res.status === 401 && authenticated) {
      token = null;
      onUnauthorized();
    }
    throw err;
  }
  return body;
}

// GET /rpc/<fn>?params: the STABLE readers.
export function rpcGet<T>(fn: string, params?: Params): Promise<T> {
  return send('/rpc/' + fn + query(params), { method: 'GET' }) as Promise<T>;
}

// POST /rpc/<fn> with a JSON body: writers and the DP statistics (they charge the budget).
export function rpcPost<T>(fn: string, body: unknown): Promise<T> {
  return send('/rpc/' + fn, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  }) as Promise<T>;
}

// Any same-origin path (the seeds' REST paths, /prometheus/...), JWT attached.
export function getPath<T>(path: string, params?: Params): Promise<T> {
  return send(path + query(params), { method: 'GET' }) as Promise<T>;
}

export function postRaw<T>(path: string, body: BodyInit, headers: Record<string, string>): Promise<T> {
  return send(path, { method: 'POST', body, headers }) as Promise<T>;
}

export interface LoginAnswer {
  token: string;
  role: string;
  username: string;
  expires_at: string;
  capabilities: string[];
}

export function login(username: string, password: string): Promise<LoginAnswer> {
  return send(
    '/rpc/login',
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    },
    false,
  ) as Promise<LoginAnswer>;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return 'Not allowed for your role (' + e.message + ')';
    return e.message + (e.hint ? ' — ' + e.hint : '');
  }
  return e instanceof Error ? e.message : String(e);
}
