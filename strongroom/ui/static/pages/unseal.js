// Sealed: each key holder enters a share; everyone's progress shows here live (main.js polls seal-status).

import { v1 } from '../api.js';
import { field, form, h } from '../dom.js';

/** How long the unfinished attempt lives; `skew`: the server's clock minus ours (from the Date header). */
function remaining(status, skew) {
  if (!status.progress || !status.progress_expires_at) return '';
  const left = Math.max(0, Math.round((Date.parse(status.progress_expires_at) - (Date.now() + skew)) / 1000));
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, '0');
  return `The keys entered so far are forgotten in ${minutes}:${seconds} unless the threshold is reached.`;
}

export function unsealPage({ status, refresh }) {
  const recovery = Boolean(status.recovery_seal);
  const keyName = recovery ? 'Recovery key' : 'Unseal key';
  let current = status;
  let skew = 0;
  const title = h('h1', { tabindex: -1 }, recovery ? 'Unseal with recovery keys' : 'Strongroom is sealed');
  const reason = h('p', { class: 'reason' });
  const progressText = h('p', { class: 'progress-text', role: 'status', 'aria-label': 'Unseal progress' });
  const meter = h('progress', { 'aria-hidden': 'true' });
  const expiry = h('p', { class: 'expiry' });
  const key = h('input', {
    type: 'password', name: 'key', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
  });
  const reset = h('button', { type: 'button' }, 'Reset');

  const unsealForm = form({ class: 'unseal' }, [
    field(keyName, key, 'One share, hex or base64, as `operator init` gave it. It is sent to this server only.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Unseal'), reset),
  ], async () => {
    const share = key.value.trim();
    if (!share) throw new Error(`Enter your ${keyName.toLowerCase()} first.`);
    try {
      update(await v1('PUT', 'sys/unseal', { key: share }, { token: '' }));
    } finally {
      key.value = '';
      key.focus();
    }
    refresh();
  });

  reset.addEventListener('click', async () => {
    unsealForm.alert.show('');
    try {
      update(await v1('PUT', 'sys/unseal', { reset: true }, { token: '' }));
    } catch (error) {
      unsealForm.alert.show(error.message);
    }
  });

  function update(next) {
    current = { ...current, ...next };
    if (next.serverDate) skew = next.serverDate - Date.now();
    const total = current.t || 0;
    progressText.textContent = `${current.progress} of ${total}`;
    meter.max = total || 1;
    meter.value = current.progress;
    reset.disabled = !current.progress;
    expiry.textContent = remaining(current, skew);
    reason.textContent = current.seal_reason ? `Sealed: ${current.seal_reason}.` : '';
    reason.hidden = !current.seal_reason;
  }

  const ticker = setInterval(() => { expiry.textContent = remaining(current, skew); }, 1000);
  update(status);

  const element = h('section', { class: 'page narrow' },
    title,
    h('p', {}, recovery
      ? `This server's seal device is in place, but an operator sealed it: ${current.t} recovery keys unseal it again.`
      : `Nothing can be read until ${current.t} key holders have entered their unseal keys, from this page or any other.`),
    reason,
    h('div', { class: 'progress' }, h('span', {}, 'Keys entered: '), progressText, meter),
    expiry,
    unsealForm);

  return {
    element,
    focus: key,
    update,
    close: () => clearInterval(ticker),
  };
}
