// Tokens: create (shown once), look up, revoke; by the token itself or by its accessor.

import { v1 } from '../api.js';
import { confirmAction, field, form, h, table } from '../dom.js';
import { hiddenValue } from './values.js';

function list(input) {
  return input.value.split(',').map((item) => item.trim()).filter(Boolean);
}

function choice(label) {
  return field(label, h('select', {}, h('option', { value: 'token' }, 'Token'), h('option', { value: 'accessor' }, 'Accessor')));
}

function describe(data) {
  const shown = ['display_name', 'accessor', 'policies', 'ttl', 'expire_time', 'creation_time', 'num_uses', 'orphan', 'renewable', 'type', 'path', 'meta'];
  const text = (value) => {
    if (value === null || value === '') return '—';
    if (Array.isArray(value)) return value.join(', ');
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  return table(['Field', 'Value'], shown.filter((key) => key in data).map((key) => [key, text(data[key])]), 'Token');
}

export async function tokensPage(rest, query, page) {
  const policies = h('input', { type: 'text', value: 'default', spellcheck: 'false' });
  const ttl = h('input', { type: 'text', value: '1h', spellcheck: 'false' });
  const displayName = h('input', { type: 'text', spellcheck: 'false' });
  const orphan = h('input', { type: 'checkbox' });
  const created = h('div', { 'aria-live': 'polite' });
  const createForm = form({ class: 'card' }, [
    h('h2', {}, 'Create a token'),
    field('Policies', policies, 'Comma-separated, e.g. default, app-read'),
    field('TTL', ttl, 'A duration such as 30m, 24h'),
    field('Display name (optional)', displayName),
    h('div', { class: 'field checkbox' }, h('label', {}, orphan, ' Orphan (not revoked with this token; needs sudo)')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create token')),
    created,
  ], async () => {
    created.replaceChildren();
    const answer = await v1('POST', orphan.checked ? 'auth/token/create-orphan' : 'auth/token/create', {
      policies: list(policies), ttl: ttl.value.trim() || undefined, display_name: displayName.value.trim() || undefined,
    });
    created.replaceChildren(h('p', { class: 'warning' }, 'The new token is shown only now.'),
      table(['Field', 'Value'], [
        ['Token', hiddenValue('new token', answer.auth.client_token)],
        ['Accessor', answer.auth.accessor],
        ['Policies', answer.auth.policies.join(', ')],
        ['TTL (seconds)', String(answer.auth.lease_duration)],
      ]));
  });

  const lookupValue = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const lookupKind = choice('Look up by');
  const found = h('div', {});
  const lookupForm = form({ class: 'card' }, [
    h('h2', {}, 'Look up a token'),
    lookupKind,
    field('Token or accessor', lookupValue),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Look up')),
    found,
  ], async () => {
    found.replaceChildren();
    const value = lookupValue.value.trim();
    if (!value) throw new Error('Enter a token or an accessor.');
    const byAccessor = lookupKind.querySelector('select').value === 'accessor';
    const answer = await v1('POST', byAccessor ? 'auth/token/lookup-accessor' : 'auth/token/lookup', byAccessor ? { accessor: value } : { token: value });
    found.replaceChildren(describe(answer.data));
  });

  const revokeValue = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const revokeKind = choice('Revoke by');
  const revoked = h('p', { class: 'notice', role: 'status' });
  const revokeForm = form({ class: 'card' }, [
    h('h2', {}, 'Revoke a token'),
    revokeKind,
    field('Token or accessor to revoke', revokeValue, 'Its child tokens are revoked with it.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Revoke')),
    revoked,
  ], async () => {
    revoked.textContent = '';
    const value = revokeValue.value.trim();
    if (!value) throw new Error('Enter a token or an accessor.');
    if (!(await confirmAction('Revoke this token?', 'It and its children stop working at once.', 'Revoke'))) return;
    const byAccessor = revokeKind.querySelector('select').value === 'accessor';
    await v1('POST', byAccessor ? 'auth/token/revoke-accessor' : 'auth/token/revoke', byAccessor ? { accessor: value } : { token: value });
    revokeValue.value = '';
    revoked.textContent = 'Revoked.';
  });
  return h('section', {}, h('h1', { tabindex: -1 }, 'Tokens'), createForm, lookupForm, revokeForm);
}
