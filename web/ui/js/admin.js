// Admin pages: agents, allowlist (the relay request form's fields),
// outbox (retry, drop), quarantine (reason, reprocess), relay check.
import { h, replace, field, select, timeEl, toast, size } from './dom.js';
import { get, post, patch, del, rows } from './api.js';
import { go } from './app.js';

const PAGES = {
  agents: ['Agents', agents],
  allowlist: ['Allowlist', allowlist],
  outbox: ['Outbox', outbox],
  quarantine: ['Quarantine', quarantine],
  relay: ['Relay check', relayCheck],
  audit: ['Audit log', audit],
};

export async function renderAdmin(main, page) {
  const p = PAGES[page];
  if (!p) { go('#/admin/agents'); return null; }
  document.title = `${p[0]} · relaydesk`;
  const box = h('section', { class: 'admin', id: `admin-${page}` }, h('h1', null, p[0]));
  replace(main, box);
  await p[1](box);
  return { name: 'admin-' + page };
}

function table(headers, body, id) {
  // Each cell knows its column's name: at phone width a row is a card
  // with the names beside the values (style.css).
  for (const tr of body) Array.from(tr.children).forEach((td, i) => { if (headers[i]) td.dataset.label = headers[i]; });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id },
    h('thead', null, h('tr', null, headers.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', null, body.length ? body : h('tr', null, h('td', { colspan: headers.length, class: 'empty' }, 'Nothing here.')))));
}

function onSubmit(form, fn) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = form.querySelector('button[type=submit]');
    if (btn) btn.disabled = true;
    try { await fn(new FormData(form)); } catch (ex) { toast(ex.message, 'error'); } finally { if (btn) btn.disabled = false; }
  });
  return form;
}

async function act(fn, ok, after) {
  try { await fn(); if (ok) toast(ok); } catch (e) { toast(e.message, 'error'); }
  if (after) await after();
}

// --- agents -------------------------------------------------------------------
async function agents(box) {
  const list = h('div');
  const out = h('p', { class: 'secret', id: 'agent-password', role: 'status' });
  let known = [];
  const editWho = h('select', { name: 'email', id: 'agent-edit-email', required: true });
  const load = async () => {
    known = rows(await get('/agents'), 'agents');
    replace(editWho, known.map(x => h('option', { value: x.email }, x.email)));
    fillEdit();
    replace(list, table(['E-mail', 'Name', 'Role', 'Queues', 'Second factor', ''], known.map(x => h('tr', { dataset: { email: x.email } },
      h('td', null, x.email), h('td', null, x.name || ''), h('td', null, x.role || ''),
      h('td', null, (x.queues || []).join(', ') || (x.role === 'admin' ? 'all' : '—')),
      h('td', null, x.totp ? 'TOTP' : '—'),
      h('td', null,
        h('button', { type: 'button', 'aria-label': `Reset the password of ${x.email}`,
          onclick: () => confirm(`New password for ${x.email}? Their sessions end.`) && act(async () => {
            const r = await post(`/agents/${encodeURIComponent(x.email)}/password`, {});
            out.textContent = r && r.password ? `One-time password for ${x.email}: ${r.password}` : `Password of ${x.email} reset`;
          }, null, load) }, 'Reset password'), ' ',
        h('button', { type: 'button', 'aria-label': `Remove agent ${x.email}`,
          onclick: () => confirm(`Remove ${x.email}?`) && act(() => del('/agents/' + encodeURIComponent(x.email)), 'Removed', load) }, 'Remove')))), 'agents-table'));
  };
  const queuesOf = (fd) => String(fd.get('queues') || '').split(',').map(q => q.trim()).filter(Boolean);
  const form = onSubmit(h('form', { class: 'stack', id: 'agent-add', 'aria-label': 'Add an agent' },
    h('h2', null, 'Add an agent'),
    field('E-mail', h('input', { type: 'email', name: 'email', required: true })),
    field('Name', h('input', { name: 'name', required: true })),
    field('Role', select('role', ['agent', 'admin'], 'agent')),
    field('Queues (comma-separated)', h('input', { name: 'queues' })),
    field('Password (empty: a one-time password is made)', h('input', { type: 'password', name: 'password', autocomplete: 'new-password' })),
    h('button', { type: 'submit' }, 'Add agent')), async (fd) => {
    const body = { email: fd.get('email'), name: fd.get('name'), role: fd.get('role'), queues: queuesOf(fd) };
    if (fd.get('password')) body.password = fd.get('password');
    const r = await post('/agents', body);
    out.textContent = r && r.password ? `One-time password for ${body.email}: ${r.password}` : `${body.email} added`;
    form.reset();
    await load();
  });
  const editName = h('input', { name: 'name', id: 'agent-edit-name', required: true });
  const editRole = select('role', ['agent', 'admin'], 'agent', { id: 'agent-edit-role' });
  const editQueues = h('input', { name: 'queues', id: 'agent-edit-queues' });
  function fillEdit() {
    const a = known.find(x => x.email === editWho.value);
    if (!a) return;
    editName.value = a.name || '';
    editRole.value = a.role || 'agent';
    editQueues.value = (a.queues || []).join(', ');
  }
  editWho.addEventListener('change', fillEdit);
  const edit = onSubmit(h('form', { class: 'stack', id: 'agent-edit', 'aria-label': 'Change an agent' },
    h('h2', null, 'Change an agent'),
    field('Agent', editWho), field('Name', editName), field('Role', editRole),
    field('Queues (comma-separated)', editQueues),
    h('button', { type: 'submit' }, 'Save')), async (fd) => {
    await patch('/agents/' + encodeURIComponent(fd.get('email')), { name: fd.get('name'), role: fd.get('role'), queues: queuesOf(fd) });
    toast('Saved');
    await load();
  });
  replace(box, box.firstChild, list, out, h('div', { class: 'forms' }, form, edit));
  await load();
}

// --- allowlist ----------------------------------------------------------------
async function allowlist(box) {
  const list = h('div');
  const load = async () => {
    const a = rows(await get('/allowlist'), 'entries');
    replace(list, table(['Address', 'Application', 'Admin', 'Location', 'Staging', 'Expires', 'Source', ''], a.map(x => h('tr', { class: x.expired ? 'expired' : '' },
      h('td', null, h('code', null, x.cidr)), h('td', null, x.application || ''),
      h('td', null, x.admin_name || '', x.admin_email ? ` <${x.admin_email}>` : ''),
      h('td', null, x.location || ''), h('td', null, x.staging ? 'yes' : 'no'),
      h('td', null, x.expires_at ? timeEl(x.expires_at) : '—', x.expired ? ' (expired)' : ''),
      h('td', null, x.source || ''),
      h('td', null, x.source === 'config' || !x.id ? '' : h('button', { type: 'button', 'aria-label': `Remove ${x.cidr}`,
        onclick: () => act(() => del('/allowlist/' + encodeURIComponent(x.id)), 'Removed', load) }, 'Remove')))), 'allowlist-table'));
  };
  const staging = h('input', { type: 'checkbox', name: 'staging', id: 'al-staging' });
  const days = h('input', { type: 'number', name: 'days', min: 1, max: 15, value: 15, id: 'al-days' });
  const daysField = field('Staging days (at most 15)', days);
  daysField.hidden = true;
  staging.addEventListener('change', () => { daysField.hidden = !staging.checked; });
  const form = onSubmit(h('form', { class: 'stack', id: 'allowlist-add', 'aria-label': 'Relay request' },
    h('h2', null, 'Relay request'),
    field('IP address or network (CIDR)', h('input', { name: 'cidr', required: true, placeholder: '192.0.2.10/32' })),
    field('Application', h('input', { name: 'application', required: true })),
    field('Admin name', h('input', { name: 'admin_name', required: true })),
    field('Admin e-mail', h('input', { type: 'email', name: 'admin_email', required: true })),
    field('Location', h('input', { name: 'location', required: true })),
    h('label', { class: 'check' }, staging, ' Staging (expires)'),
    daysField,
    field('Note', h('input', { name: 'note' })),
    h('button', { type: 'submit' }, 'Add')), async (fd) => {
    const body = {};
    for (const k of ['cidr', 'application', 'admin_name', 'admin_email', 'location', 'note']) if (fd.get(k)) body[k] = fd.get(k);
    body.staging = staging.checked;
    if (staging.checked) {
      const d = Number(days.value);
      if (!(d >= 1 && d <= 15)) throw new Error('Staging lasts at most 15 days');
      body.days = d;
    }
    await post('/allowlist', body);
    toast('Added');
    form.reset();
    daysField.hidden = true;
    await load();
  });
  replace(box, box.firstChild, list, form);
  await load();
}

// --- outbox -------------------------------------------------------------------
async function outbox(box) {
  const filter = select('state', [['', 'All'], 'queued', 'sending', 'sent', 'failed', 'dropped'], '', { id: 'outbox-state' });
  const list = h('div');
  const load = async () => {
    const st = filter.value;
    const a = rows(await get('/outbox' + (st ? '?state=' + encodeURIComponent(st) : '')), 'items');
    replace(list, table(['#', 'Kind', 'State', 'Ticket', 'Recipients', 'Attempts', 'Last error / relay reply', 'Created', ''], a.map(x => h('tr', { dataset: { id: x.id } },
      h('td', null, String(x.id)), h('td', null, x.kind), h('td', null, h('span', { class: `badge d-${x.state}` }, x.state)),
      h('td', null, x.ticket ? h('a', { href: `#/ticket/${Number(x.ticket)}` }, `#${Number(x.ticket)}`) : ''),
      h('td', null, (x.recipients || []).join(', ')), h('td', null, String(x.attempts ?? '')),
      h('td', { class: 'wrap' }, x.last_error || x.relay_reply || ''), h('td', null, timeEl(x.created_at)),
      h('td', null,
        h('button', { type: 'button', 'aria-label': `Details of ${x.id}`, onclick: () => details(x.id) }, 'Details'), ' ',
        x.state === 'failed' || x.state === 'queued' || x.state === 'dropped' ? h('button', { type: 'button', 'aria-label': `Retry ${x.id}`, onclick: () => act(() => post(`/outbox/${x.id}/retry`), 'Queued again', load) }, 'Retry') : null,
        x.state === 'failed' || x.state === 'queued' ? h('button', { type: 'button', 'aria-label': `Drop ${x.id}`, onclick: () => confirm('Drop this message?') && act(() => post(`/outbox/${x.id}/drop`, { reason: 'dropped in the web desk' }), 'Dropped', load) }, 'Drop') : null))), 'outbox-table'));
  };
  // One message: its delivery attempts and the message as sent.
  const detail = h('section', { class: 'detail', id: 'outbox-detail', hidden: true, 'aria-live': 'polite' });
  async function details(id) {
    try {
      const r = await get(`/outbox/${encodeURIComponent(id)}`);
      const it = r.item || r;
      replace(detail, h('h2', null, `Message ${it.id} (${it.kind}, ${it.state})`),
        h('p', null, 'From ', h('code', null, it.sender || '<>'), ' to ', (it.recipients || []).join(', '),
          it.next_attempt_at ? [' · next attempt ', timeEl(it.next_attempt_at)] : ''),
        h('ol', { class: 'events', id: 'outbox-events' }, rows(it, 'events').map(e => h('li', null, timeEl(e.at), ' ', h('strong', null, e.event), e.detail ? `: ${e.detail}` : ''))),
        it.raw ? h('details', null, h('summary', null, 'The message as sent'), h('pre', { class: 'raw' }, it.raw)) : null,
        h('button', { type: 'button', onclick: () => { detail.hidden = true; } }, 'Close'));
      detail.hidden = false;
      detail.scrollIntoView({ block: 'nearest' });
    } catch (e) { toast(e.message, 'error'); }
  }
  filter.addEventListener('change', load);
  replace(box, box.firstChild, field('State', filter), list, detail);
  await load();
}

// --- quarantine ---------------------------------------------------------------
async function quarantine(box) {
  const list = h('div');
  const load = async () => {
    const a = rows(await get('/spool/quarantine'), 'messages', 'items');
    replace(list, table(['#', 'Received', 'Sender', 'Client', 'Message-ID', 'Size', 'Reason', ''], a.map(x => h('tr', { dataset: { id: x.id } },
      h('td', null, String(x.id)), h('td', null, timeEl(x.received_at)),
      h('td', { class: 'wrap' }, x.sender || '<>'), h('td', null, x.client_addr || ''),
      h('td', { class: 'wrap' }, x.message_id || ''), h('td', null, size(x.size)),
      h('td', { class: 'wrap reason' }, x.reason || ''),
      h('td', null,
        h('a', { href: `/api/v1/spool/${encodeURIComponent(x.id)}/raw`, download: '', 'aria-label': `Download message ${x.id}` }, 'Raw'), ' ',
        h('button', { type: 'button', 'aria-label': `Reprocess ${x.id}`, onclick: () => act(() => post(`/spool/${encodeURIComponent(x.id)}/reprocess`), 'Queued for processing', load) }, 'Reprocess')))), 'quarantine-table'));
  };
  replace(box, box.firstChild, h('p', { class: 'muted' }, 'Messages the receiver held back, with the reason. Reprocess sends one through the rules again.'), list);
  await load();
}

// --- relay check --------------------------------------------------------------
async function relayCheck(box) {
  const steps = h('ol', { class: 'steps', id: 'relay-steps', 'aria-live': 'polite' });
  const verdict = h('p', { id: 'relay-verdict', role: 'status' });
  const outText = h('pre', { class: 'output', id: 'relay-output' });
  const output = h('details', { hidden: true }, h('summary', null, 'As `relaydesk relay check` prints it'), outText);
  const form = onSubmit(h('form', { class: 'stack', id: 'relay-check' },
    h('p', null, 'Connects to the relay and runs each step of a delivery (resolve, connect, TLS, EHLO, AUTH) without sending a message.'),
    field('Another relay URL to try (optional)', h('input', { name: 'url', placeholder: 'smtp://relay.example.org:587' })),
    h('button', { type: 'submit' }, 'Run relay check')), async (fd) => {
    replace(steps, h('li', { class: 'muted' }, 'Running…'));
    replace(verdict);
    output.hidden = true;
    const body = {};
    if (fd.get('url')) body.url = fd.get('url');
    let r;
    try { r = await post('/relay/check', body); } catch (e) { r = e.body && e.body.steps ? e.body : null; if (!r) throw e; }
    replace(steps, rows(r, 'steps').map(x => h('li', { class: x.ok === false ? 'fail' : 'ok' },
      h('strong', null, x.name || x.step || ''), ': ', x.ok === false ? 'failed' : 'ok',
      x.detail ? h('div', { class: 'muted wrap' }, x.detail) : null,
      x.hint ? h('div', { class: 'hint-text' }, 'Hint: ', x.hint) : null)));
    replace(verdict, h('strong', { id: 'relay-result', class: r.ok ? 'ok' : 'error' }, r.ok ? 'The relay accepts us.' : 'The relay check failed.'));
    if (r.output) { outText.textContent = r.output; output.hidden = false; }
  });
  replace(box, box.firstChild, form, steps, verdict, output);
}

// --- audit log ----------------------------------------------------------------
async function audit(box) {
  const a = rows(await get('/audit'), 'audit');
  replace(box, box.firstChild, h('p', { class: 'muted' }, 'Changes to agents, API tokens and rules, newest first. Changes to tickets are in each ticket’s history.'),
    table(['When', 'Who', 'What', 'On', 'Detail'], a.map(x => h('tr', null,
      h('td', null, timeEl(x.at)), h('td', null, x.actor || ''), h('td', null, x.action || ''),
      h('td', { class: 'wrap' }, x.target || ''), h('td', { class: 'wrap' }, x.detail || ''))), 'audit-table'));
}
