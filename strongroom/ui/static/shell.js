// Unsealed and signed in: the header (seal state, node role, Seal), the sections, and the page of the hash route.

import { v1 } from './api.js';
import { confirmAction, h } from './dom.js';
import { clusterPage } from './pages/cluster.js';
import { dcosPage } from './pages/dcos.js';
import { keysPage } from './pages/keys.js';
import { kvPage } from './pages/kv.js';
import { mountsPage } from './pages/mounts.js';
import { policiesPage } from './pages/policies.js';
import { tokensPage } from './pages/tokens.js';
import { currentRoute } from './routes.js';

const SECTIONS = [
  ['secrets', 'Secrets', kvPage],
  ['dcos', 'DC/OS secrets', dcosPage],
  ['mounts', 'Mounts', mountsPage],
  ['policies', 'Policies', policiesPage],
  ['tokens', 'Tokens', tokensPage],
  ['keys', 'Keys', keysPage],
  ['cluster', 'Cluster', clusterPage],
];
const LEADER_EVERY_POLLS = 5;

export function appShell({ status, refresh, signOut }) {
  let alive = true;
  let generation = 0;
  let polls = 0;
  let leader = null;
  const sealState = h('span', { class: 'badge ok', role: 'status', 'aria-label': 'Seal state' }, 'Unsealed');
  const role = h('span', { class: 'badge', 'aria-label': 'Node role' }, '…');
  const who = h('span', { class: 'who' });
  const sealButton = h('button', { type: 'button', class: 'danger', hidden: true }, 'Seal');
  const signOutButton = h('button', { type: 'button', onclick: () => signOut('Signed out.') }, 'Sign out');
  const links = SECTIONS.map(([id, label]) => h('a', { href: `#/${id}`, 'data-section': id }, label));
  const banner = h('div', { class: 'banner-inner' },
    h('div', { class: 'banner-top' },
      h('a', { class: 'brand', href: '#/secrets' }, 'Strongroom'),
      sealState, role, who,
      h('span', { class: 'banner-actions' }, sealButton, signOutButton)),
    h('nav', { 'aria-label': 'Sections' }, h('ul', {}, links.map((link) => h('li', {}, link)))));
  const content = h('div', { class: 'content' });
  const page = {
    go: (hash) => {
      if (location.hash === hash) navigate();
      else location.hash = hash;
    },
    reload: () => navigate(),
  };

  async function navigate() {
    const mine = ++generation;
    const { section, rest, query } = currentRoute();
    const entry = SECTIONS.find(([id]) => id === section);
    links.forEach((link) => {
      if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    });
    content.replaceChildren(h('p', { role: 'status' }, 'Loading…'));
    let shown;
    try {
      shown = entry
        ? await entry[2](rest, query, page)
        : h('section', {}, h('h1', { tabindex: -1 }, 'Not found'), h('p', {}, 'There is no such page.'));
    } catch (error) {
      if (error.status === 403 && !(await tokenStillValid())) return;
      shown = h('section', {}, h('h1', { tabindex: -1 }, entry ? entry[1] : 'Error'),
        h('p', { class: 'alert', role: 'alert' }, error.message));
    }
    // A page that finished loading after the seal (or another navigation) never reaches the DOM.
    if (!alive || mine !== generation) return;
    content.replaceChildren(shown);
    // A screen reader hears the new page's title; the keyboard starts from it
    const title = content.querySelector('h1');
    if (title && !content.contains(document.activeElement)) title.focus({ preventScroll: true });
  }

  async function tokenStillValid() {
    try {
      await v1('GET', 'auth/token/lookup-self');
      return true;
    } catch (error) {
      if (error.status === 403) signOut('Your token is no longer valid: sign in again.');
      return false;
    }
  }

  async function learnToken() {
    try {
      const self = await v1('GET', 'auth/token/lookup-self');
      who.textContent = self.data.display_name || 'token';
      const answer = await v1('POST', 'sys/capabilities-self', { paths: ['sys/seal'] });
      const capabilities = answer['sys/seal'] || answer.capabilities || (answer.data && answer.data.capabilities) || [];
      sealButton.hidden = !(capabilities.includes('root') || capabilities.includes('sudo'));
    } catch (error) {
      if (error.status === 403) signOut('Your token is no longer valid: sign in again.');
    }
  }

  async function learnRole() {
    try {
      leader = await v1('GET', 'sys/leader');
      role.textContent = !leader.ha_enabled ? 'Single node' : leader.is_self ? 'Active node' : 'Standby node';
    } catch {
      role.textContent = 'Role unknown';
    }
  }

  sealButton.addEventListener('click', async () => {
    const nodes = leader && leader.ha_enabled ? ' on every node of the cluster' : '';
    const confirmed = await confirmAction(
      'Seal Strongroom?',
      `Sealing drops the keys from memory${nodes}: nothing can be read or written by anyone until `
        + `${status.t} key holders enter their unseal keys again.`,
      'Seal now');
    if (!confirmed) return;
    try {
      await v1('PUT', 'sys/seal');
    } catch (error) {
      content.prepend(h('p', { class: 'alert', role: 'alert' }, `Seal failed: ${error.message}`));
    }
    refresh();
  });

  learnToken();
  learnRole();
  navigate();
  return {
    banner,
    element: content,
    focus: null,
    navigate,
    update: (next) => {
      status = next;
      polls += 1;
      if (polls % LEADER_EVERY_POLLS === 0) learnRole();
    },
    close: () => { alive = false; },
  };
}
