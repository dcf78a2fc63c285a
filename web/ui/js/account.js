// The agent's own account: change the password (the current one is
// needed) and API tokens for scripts (shown once, revocable).
import { h, replace, field, timeEl, toast } from './dom.js';
import { get, post, del, rows } from './api.js';
import { app } from './app.js';

export async function renderAccount(main) {
  document.title = 'Account · relaydesk';
  const tokens = h('div');
  const shown = h('p', { class: 'secret', id: 'token-value', role: 'status' });

  const pw = h('form', { class: 'stack', id: 'password-change', 'aria-label': 'Change password' },
    h('h2', null, 'Change password'),
    h('input', { type: 'email', name: 'username', autocomplete: 'username', value: app.me ? app.me.email : '', hidden: true, readonly: true }),
    field('Current password', h('input', { type: 'password', name: 'current', autocomplete: 'current-password', required: true })),
    field('New password (at least 10 characters)', h('input', { type: 'password', name: 'new', autocomplete: 'new-password', minlength: 10, required: true })),
    h('button', { type: 'submit' }, 'Change password'));
  pw.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fd = new FormData(pw);
    try {
      await post('/session/password', { current: fd.get('current'), new: fd.get('new') });
      pw.reset();
      toast('Password changed; your other sessions have ended');
    } catch (ex) { toast(ex.status === 403 ? 'The current password is wrong' : ex.message, 'error'); }
  });

  const load = async () => {
    const list = rows(await get('/session/tokens'), 'tokens');
    replace(tokens, list.length ? h('ul', { id: 'tokens' }, list.map(t => h('li', null,
      h('strong', null, t.label || `token ${t.id}`), ' created ', timeEl(t.created_at),
      t.last_used_at ? [', last used ', timeEl(t.last_used_at)] : ', never used',
      t.revoked_at ? ' (revoked)' : [' ', h('button', { type: 'button', 'aria-label': `Revoke ${t.label}`,
        onclick: async () => { try { await del(`/session/tokens/${t.id}`); await load(); } catch (ex) { toast(ex.message, 'error'); } } }, 'Revoke')])))
      : h('p', { class: 'muted' }, 'No API tokens.'));
  };
  const tf = h('form', { class: 'stack', id: 'token-add', 'aria-label': 'New API token' },
    field('Label', h('input', { name: 'label', required: true, placeholder: 'nightly report script' })),
    h('button', { type: 'submit' }, 'Create token'));
  tf.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await post('/session/tokens', { label: new FormData(tf).get('label') });
      shown.textContent = `Token (shown only now; use it as "Authorization: Bearer …"): ${r.token}`;
      tf.reset();
      await load();
    } catch (ex) { toast(ex.message, 'error'); }
  });

  replace(main, h('section', { class: 'account', id: 'account' },
    h('h1', null, 'Account'),
    h('p', null, app.me ? `${app.me.name} <${app.me.email}>, ${app.me.role}` : ''),
    pw, h('h2', null, 'API tokens'), tokens, tf, shown));
  await load();
  return { name: 'account' };
}
