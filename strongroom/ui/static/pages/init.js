// Uninitialised: choose the shares and threshold, then see the keys and the root token once.

import { v1 } from '../api.js';
import { copyText, download, field, form, h } from '../dom.js';

function count(input, name) {
  const text = input.value.trim();
  if (!/^\d+$/.test(text)) throw new Error(`${name} must be a whole number.`);
  const value = Number(text);
  if (value < 1 || value > 255) throw new Error(`${name} must be between 1 and 255.`);
  return value;
}

function pgpKeys(textarea) {
  const keys = textarea.value.split(/\s*\n\s*/).map((line) => line.trim()).filter(Boolean);
  return keys.length ? keys : undefined;
}

export function initPage({ status, refresh }) {
  const recovery = Boolean(status.recovery_seal);
  const noun = recovery ? 'Recovery' : 'Key';
  const shares = h('input', { type: 'text', inputmode: 'numeric', value: '5', autocomplete: 'off' });
  const threshold = h('input', { type: 'text', inputmode: 'numeric', value: '3', autocomplete: 'off' });
  const pgp = h('textarea', { rows: 3, spellcheck: 'false' });
  let shown = null;
  const element = h('section', { class: 'page narrow' });
  const title = h('h1', { tabindex: -1 }, 'Initialise Strongroom');

  const initForm = form({ 'aria-labelledby': 'init-title' }, [
    h('p', {}, recovery
      ? 'This server unseals itself with its seal device. Recovery keys authorise quorum operations (and unsealing after an operator seals it); they are split among the key holders.'
      : 'The root key is split into key shares; the key threshold is how many of them unseal the server.'),
    field(`${noun} shares`, shares, 'How many people hold a share (1 to 255).'),
    field(`${noun} threshold`, threshold, 'How many shares unseal the server (at most the number of shares).'),
    field('PGP keys (optional)', pgp, 'One base64-encoded public key per line, one per share: each share is then encrypted to its holder.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Initialise')),
  ], async () => {
    const n = count(shares, `${noun} shares`);
    const t = count(threshold, `${noun} threshold`);
    if (t > n) throw new Error(`The ${noun.toLowerCase()} threshold (${t}) cannot be greater than the number of shares (${n}).`);
    if (n > 1 && t < 2) throw new Error(`With ${n} shares the threshold must be at least 2.`);
    const keys = pgpKeys(pgp);
    if (keys && keys.length !== n) throw new Error(`Give one PGP key per share: ${keys.length} keys for ${n} shares.`);
    const body = recovery
      ? { recovery_shares: n, recovery_threshold: t, recovery_pgp_keys: keys }
      : { secret_shares: n, secret_threshold: t, pgp_keys: keys };
    shown = await v1('PUT', 'sys/init', body, { token: '' });
    showResult(recovery);
  });
  initForm.id = 'init-form';
  title.id = 'init-title';
  element.append(title, initForm);

  function showResult() {
    const keys = (recovery ? shown.recovery_keys_base64 : shown.keys_base64) || shown.keys || [];
    const hexKeys = (recovery ? shown.recovery_keys : shown.keys) || [];
    const label = recovery ? 'Recovery key' : 'Unseal key';
    const heading = h('h1', { tabindex: -1 }, 'Strongroom is initialised');
    const copied = h('p', { class: 'notice', role: 'status' });
    const copyButton = (text, name, target) => h('button', {
      type: 'button',
      'aria-label': `Copy ${name}`,
      onclick: async () => {
        copied.textContent = (await copyText(text, target)) ? `${name} copied.` : `${name} selected: press Ctrl+C to copy.`;
      },
    }, 'Copy');
    const keyItems = keys.map((key, index) => {
      const code = h('code', { class: 'secret-text' }, key);
      return h('li', {}, h('span', { class: 'key-label' }, `${label} ${index + 1}`), code, copyButton(key, `${label.toLowerCase()} ${index + 1}`, code));
    });
    const tokenCode = h('code', { class: 'secret-text' }, shown.root_token);
    element.className = 'page wide';
    element.replaceChildren(
      heading,
      h('p', { class: 'warning', role: 'note' },
        `These ${keys.length} ${label.toLowerCase()}s and the root token are shown only this once. `
        + 'Give each key to its holder now and keep the root token safe: Strongroom cannot show them again, '
        + 'and without enough keys nobody can unseal it.'),
      h('h2', {}, `${label}s`),
      h('ol', { class: 'keys' }, keyItems),
      h('h2', {}, 'Root token'),
      h('p', { class: 'key-row' }, tokenCode, copyButton(shown.root_token, 'root token', tokenCode)),
      copied,
      h('div', { class: 'actions' },
        h('button', {
          type: 'button',
          onclick: () => download('strongroom-init.json', JSON.stringify({
            keys: hexKeys, keys_base64: keys, root_token: shown.root_token,
          }, null, 2)),
        }, 'Download keys as JSON'),
        h('button', {
          type: 'button',
          class: 'primary',
          onclick: () => { shown = null; refresh(); },
        }, recovery ? 'Continue' : 'Continue to unseal')),
    );
    heading.focus();
  }

  return {
    element,
    focus: title,
    holds: () => shown !== null,
  };
}
