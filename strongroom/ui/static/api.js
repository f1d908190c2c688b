// The UI's only way to the server: the public HTTP API (/v1, /secrets/v1) on this origin.

const TOKEN_KEY = 'strongroom.token';

/** The token lives in this tab's sessionStorage: gone when the tab closes, never in a cookie. */
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const listeners = { sealed: [] };

/** Called whenever an answer says the server is sealed (503), so the page can close at once. */
export function onSealed(callback) { listeners.sealed.push(callback); }

async function request(method, url, body, headers = {}) {
  const options = { method, headers: { ...headers }, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(url, options);
  } catch {
    throw new ApiError(0, 'The server cannot be reached.');
  }
  const text = await answer.text();
  let document = null;
  if (text) {
    try { document = JSON.parse(text); } catch { document = { text }; }
  }
  if (!answer.ok) {
    if (answer.status === 503) listeners.sealed.forEach((callback) => callback());
    const messages = document && Array.isArray(document.errors) ? document.errors.filter(Boolean) : [];
    throw new ApiError(answer.status, messages.join('; ') || defaultMessage(answer.status));
  }
  return { document: document || {}, date: answer.headers.get('date') };
}

function defaultMessage(status) {
  return {
    400: 'The server refused the request (400).',
    403: 'Permission denied: this token may not do that.',
    404: 'Not found.',
    503: 'Strongroom is sealed.',
  }[status] || `The server answered ${status}.`;
}

function tokenHeaders(token) {
  const value = token === undefined ? session.token : token;
  return value ? { 'X-Vault-Token': value } : {};
}

function path(parts) {
  return parts.split('/').map(encodeURIComponent).join('/');
}

/** A call to the Vault API below /v1/; `logical` is the path as Vault names it (`secret/data/app`). */
export async function v1(method, logical, body, { token, query } = {}) {
  const url = `/v1/${path(logical)}${query ? `?${new URLSearchParams(query)}` : ''}`;
  const { document } = await request(method, url, body, tokenHeaders(token));
  return document;
}

/** The keys of a LIST (as GET ?list=true); an empty folder (404) has none. */
export async function v1List(logical) {
  try {
    const folder = logical.replace(/\/+$/, '');
    const document = await v1('GET', `${folder}/`, undefined, { query: { list: 'true' } });
    return (document.data && document.data.keys) || [];
  } catch (error) {
    if (error.status === 404) return [];
    throw error;
  }
}

export async function sealStatus() {
  const { document, date } = await request('GET', '/v1/sys/seal-status');
  return { ...document, serverDate: date ? Date.parse(date) : Date.now() };
}

/** The DC/OS Secrets API, store `default`. */
export async function dcos(method, relative, body) {
  // JSON only: a binary secret then answers 406, and the page says so instead of reading bytes as text
  const headers = { Accept: 'application/json', ...(session.token ? { Authorization: `token=${session.token}` } : {}) };
  const { document } = await request(method, `/secrets/v1/${relative}`, body, headers);
  return document;
}

export function dcosPath(secretPath) { return path(secretPath); }
