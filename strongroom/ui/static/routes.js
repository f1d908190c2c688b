// The pages' addresses: `#/<section>/<path>?<query>`, each path segment URI-encoded.

/** `#/secrets/secret/app` → section 'secrets', rest 'secret/app' (segments decoded), and the query after `?`. */
export function currentRoute() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const segments = path.split('/').map((segment) => {
    try { return decodeURIComponent(segment); } catch { return segment; }
  });
  return { section: segments[0] || 'secrets', rest: segments.slice(1).join('/'), query: new URLSearchParams(query) };
}

export function hashFor(section, rest = '', query = '') {
  const encoded = rest.split('/').map(encodeURIComponent).join('/');
  return `#/${section}${rest ? `/${encoded}` : ''}${query ? `?${query}` : ''}`;
}
