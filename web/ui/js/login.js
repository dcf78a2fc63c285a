// The login form: autocomplete hints so password managers (and browser
// tests) find the fields; a TOTP field appears when the account has one.
import { h, replace, field } from './dom.js';
import { post, ApiError } from './api.js';
import { signedIn, go } from './app.js';

export function renderLogin(main) {
  const err = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const totp = h('input', { name: 'totp', id: 'login-totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}' });
  const totpField = field('One-time code', totp);
  totpField.hidden = true;
  const form = h('form', { class: 'login', id: 'login-form', method: 'post', action: '#/login' },
    h('h1', null, 'relaydesk'),
    field('E-mail', h('input', { type: 'email', name: 'email', id: 'login-email', autocomplete: 'username', required: true, autofocus: true })),
    field('Password', h('input', { type: 'password', name: 'password', id: 'login-password', autocomplete: 'current-password', required: true })),
    totpField,
    h('button', { type: 'submit', id: 'login-submit' }, 'Log in'),
    err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const fd = new FormData(form);
    const body = { email: fd.get('email'), password: fd.get('password') };
    if (fd.get('totp')) body.totp = fd.get('totp');
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const s = await post('/session', body, { noRedirect: true });
      signedIn(s);
      go('#/');
    } catch (ex) {
      if (ex instanceof ApiError && ex.body.code === 'totp_required' && totpField.hidden) {
        totpField.hidden = false;
        totp.focus();
        err.textContent = 'Enter the one-time code of your authenticator.';
      } else if (ex instanceof ApiError && ex.status === 429) {
        err.textContent = 'Too many attempts; wait a minute and try again.';
      } else {
        err.textContent = ex instanceof ApiError && ex.body.code === 'login_failed' ? 'Wrong e-mail or password.' : ex.message;
      }
    } finally { btn.disabled = false; }
  });
  replace(main, form);
  form.querySelector('#login-email').focus();
}
