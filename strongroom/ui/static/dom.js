// Building the page from elements, never from HTML text: a value from the server is always a text node.

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (name === 'text') element.textContent = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

let counter = 0;

/** A labelled control: `<label for>` and the control, with an optional hint tied by aria-describedby. */
export function field(label, control, hint) {
  const id = control.id || `f${++counter}`;
  control.id = id;
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

/** The element errors of a form go to: role="alert", hidden while empty. */
export function alertBox() {
  const box = h('p', { class: 'alert', role: 'alert', hidden: true });
  box.show = (message) => {
    box.textContent = message || '';
    box.hidden = !message;
  };
  return box;
}

export function notice(text) {
  const box = h('p', { class: 'notice', role: 'status', hidden: !text }, text || '');
  box.show = (message) => {
    box.textContent = message || '';
    box.hidden = !message;
  };
  return box;
}

/** A form that never navigates: `onSubmit(form)` runs instead, its error shown in the form's alert box. */
export function form(props, children, onSubmit) {
  const alert = alertBox();
  const element = h('form', { ...props, novalidate: true }, alert, children);
  element.alert = alert;
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.show('');
    const buttons = [...element.querySelectorAll('button')];
    buttons.forEach((button) => { button.disabled = true; });
    try {
      await onSubmit(element);
    } catch (error) {
      alert.show(error.message);
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
  return element;
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmAction(title, text, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title', class: 'confirm' });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    append(dialog, [
      h('h2', { id: 'confirm-title' }, title),
      h('p', {}, text),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, confirmLabel),
        h('button', { type: 'button', onclick: () => done(false) }, 'Cancel')),
    ]);
    dialog.addEventListener('cancel', () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell)))))));
}

/** Copy text to the clipboard, or select it for Ctrl+C where the clipboard API is not offered (plain http). */
export async function copyText(text, fallbackElement) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return true;
  }
  if (fallbackElement) {
    const range = document.createRange();
    range.selectNodeContents(fallbackElement);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  return false;
}

export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A server time (RFC 3339, nanoseconds) as a person reads it: `2026-12-07 09:47:24 UTC`. */
export function readableTime(text) {
  const time = Date.parse(text);
  if (!text || Number.isNaN(time) || text.startsWith('0001-')) return '—';
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
