// Unsealed, no token yet: sign in with a token or a userpass login. The token is kept for this tab only.

import { ApiError, session, v1 } from '../api.js';
import { field, form, h, notice } from '../dom.js';

async function checkToken(token) {
  try {
    await v1('GET', 'auth/token/lookup-self', undefined, { token });
  } catch (error) {
    if (error.status === 403) throw new Error('This token is not valid: it is unknown, expired or revoked.');
    throw error;
  }
}

export function signInPage({ refresh }) {
  const title = h('h1', { tabindex: -1 }, 'Sign in');
  const said = notice('');
  const method = h('select', {},
    h('option', { value: 'token' }, 'Token'),
    h('option', { value: 'userpass' }, 'Username and password'));

  const token = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const tokenForm = form({}, [
    field('Token', token),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  ], async () => {
    const value = token.value.trim();
    if (!value) throw new Error('Enter a token first.');
    await checkToken(value);
    token.value = '';
    session.token = value;
    refresh();
  });

  const username = h('input', { type: 'text', autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off' });
  const password = h('input', { type: 'password', autocomplete: 'current-password' });
  const mount = h('input', { type: 'text', value: 'userpass', spellcheck: 'false', autocapitalize: 'off' });
  const userpassForm = form({ hidden: true }, [
    field('Username', username),
    field('Password', password),
    field('Auth mount path', mount, 'Where the userpass method is enabled (auth/<path>).'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  ], async () => {
    const name = username.value.trim();
    if (!name || !password.value) throw new Error('Enter a username and a password.');
    const path = mount.value.trim().replace(/^\/+|\/+$/g, '') || 'userpass';
    let answer;
    try {
      answer = await v1('POST', `auth/${path}/login/${name}`, { password: password.value }, { token: '' });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 400 || error.status === 403)) {
        throw new Error(`Sign-in refused: ${error.message}`);
      }
      throw error;
    } finally {
      password.value = '';
    }
    session.token = answer.auth.client_token;
    refresh();
  });

  method.addEventListener('change', () => {
    tokenForm.hidden = method.value !== 'token';
    userpassForm.hidden = method.value !== 'userpass';
  });

  const element = h('section', { class: 'page narrow' },
    title,
    h('p', {}, 'Strongroom is unsealed. Your token stays in this browser tab only and is forgotten when you close it.'),
    said,
    field('Sign-in method', method),
    tokenForm,
    userpassForm);
  return { element, focus: token, say: (message) => said.show(message) };
}
