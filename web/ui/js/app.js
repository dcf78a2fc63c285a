// relaydesk web desk: the shell. Hash routes (#/..., so the server serves
// one page), the session, the sidebar (queues with counts, saved views),
// the live event stream and the keyboard.
import { h, $, replace, toast, debounce } from './dom.js';
import { api, get, post, del, setCsrf, onUnauthorized, rows, ApiError } from './api.js';

// Each page's module is loaded when first needed: the list view loads
// only what it uses (index.html preloads those).
const pages = {
  login: () => import('./login.js'),
  list: () => import('./list.js'),
  ticket: () => import('./ticket.js'),
  admin: () => import('./admin.js'),
  rules: () => import('./rules.js'),
  account: () => import('./account.js'),
};

export const app = {
  me: null,            // {email, name, role, queues}
  page: null,          // {name, key(ev), onEvent(ev), leave()}
  presence: new Map(), // ticket number -> Map(agent email -> {name, state})
  events: null,
  lastList: [],        // ticket numbers of the list last shown (j/k in a ticket)
  queues: [],          // names of the queues this agent sees (GET /queues)
  queuesReady: null,   // the request for them, while it runs
  prefetch: null,      // {path, answer}: the first list, asked for at load
};

// The ticket number an event is about: {ticket: {...}} for ticket.*,
// {number} for presence.
export function eventNumber(ev) {
  const t = ev.ticket;
  return Number(t && typeof t === 'object' ? t.number : (t ?? ev.number));
}

export function isAdmin() { return app.me && app.me.role === 'admin'; }

export function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  return { path, parts: path.split('/').filter(Boolean), params: new URLSearchParams(query || '') };
}

// The query of GET /tickets for the list's parameters (list.js asks the
// same way, so a prefetched answer is found by its path).
export function listQuery(params) {
  const u = new URLSearchParams();
  for (const k of ['queue', 'status', 'assignee', 'tag', 'priority', 'q', 'sort']) if (params.get(k)) u.set(k, params.get(k));
  u.set('page', params.get('page') || '1');
  u.set('per_page', params.get('per_page') || '50');
  return '?' + u.toString();
}

// A prefetched answer for @path, once.
export function takePrefetch(path) {
  const p = app.prefetch;
  app.prefetch = null;
  return p && p.path === path ? p.answer : null;
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function boot() {
  onUnauthorized(() => { app.me = null; stopEvents(); go('#/login'); });
  $('#logout').addEventListener('click', logout);
  $('#help-button').addEventListener('click', () => $('#help').showModal());
  $('#menu-toggle').addEventListener('click', () => {
    const side = $('#side');
    const open = !document.body.classList.contains('side-open');
    document.body.classList.toggle('side-open', open);
    $('#menu-toggle').setAttribute('aria-expanded', String(open));
    if (open) side.focus?.();
  });
  $('#save-view').addEventListener('click', saveView);
  $('#view-form').addEventListener('submit', submitView);
  window.addEventListener('hashchange', render);
  // Closing the tab leaves the ticket (others stop seeing this agent on it).
  window.addEventListener('pagehide', () => {
    if (app.page && app.page.leave) { try { app.page.leave(); } catch { /* closing anyway */ } app.page = null; }
  });
  document.addEventListener('keydown', onKey);
  // The list's first page is asked for beside the session: on the list
  // (the usual first page) that saves a round trip; logged out, it is a
  // 401 nobody reads.
  const r0 = route();
  if (r0.parts.length === 0) {
    const path = '/tickets' + listQuery(r0.params);
    app.prefetch = { path, answer: get(path, { noRedirect: true }) };
    app.prefetch.answer.catch(() => {});
  }
  try {
    const s = await get('/session', { noRedirect: true });
    signedIn(s);
  } catch (e) {
    app.prefetch = null;   // asked without a session: not an answer to keep
    if (!(e instanceof ApiError)) toast(String(e), 'error');
  }
  render();
}

export function signedIn(s) {
  app.me = s.agent || s;
  if (s.csrf) setCsrf(s.csrf);
  $('#me').textContent = app.me.name || app.me.email || '';
  $('#me').setAttribute('href', '#/account');
  $('#admin-links').hidden = !isAdmin();
  startEvents();
  loadAgents();
}

// Agents' addresses for the assignee fields (a datalist); only admins may
// list agents, others type the address.
async function loadAgents() {
  if (!isAdmin()) return;
  try {
    const list = rows(await get('/agents'), 'agents');
    replace($('#agents-list'), list.map(a => h('option', { value: a.email }, a.name || a.email)));
  } catch { /* not allowed or not there */ }
}

async function logout() {
  try { await del('/session'); } catch { /* gone already */ }
  setCsrf('');
  app.me = null;
  stopEvents();
  go('#/login');
}

export async function render() {
  const r = route();
  if (app.page && app.page.leave) {
    try { app.page.leave(); } catch { /* ignore */ }
  }
  app.page = null;
  document.body.classList.remove('side-open');
  const main = $('#main');
  const signed = !!app.me;
  $('#top').hidden = !signed;
  $('#side').hidden = !signed;
  document.body.classList.toggle('signed-in', signed);
  if (!signed || r.parts[0] === 'login') {
    if (signed) return go('#/');
    document.title = 'Log in · relaydesk';
    return (await pages.login()).renderLogin(main);
  }
  // The queue names (for the filters and the ticket's queue field), asked
  // for alongside the page's own data.
  if (!app.queues.length && !app.queuesReady) app.queuesReady = loadQueues().catch(() => []);
  try {
    if (r.parts[0] === 'ticket' && r.parts[1]) app.page = await (await pages.ticket()).renderTicket(main, Number(r.parts[1]), r.params);
    else if (r.parts[0] === 'admin' && r.parts[1] === 'rules') app.page = await (await pages.rules()).renderRules(main, r.params);
    else if (r.parts[0] === 'account') app.page = await (await pages.account()).renderAccount(main);
    else if (r.parts[0] === 'admin') app.page = await (await pages.admin()).renderAdmin(main, r.parts[1] || 'agents', r.params);
    else app.page = await (await pages.list()).renderList(main, r.params);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    replace(main, h('div', { class: 'error-page' },
      h('h1', null, e instanceof ApiError && e.status === 404 ? 'Not found' :
        e instanceof ApiError && e.status === 403 ? 'Not allowed' : 'Something went wrong'),
      h('p', null, e.message), h('p', null, h('a', { href: '#/' }, 'Back to the tickets'))));
  }
  refreshSidebar();
  markNav();
}

function markNav() {
  const hash = location.hash || '#/';
  for (const a of document.querySelectorAll('#topnav a, #queues a, #views a')) {
    const href = a.getAttribute('href');
    const cur = href === hash || (href !== '#/' && hash.startsWith(href + '?')) ||
      (href === '#/' && (hash === '#/' || hash.startsWith('#/?') || hash.startsWith('#/ticket')));
    if (cur) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function loadQueues() {
  const queues = rows(await get('/queues'), 'queues');
  app.queues = queues.map(x => x.name);
  app.queuesReady = null;
  return queues;
}

// Tickets still to work on: every status but resolved and closed.
function active(x) {
  const c = x.counts || {};
  return (c.new || 0) + (c.open || 0) + (c.pending || 0);
}

// Sidebar: the agent's queues with counts and saved views with counts.
export const refreshSidebar = debounce(async () => {
  if (!app.me) return;
  try {
    const [queues, v] = await Promise.all([loadQueues(), get('/views').catch(() => [])]);
    replace($('#queues'),
      h('li', null, h('a', { href: '#/' }, h('span', null, 'All my queues'),
        h('span', { class: 'count', title: 'new, open and pending tickets' }, String(queues.reduce((n, x) => n + active(x), 0))))),
      queues.map(x => h('li', null, h('a', { href: '#/?queue=' + encodeURIComponent(x.name) },
        h('span', null, x.name),
        h('span', { class: 'count', title: `new ${x.counts?.new ?? 0}, open ${x.counts?.open ?? 0}, pending ${x.counts?.pending ?? 0}, total ${x.total ?? 0}` }, String(active(x)))))));
    const views = rows(v, 'views');
    replace($('#views'), views.length ? views.map(x => h('li', { class: 'view' },
      h('a', { href: '#/?' + filtersQuery(x.filters || {}) }, h('span', null, x.name),
        h('span', { class: 'count' }, x.count === undefined || x.count === null ? '' : String(x.count))),
      h('button', { type: 'button', class: 'link', 'aria-label': `Delete view ${x.name}`,
        onclick: async () => { await del('/views/' + encodeURIComponent(x.id)); refreshSidebar(); } }, '×')))
      : h('li', { class: 'muted' }, 'No saved views'));
    markNav();
  } catch (e) { if (!(e instanceof ApiError)) console.warn(e); }
}, 150);

function filtersQuery(f) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== '' && v !== null && v !== undefined) u.set(k, v);
  return u.toString();
}

// Save the list's current filters as a view: a small form in the sidebar.
function saveView() {
  const box = $('#view-form');
  box.hidden = !box.hidden;
  if (!box.hidden) $('#view-name').focus();
}

async function submitView(e) {
  e.preventDefault();
  const name = $('#view-name').value.trim();
  if (!name) return;
  try {
    const { currentFilters } = await pages.list();
    await post('/views', { name, filters: currentFilters() });
    toast(`View “${name}” saved`);
    $('#view-form').reset();
    $('#view-form').hidden = true;
    refreshSidebar();
  } catch (ex) { toast(ex.message, 'error'); }
}

// Live updates: one EventSource; pages decide what an event means to them.
function startEvents() {
  if (app.events || typeof EventSource === 'undefined') return;
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  app.events = es;
  const live = $('#live');
  // After the stream (re)opens, the page asks again once: what changed
  // while it was down, and what the server's change poller took for
  // "already there" on its first look (it starts with the first stream).
  let resync = 0;
  const catchUp = () => {
    clearTimeout(resync);
    resync = setTimeout(() => {
      refreshSidebar();
      if (app.page && app.page.onEvent) app.page.onEvent({ type: 'resync' });
    }, 2500);
  };
  es.onopen = () => { live.textContent = '● live'; live.className = 'live on'; catchUp(); };
  es.onerror = () => { live.textContent = '○ reconnecting'; live.className = 'live off'; };
  const handle = (type) => (msg) => {
    let data = {};
    try { data = JSON.parse(msg.data); } catch { return; }
    const ev = { type, ...data };
    if (type === 'presence') notePresence(ev);
    if (type !== 'presence') refreshSidebar();
    if (app.page && app.page.onEvent) app.page.onEvent(ev);
  };
  for (const t of ['ticket.new', 'ticket.updated', 'presence']) es.addEventListener(t, handle(t));
  es.onmessage = (msg) => {
    try { const d = JSON.parse(msg.data); if (d.type) handle(d.type)(msg); } catch { /* ignore */ }
  };
}

function stopEvents() {
  if (app.events) { app.events.close(); app.events = null; }
  const live = $('#live');
  if (live) live.textContent = '';
}

// presence events: {number, presence: [{email, name, state}]} (the whole
// set of agents on the ticket).
export function notePresence(ev) {
  const n = eventNumber(ev);
  if (!n) return;
  let m = app.presence.get(n);
  if (!m) { m = new Map(); app.presence.set(n, m); }
  const add = (a, state) => {
    const email = typeof a === 'string' ? a : (a.email || a.agent);
    if (!email) return;
    const name = typeof a === 'string' ? a : (a.name || email);
    const st = state || a.state || 'viewing';
    if (st === 'left' || st === 'gone' || st === 'idle') m.delete(email);
    else m.set(email, { name, state: st });
  };
  const all = ev.presence || ev.agents;
  if (Array.isArray(all)) { m.clear(); all.forEach(a => add(a)); }
  else if (ev.agent) add(ev.agent, ev.state);
}

// Others on a ticket (not me).
export function othersOn(n) {
  const m = app.presence.get(Number(n));
  if (!m) return [];
  return [...m.entries()].filter(([e]) => !app.me || e !== app.me.email).map(([email, v]) => ({ email, ...v }));
}

function typing(e) {
  const t = e.target;
  return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
}

function onKey(e) {
  if (!app.me || e.defaultPrevented) return;
  if (e.key === 'Escape' && typing(e)) { e.target.blur(); return; }
  if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  if ($('#help').open) return;
  if (e.key === '?') { e.preventDefault(); $('#help').showModal(); return; }
  if (e.key === 'u') { e.preventDefault(); history.length > 1 && route().parts[0] === 'ticket' ? history.back() : go('#/'); return; }
  if (app.page && app.page.onKey && app.page.onKey(e)) e.preventDefault();
}


boot();
