// The UI's state: what the server's seal status allows (init, unseal, sign in, the pages), polled every second.
//
// Polling sys/seal-status rather than server-sent events: it is the endpoint the CLI and `bao status` use,
// unauthenticated and cheap, and a plain GET passes every proxy and load balancer unchanged, where a held-open
// event stream is buffered or cut by many. One second keeps other operators' shares and a seal visible at once.

import { onSealed, sealStatus, session } from './api.js';
import { h } from './dom.js';
import { appShell } from './shell.js';
import { initPage } from './pages/init.js';
import { signInPage } from './pages/signin.js';
import { unsealPage } from './pages/unseal.js';

const POLL_INTERVAL_MS = 1000;
const banner = document.getElementById('banner');
const main = document.getElementById('main');

let phase = '';
let page = null;
let status = null;
let timer = 0;
let polling = false;

async function poll() {
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    status = await sealStatus();
    reachable();
    decide();
  } catch (error) {
    unreachable(error);
  } finally {
    polling = false;
    timer = setTimeout(poll, POLL_INTERVAL_MS);
  }
}

function wanted() {
  if (!status.initialized) return 'init';
  if (status.sealed) return 'unseal';
  return session.token ? 'app' : 'signin';
}

/** Show what the status allows; a page that holds (the init keys, shown once) stays until its reader is done. */
function decide() {
  if (page && page.holds && page.holds()) return;
  const next = wanted();
  if (next !== phase) show(next);
  else if (page && page.update) page.update(status);
}

function show(next) {
  if (page && page.close) page.close();
  // Whatever the last page showed (secrets, a token, a dialog) leaves the DOM with it.
  document.querySelectorAll('dialog').forEach((dialog) => dialog.remove());
  phase = next;
  const context = { status, refresh: poll, signOut };
  page = { init: initPage, unseal: unsealPage, signin: signInPage, app: appShell }[next](context);
  banner.replaceChildren(...(page.banner ? [page.banner] : [h('span', { class: 'brand' }, 'Strongroom')]));
  main.replaceChildren(page.element);
  const first = page.focus || main.querySelector('h1');
  if (first) first.focus({ preventScroll: true });
}

function signOut(message) {
  session.token = '';
  phase = '';
  decide();
  if (message && page && page.say) page.say(message);
}

function unreachable(error) {
  let box = document.getElementById('unreachable');
  if (!box) {
    box = h('p', { id: 'unreachable', class: 'alert', role: 'alert' });
    banner.after(box);
  }
  box.textContent = `${error.message} Retrying every second.`;
}

function reachable() {
  const box = document.getElementById('unreachable');
  if (box) box.remove();
}

onSealed(() => { poll(); });
window.addEventListener('hashchange', () => { if (page && page.navigate) page.navigate(); });
poll();
