// The JSON API (/api/v1, docs/api.md). Every state-changing request sends
// the session's CSRF token in X-CSRF-Token; errors come back as
// {error: "..."} with a 4xx status and are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

const state = { csrf: sessionStorage.getItem('rd-csrf') || '', onUnauthorized: null };

export function setCsrf(token) {
  state.csrf = token || '';
  if (token) sessionStorage.setItem('rd-csrf', token);
  else sessionStorage.removeItem('rd-csrf');
}

export function onUnauthorized(fn) { state.onUnauthorized = fn; }

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  let payload;
  if (body instanceof FormData || body instanceof Blob) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (opts.headers) Object.assign(headers, opts.headers);
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = state.csrf;
  const res = await fetch('/api/v1' + path, {
    method, headers, body: payload, credentials: 'same-origin', cache: 'no-store',
    keepalive: !!opts.keepalive,
  });
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.noRedirect && state.onUnauthorized) state.onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const put = (p, b) => api('PUT', p, b);
export const patch = (p, b) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

// A list endpoint may answer with an array or with {items|tickets|...: []}.
export function rows(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (!data) return [];
  for (const k of keys) if (Array.isArray(data[k])) return data[k];
  for (const v of Object.values(data)) if (Array.isArray(v)) return v;
  return [];
}
