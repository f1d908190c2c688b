// Secrets engines and auth methods: list, enable, disable.

import { v1 } from '../api.js';
import { confirmAction, field, form, h, table } from '../dom.js';

const ENGINES = [['kv-v2', 'KV version 2'], ['kv-v1', 'KV version 1'], ['transit', 'Transit']];
const AUTH_METHODS = [['userpass', 'Username and password'], ['approle', 'AppRole']];
const BUILTIN = new Set(['sys/', 'cubbyhole/', 'identity/', 'token/']);

function mountsOf(answer) {
  const data = answer.data && Object.keys(answer.data).length ? answer.data : answer;
  return Object.entries(data).filter(([, mount]) => mount && typeof mount === 'object' && mount.type);
}

function cleanPath(input) {
  const path = input.value.trim().replace(/^\/+|\/+$/g, '');
  if (!path) throw new Error('Enter a path.');
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(path)) throw new Error('A path may hold letters, digits, ".", "_", "-" and "/".');
  return path;
}

function section(kind, answer, choices, page) {
  const api = kind === 'auth' ? 'sys/auth' : 'sys/mounts';
  const noun = kind === 'auth' ? 'auth method' : 'secrets engine';
  const rows = mountsOf(answer).map(([path, mount]) => [
    h('code', {}, path),
    mount.type + (mount.options && mount.options.version ? ` (version ${mount.options.version})` : ''),
    mount.description || '',
    BUILTIN.has(path) ? '' : h('button', {
      type: 'button', class: 'small danger', 'aria-label': `Disable ${path}`,
      onclick: async () => {
        if (!(await confirmAction(`Disable ${path}?`, `Everything stored under ${path} is deleted with it.`, 'Disable'))) return;
        await v1('DELETE', `${api}/${path.replace(/\/$/, '')}`);
        page.reload();
      },
    }, 'Disable'),
  ]);
  const type = h('select', {}, choices.map(([value, label]) => h('option', { value }, label)));
  const path = h('input', { type: 'text', spellcheck: 'false', autocapitalize: 'off' });
  const description = h('input', { type: 'text' });
  const enableForm = form({ class: 'card' }, [
    h('h3', {}, `Enable ${kind === 'auth' ? 'an' : 'a'} ${noun}`),
    field('Type', type),
    field('Path', path, kind === 'auth' ? 'e.g. userpass' : 'e.g. team-a'),
    field('Description (optional)', description),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Enable')),
  ], async () => {
    const at = cleanPath(path);
    const [engine, version] = type.value.split('-v');
    const body = { type: engine, description: description.value };
    if (version) body.options = { version };
    await v1('POST', `${api}/${at}`, body);
    page.reload();
  });
  return h('div', {},
    h('h2', {}, kind === 'auth' ? 'Auth methods' : 'Secrets engines'),
    table(['Path', 'Type', 'Description', ''], rows),
    enableForm);
}

export async function mountsPage(rest, query, page) {
  const [mounts, auth] = await Promise.all([v1('GET', 'sys/mounts'), v1('GET', 'sys/auth')]);
  return h('section', {},
    h('h1', { tabindex: -1 }, 'Mounts'),
    section('secrets', mounts, ENGINES, page),
    section('auth', auth, AUTH_METHODS, page));
}
