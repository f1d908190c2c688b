// The DC/OS Secrets API's view of the store `default` (/secrets/v1): the same secrets as KV v2 at secret/.

import { dcos, dcosPath } from '../api.js';
import { confirmAction, field, form, h, table } from '../dom.js';
import { hashFor } from '../routes.js';
import { hiddenValue } from './values.js';

export async function dcosPage(rest, query, page) {
  return rest && !rest.endsWith('/') ? secretPage(rest, page) : listPage(rest, page);
}

async function listPage(folder, page) {
  let names = [];
  try {
    names = (await dcos('GET', `secret/default/${dcosPath(folder.replace(/\/$/, ''))}?list=true`)).array || [];
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const path = h('input', { type: 'text', spellcheck: 'false', autocapitalize: 'off' });
  const value = h('textarea', { rows: 3, spellcheck: 'false' });
  const description = h('input', { type: 'text' });
  const createForm = form({ class: 'card' }, [
    h('h2', {}, 'Create a secret'),
    field('Path', path, 'e.g. app/database/password'),
    field('Value', value),
    field('Description (optional)', description),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create')),
  ], async () => {
    const name = `${folder}${path.value.trim().replace(/^\/+/, '')}`;
    if (!name || name.endsWith('/')) throw new Error('Enter the secret\'s path (not ending in /).');
    if (!value.value) throw new Error('Enter a value.');
    await dcos('PUT', `secret/default/${dcosPath(name)}`, { value: value.value, description: description.value || undefined });
    page.go(hashFor('dcos', name));
  });
  return h('section', {},
    h('h1', { tabindex: -1 }, `DC/OS secrets${folder ? `: ${folder}` : ''}`),
    h('p', {}, 'The DC/OS Secrets API (/secrets/v1, store "default") on the KV version 2 mount at secret/.'),
    names.length
      ? h('ul', { class: 'listing' }, names.map((name) => h('li', {}, h('a', { href: hashFor('dcos', folder + name) }, folder + name))))
      : h('p', {}, 'No secrets in this store yet.'),
    createForm);
}

async function secretPage(path, page) {
  let secret;
  try {
    secret = await dcos('GET', `secret/default/${dcosPath(path)}`);
  } catch (error) {
    if (error.status !== 406) throw error;
    secret = { binary: true };
  }
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete secret');
  remove.addEventListener('click', async () => {
    if (!(await confirmAction('Delete this secret?', `${path} and all its versions are removed.`, 'Delete'))) return;
    await dcos('DELETE', `secret/default/${dcosPath(path)}`);
    page.go('#/dcos');
  });
  return h('section', {},
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('ol', {}, h('li', {}, h('a', { href: '#/dcos' }, 'DC/OS secrets')))),
    h('h1', { tabindex: -1 }, path),
    secret.binary
      ? h('p', {}, 'A binary secret: read it with Accept: application/octet-stream.')
      : table(['Field', 'Value'], [
        ['Value', hiddenValue('value', secret.value)],
        ['Description', secret.description || '—'],
        ['Labels', (secret.labels || []).join(', ') || '—'],
        ['Author', secret.author || '—'],
        ['Created', secret.created || '—'],
      ]),
    h('div', { class: 'actions' }, remove));
}
