// The KV browser (v1 and v2): mounts, folders, secrets with hidden values, versions and metadata.

import { v1, v1List } from '../api.js';
import { confirmAction, field, form, h, table } from '../dom.js';
import { hashFor } from '../routes.js';
import { hiddenValue, keyValueEditor } from './values.js';
import { kvVersionsSection } from './kv_versions.js';

async function kvMounts() {
  const answer = await v1('GET', 'sys/internal/ui/mounts');
  const secret = (answer.data && answer.data.secret) || {};
  return Object.entries(secret)
    .filter(([, mount]) => mount.type === 'kv' || mount.type === 'cubbyhole')
    .map(([path, mount]) => ({ path, type: mount.type, version: (mount.options && mount.options.version) === '2' ? 2 : 1 }));
}

function breadcrumbs(mount, inner) {
  const parts = inner.split('/').filter(Boolean);
  const crumbs = [h('li', {}, h('a', { href: '#/secrets' }, 'Secrets')),
    h('li', {}, h('a', { href: hashFor('secrets', mount.path) }, mount.path))];
  let sofar = '';
  parts.forEach((part, index) => {
    sofar += index < parts.length - 1 || inner.endsWith('/') ? `${part}/` : part;
    crumbs.push(h('li', {}, h('a', { href: hashFor('secrets', mount.path + sofar) }, part)));
  });
  return h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('ol', {}, crumbs));
}

export async function kvPage(rest, query, page) {
  const mounts = await kvMounts();
  if (!rest) {
    return h('section', {},
      h('h1', { tabindex: -1 }, 'Secrets'),
      mounts.length
        ? table(['Mount', 'Type'], mounts.map((mount) => [
          h('a', { href: hashFor('secrets', mount.path) }, mount.path),
          mount.type === 'kv' ? `KV version ${mount.version}` : mount.type,
        ]), 'Key/value mounts this token can see')
        : h('p', {}, 'No key/value mount is visible to this token. Enable one under Mounts.'));
  }
  const mount = mounts
    .filter((candidate) => `${rest}/`.startsWith(candidate.path))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!mount) throw new Error(`No key/value mount at ${rest}.`);
  const inner = rest.slice(mount.path.length);
  if (!inner || inner.endsWith('/')) return folderPage(mount, inner, page);
  return secretPage(mount, inner, query, page);
}

async function folderPage(mount, folder, page) {
  const keys = await v1List(mount.version === 2 ? `${mount.path}metadata/${folder}` : `${mount.path}${folder}`);
  const editor = keyValueEditor();
  const path = h('input', { type: 'text', spellcheck: 'false', autocapitalize: 'off' });
  const createForm = form({ class: 'card', hidden: true }, [
    h('h2', {}, 'Create a secret'),
    field('Path', path, `Below ${mount.path}${folder}, e.g. app/database`),
    editor.element,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save secret')),
  ], async () => {
    const name = path.value.trim().replace(/^\/+/, '');
    if (!name || name.endsWith('/')) throw new Error('Enter the secret\'s path (not ending in /).');
    const data = editor.read();
    const full = `${folder}${name}`;
    if (mount.version === 2) await v1('POST', `${mount.path}data/${full}`, { data, options: { cas: 0 } }).catch(explainCas);
    else await v1('PUT', `${mount.path}${full}`, data);
    page.go(hashFor('secrets', mount.path + full));
  });
  const openCreate = h('button', { type: 'button', class: 'primary' }, 'Create secret');
  openCreate.addEventListener('click', () => {
    createForm.hidden = false;
    path.focus();
  });
  return h('section', {},
    breadcrumbs(mount, folder),
    h('h1', { tabindex: -1 }, `${mount.path}${folder}`),
    h('div', { class: 'actions' }, openCreate),
    createForm,
    keys.length
      ? h('ul', { class: 'listing' }, keys.map((key) => h('li', {},
        h('a', { href: hashFor('secrets', mount.path + folder + key) }, key))))
      : h('p', {}, 'Nothing here yet.'));
}

function explainCas(error) {
  if (/check-and-set|cas/i.test(error.message)) throw new Error(`A secret already exists at this path (${error.message}). Open it to write a new version.`);
  throw error;
}

async function secretPage(mount, path, query, page) {
  const version = query.get('version');
  const title = h('h1', { tabindex: -1 }, `${mount.path}${path}`);
  if (mount.version === 1) {
    const answer = await v1('GET', `${mount.path}${path}`);
    return h('section', {}, breadcrumbs(mount, path), title,
      dataTable(answer.data || {}),
      writeSection(mount, path, answer.data || {}, page),
      h('div', { class: 'actions' }, h('button', {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          if (!(await confirmAction('Delete this secret?', `${mount.path}${path} is removed for good (KV version 1 keeps no versions).`, 'Delete'))) return;
          await v1('DELETE', `${mount.path}${path}`);
          page.go(hashFor('secrets', mount.path + path.replace(/[^/]*$/, '')));
        },
      }, 'Delete secret')));
  }
  let answer = null;
  let readError = null;
  try {
    answer = await v1('GET', `${mount.path}data/${path}`, undefined, version ? { query: { version } } : {});
  } catch (error) {
    if (error.status !== 404) throw error;
    readError = error;
  }
  let metadata = null;
  try {
    metadata = (await v1('GET', `${mount.path}metadata/${path}`)).data;
  } catch (error) {
    if (error.status !== 403 && error.status !== 404) throw error;
  }
  if (!answer && !metadata) throw readError || new Error('No such secret.');
  const data = answer && answer.data ? answer.data.data : null;
  const shownVersion = answer && answer.data ? answer.data.metadata.version : Number(version) || (metadata && metadata.current_version);
  return h('section', {}, breadcrumbs(mount, path), title,
    h('p', { class: 'subtitle' }, `KV version 2 · version ${shownVersion}${version ? '' : ' (current)'}`),
    data ? dataTable(data) : h('p', { class: 'notice' }, `Version ${shownVersion} was deleted or destroyed: it has no data to show.`),
    writeSection(mount, path, data || {}, page, metadata),
    metadata ? kvVersionsSection(mount, path, metadata, page) : null);
}

function dataTable(data) {
  const entries = Object.entries(data);
  if (!entries.length) return h('p', {}, 'This secret has no keys.');
  return table(['Key', 'Value'], entries.map(([key, value]) => [h('code', {}, key), hiddenValue(key, value)]), 'Data (values hidden until revealed)');
}

function writeSection(mount, path, current, page, metadata) {
  const label = mount.version === 2 ? 'New version' : 'Edit secret';
  const open = h('button', { type: 'button' }, label);
  const holder = h('div', {});
  open.addEventListener('click', () => {
    const editor = keyValueEditor(current);
    const writeForm = form({ class: 'card' }, [
      h('h2', {}, label),
      editor.element,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, mount.version === 2 ? 'Save new version' : 'Save'),
        h('button', { type: 'button', onclick: () => holder.replaceChildren() }, 'Cancel')),
    ], async () => {
      const data = editor.read();
      if (mount.version === 2) {
        const options = metadata && metadata.cas_required ? { cas: metadata.current_version } : undefined;
        await v1('POST', `${mount.path}data/${path}`, { data, options });
        page.go(hashFor('secrets', mount.path + path));
      } else {
        await v1('PUT', `${mount.path}${path}`, data);
        page.reload();
      }
    });
    holder.replaceChildren(writeForm);
    writeForm.querySelector('input').focus();
  });
  return h('div', {}, h('div', { class: 'actions' }, open), holder);
}
