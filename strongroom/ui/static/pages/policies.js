// ACL policies: list, read, write HCL (the server's validation errors shown), delete.

import { v1, v1List } from '../api.js';
import { confirmAction, field, form, h } from '../dom.js';
import { hashFor } from '../routes.js';

const FIXED = new Set(['root']);

export async function policiesPage(rest, query, page) {
  if (rest) return editor(rest, page);
  const names = await v1List('sys/policies/acl');
  const name = h('input', { type: 'text', spellcheck: 'false', autocapitalize: 'off' });
  const text = h('textarea', { rows: 8, spellcheck: 'false', class: 'code' });
  text.value = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n';
  const createForm = form({ class: 'card' }, [
    h('h2', {}, 'New policy'),
    field('Name', name),
    field('Policy (HCL)', text),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create policy')),
  ], async () => {
    const policyName = name.value.trim();
    if (!policyName) throw new Error('Enter a name for the policy.');
    if (!text.value.trim()) throw new Error('A policy needs at least one path rule.');
    await v1('PUT', `sys/policies/acl/${policyName}`, { policy: text.value });
    page.go(hashFor('policies', policyName));
  });
  return h('section', {},
    h('h1', { tabindex: -1 }, 'Policies'),
    h('ul', { class: 'listing' }, names.map((policy) => h('li', {}, h('a', { href: hashFor('policies', policy) }, policy)))),
    createForm);
}

async function editor(name, page) {
  const answer = await v1('GET', `sys/policies/acl/${name}`);
  const text = h('textarea', { rows: 16, spellcheck: 'false', class: 'code', readonly: FIXED.has(name) });
  text.value = answer.data.policy;
  const saved = h('p', { class: 'notice', role: 'status' });
  const editForm = form({}, [
    field('Policy (HCL)', text),
    saved,
    FIXED.has(name) ? h('p', {}, 'The root policy cannot be changed.') : h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Save policy'),
      name === 'default' ? null : h('button', {
        type: 'button', class: 'danger',
        onclick: async () => {
          if (!(await confirmAction(`Delete the policy ${name}?`, 'Tokens that carry it lose what it grants.', 'Delete'))) return;
          await v1('DELETE', `sys/policies/acl/${name}`);
          page.go('#/policies');
        },
      }, 'Delete policy')),
  ], async () => {
    saved.textContent = '';
    // The text stays as typed when the server refuses it, so a syntax error can be fixed in place.
    await v1('PUT', `sys/policies/acl/${name}`, { policy: text.value });
    saved.textContent = `Policy ${name} saved.`;
  });
  return h('section', {},
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('ol', {}, h('li', {}, h('a', { href: '#/policies' }, 'Policies')))),
    h('h1', { tabindex: -1 }, `Policy ${name}`),
    editForm);
}
