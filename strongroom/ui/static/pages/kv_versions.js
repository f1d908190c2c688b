// A KV v2 secret's versions (view, delete, undelete, destroy) and its metadata (read and edit).

import { v1 } from '../api.js';
import { confirmAction, field, form, h, readableTime, table } from '../dom.js';
import { hashFor } from '../routes.js';

function versionState(entry, current) {
  if (entry.destroyed) return 'destroyed';
  if (entry.deletion_time) return `deleted ${readableTime(entry.deletion_time)}`;
  return entry.number === current ? 'current' : 'kept';
}

export function kvVersionsSection(mount, path, metadata, page) {
  const versions = Object.entries(metadata.versions || {})
    .map(([number, entry]) => ({ number: Number(number), ...entry }))
    .sort((a, b) => b.number - a.number);
  const act = (operation, number, title, text, confirmLabel) => async () => {
    if (!(await confirmAction(title, text, confirmLabel))) return;
    await v1('POST', `${mount.path}${operation}/${path}`, { versions: [number] });
    page.reload();
  };
  const rows = versions.map((entry) => [
    h('a', { href: hashFor('secrets', mount.path + path, `version=${entry.number}`) }, `Version ${entry.number}`),
    readableTime(entry.created_time),
    versionState(entry, metadata.current_version),
    h('span', { class: 'row-actions' },
      entry.destroyed ? null : entry.deletion_time
        ? h('button', { type: 'button', class: 'small', 'aria-label': `Undelete version ${entry.number}`,
          onclick: act('undelete', entry.number, `Undelete version ${entry.number}?`, 'Its data becomes readable again.', 'Undelete') }, 'Undelete')
        : h('button', { type: 'button', class: 'small', 'aria-label': `Delete version ${entry.number}`,
          onclick: act('delete', entry.number, `Delete version ${entry.number}?`, 'It can be undeleted later.', 'Delete') }, 'Delete'),
      entry.destroyed ? null : h('button', { type: 'button', class: 'small danger', 'aria-label': `Destroy version ${entry.number}`,
        onclick: act('destroy', entry.number, `Destroy version ${entry.number}?`, 'Its data is removed for good: it cannot be undeleted.', 'Destroy') }, 'Destroy')),
  ]);
  const deleteAll = h('button', { type: 'button', class: 'danger' }, 'Delete all versions and metadata');
  deleteAll.addEventListener('click', async () => {
    if (!(await confirmAction('Delete the whole secret?', `Every version of ${mount.path}${path} and its metadata are removed for good.`, 'Delete everything'))) return;
    await v1('DELETE', `${mount.path}metadata/${path}`);
    page.go(hashFor('secrets', mount.path + path.replace(/[^/]*$/, '')));
  });
  return h('div', {},
    h('h2', {}, 'Versions'),
    table(['Version', 'Created', 'State', 'Actions'], rows),
    metadataSection(mount, path, metadata, page),
    h('div', { class: 'actions' }, deleteAll));
}

function metadataSection(mount, path, metadata, page) {
  const maxVersions = h('input', { type: 'text', inputmode: 'numeric', value: String(metadata.max_versions ?? 0) });
  const deleteAfter = h('input', { type: 'text', value: metadata.delete_version_after || '0s', spellcheck: 'false' });
  const casRequired = h('input', { type: 'checkbox' });
  casRequired.checked = Boolean(metadata.cas_required);
  const custom = Object.entries(metadata.custom_metadata || {});
  const editForm = form({ class: 'card' }, [
    h('h3', {}, 'Edit metadata'),
    field('Maximum versions kept', maxVersions, '0: the mount\'s setting.'),
    field('Delete versions after', deleteAfter, 'A duration such as 768h; 0s: never.'),
    h('div', { class: 'field checkbox' }, h('label', {}, casRequired, ' Require check-and-set on every write')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save metadata')),
  ], async () => {
    if (!/^\d+$/.test(maxVersions.value.trim())) throw new Error('Maximum versions must be a whole number.');
    await v1('POST', `${mount.path}metadata/${path}`, {
      max_versions: Number(maxVersions.value.trim()),
      delete_version_after: deleteAfter.value.trim() || '0s',
      cas_required: casRequired.checked,
    });
    page.reload();
  });
  return h('div', {},
    h('h2', {}, 'Metadata'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Current version'), h('dd', {}, String(metadata.current_version)),
      h('dt', {}, 'Oldest version'), h('dd', {}, String(metadata.oldest_version)),
      h('dt', {}, 'Created'), h('dd', {}, readableTime(metadata.created_time)),
      h('dt', {}, 'Updated'), h('dd', {}, readableTime(metadata.updated_time)),
      h('dt', {}, 'Check-and-set required'), h('dd', {}, metadata.cas_required ? 'yes' : 'no'),
      custom.length ? [h('dt', {}, 'Custom metadata'), h('dd', {}, custom.map(([k, v]) => `${k}=${v}`).join(', '))] : null),
    editForm);
}
