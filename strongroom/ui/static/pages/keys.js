// The barrier's encryption key: its term, when it was installed, and rotation.

import { v1 } from '../api.js';
import { confirmAction, h, readableTime } from '../dom.js';

export async function keysPage(rest, query, page) {
  const answer = await v1('GET', 'sys/key-status');
  const status = answer.data && answer.data.term ? answer.data : answer;
  const rotate = h('button', { type: 'button', class: 'primary' }, 'Rotate the encryption key');
  rotate.addEventListener('click', async () => {
    if (!(await confirmAction('Rotate the encryption key?', 'New writes are encrypted with a new key term; existing entries stay readable with the older terms.', 'Rotate'))) return;
    await v1('PUT', 'sys/rotate');
    page.reload();
  });
  return h('section', {},
    h('h1', { tabindex: -1 }, 'Encryption key'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Key term'), h('dd', {}, String(status.term)),
      h('dt', {}, 'Installed'), h('dd', {}, readableTime(status.install_time)),
      h('dt', {}, 'Encryptions with this term'), h('dd', {}, String(status.encryptions ?? '—'))),
    h('p', {}, 'Rotating adds a key term to the keyring. The unseal keys do not change (rekey them with the CLI: strongroom operator rekey).'),
    h('div', { class: 'actions' }, rotate));
}
