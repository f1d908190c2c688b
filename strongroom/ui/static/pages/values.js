// Showing secret values: hidden until revealed, so a value reaches the page only when someone asks for it.

import { copyText, h } from '../dom.js';

const MASK = '••••••••';

/** A value cell: a mask and "Reveal <name>"; the text node holding the value exists only while revealed. */
export function hiddenValue(name, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const shown = h('span', { class: 'masked' }, MASK);
  const status = h('span', { class: 'visually-hidden', role: 'status' });
  let revealed = false;
  const toggle = h('button', { type: 'button', class: 'small', 'aria-label': `Reveal ${name}` }, 'Reveal');
  toggle.addEventListener('click', () => {
    revealed = !revealed;
    shown.replaceChildren(revealed ? text : MASK);
    shown.className = revealed ? 'revealed' : 'masked';
    toggle.textContent = revealed ? 'Hide' : 'Reveal';
    toggle.setAttribute('aria-label', `${revealed ? 'Hide' : 'Reveal'} ${name}`);
  });
  const copy = h('button', {
    type: 'button',
    class: 'small',
    'aria-label': `Copy ${name}`,
    onclick: async () => {
      status.textContent = (await copyText(text)) ? `${name} copied.` : 'Copying needs HTTPS: reveal the value and copy it by hand.';
    },
  }, 'Copy');
  return h('span', { class: 'value' }, shown, toggle, copy, status);
}

/** Rows of key and value inputs for writing a secret; `read()` gives the object, or throws a message. */
export function keyValueEditor(initial = {}) {
  const rows = h('div', { class: 'kv-rows' });
  let count = 0;
  const addRow = (key = '', value = '') => {
    count += 1;
    const keyInput = h('input', { type: 'text', value: key, spellcheck: 'false', autocapitalize: 'off', 'aria-label': `Key ${count}` });
    const valueInput = h('textarea', { rows: 1, spellcheck: 'false', 'aria-label': `Value ${count}` });
    valueInput.value = value;
    const remove = h('button', { type: 'button', class: 'small', 'aria-label': `Remove row ${count}` }, 'Remove');
    const row = h('div', { class: 'kv-row' }, keyInput, valueInput, remove);
    remove.addEventListener('click', () => row.remove());
    rows.append(row);
  };
  const entries = Object.entries(initial);
  if (entries.length) entries.forEach(([key, value]) => addRow(key, typeof value === 'string' ? value : JSON.stringify(value)));
  else addRow();
  const element = h('fieldset', { class: 'kv-editor' },
    h('legend', {}, 'Keys and values'),
    rows,
    h('button', { type: 'button', class: 'small', onclick: () => addRow() }, 'Add a key'));
  const read = () => {
    const data = {};
    for (const row of rows.querySelectorAll('.kv-row')) {
      const [keyInput, valueInput] = row.querySelectorAll('input, textarea');
      const key = keyInput.value.trim();
      if (!key && !valueInput.value) continue;
      if (!key) throw new Error('Every value needs a key.');
      if (key in data) throw new Error(`The key "${key}" appears twice.`);
      data[key] = valueInput.value;
    }
    if (!Object.keys(data).length) throw new Error('A secret needs at least one key and value.');
    return data;
  };
  return { element, read };
}
