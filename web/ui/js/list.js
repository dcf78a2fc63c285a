// The ticket list: filters (queue, status, assignee, tag, priority),
// search, sorting, paging, bulk actions with a result per ticket, the
// agents on each ticket (presence), live updates from the event stream.
import { h, $, $$, replace, field, select, timeEl, person, toast, debounce } from './dom.js';
import { get, post, rows } from './api.js';
import { app, go, othersOn, notePresence, eventNumber, listQuery, takePrefetch } from './app.js';
import { STATUSES, PRIORITIES, SORTS } from './model.js';

const KEYS = ['queue', 'status', 'assignee', 'tag', 'priority', 'q', 'sort', 'page', 'per_page'];
let filters = {};

export function currentFilters() {
  const f = {};
  for (const k of KEYS) if (filters[k] && k !== 'page') f[k] = filters[k];
  return f;
}

function hashFor(f) {
  const u = new URLSearchParams();
  for (const k of KEYS) if (f[k]) u.set(k, f[k]);
  const s = u.toString();
  return '#/' + (s ? '?' + s : '');
}

export async function renderList(main, params) {
  filters = {};
  for (const k of KEYS) if (params.get(k)) filters[k] = params.get(k);
  const page = Number(filters.page || 1);
  const perPage = Number(filters.per_page || 50);
  document.title = 'Tickets · relaydesk';
  const t0 = performance.now();

  // The first page of tickets is asked for at once, beside the queues.
  const path = '/tickets' + listQuery(params);
  const first = takePrefetch(path) || get(path);
  first.catch(() => {});
  if (app.queuesReady) await app.queuesReady;
  const queues = app.queues.length ? app.queues : ((app.me && app.me.queues) || []);
  const form = h('form', { class: 'filters', id: 'filters', role: 'search', 'aria-label': 'Filter tickets' },
    field('Search', h('input', { type: 'search', name: 'q', id: 'search', value: filters.q || '', placeholder: 'Search subject, body, sender…' }), 'grow'),
    field('Queue', select('queue', [['', 'All'], ...queues.map(q => [q, q])], filters.queue, { id: 'f-queue' })),
    field('Status', select('status', [['', 'Any'], ...STATUSES.map(s => [s, s])], filters.status, { id: 'f-status' })),
    field('Priority', select('priority', [['', 'Any'], ...PRIORITIES.map(s => [s, s])], filters.priority, { id: 'f-priority' })),
    field('Assignee', h('input', { name: 'assignee', id: 'f-assignee', value: filters.assignee || '', list: 'agents-list', placeholder: 'anyone', size: 12 })),
    field('Tag', h('input', { name: 'tag', id: 'f-tag', value: filters.tag || '', size: 10 })),
    field('Sort', select('sort', SORTS, filters.sort || 'number', { id: 'f-sort' })),
    h('button', { type: 'submit' }, 'Apply'),
    h('button', { type: 'button', class: 'filters-toggle', 'aria-expanded': 'false', onclick: (e) => {
      const open = form.classList.toggle('open');
      e.target.setAttribute('aria-expanded', String(open));
    } }, 'Filters'));
  if (filters.queue || filters.status || filters.priority || filters.assignee || filters.tag) form.classList.add('open');
  const apply = () => {
    const fd = new FormData(form);
    const f = {};
    for (const [k, v] of fd.entries()) if (v) f[k] = String(v).trim();
    if (f.sort === 'number') delete f.sort;
    if (filters.per_page) f.per_page = filters.per_page;
    go(hashFor(f));
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); apply(); });
  form.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') apply(); });

  const table = h('table', { class: 'tickets', id: 'tickets' },
    h('caption', { class: 'sr-only' }, 'Tickets'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col', class: 'sel' }, h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all tickets on this page', onchange: (e) => { $$('input.pick', table).forEach(c => { c.checked = e.target.checked; }); updateBulk(); } })),
      h('th', { scope: 'col', class: 'num' }, '#'),
      h('th', { scope: 'col' }, 'Subject'),
      h('th', { scope: 'col', class: 'wide' }, 'Requester'),
      h('th', { scope: 'col', class: 'wide' }, 'Queue'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col', class: 'wide' }, 'Priority'),
      h('th', { scope: 'col', class: 'wide' }, 'Assignee'),
      h('th', { scope: 'col', class: 'wide' }, 'Updated'))),
    h('tbody', { id: 'ticket-rows' }));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const bulk = bulkBar();
  const status = h('p', { class: 'muted', id: 'list-status', 'aria-live': 'polite' });
  replace(main, h('h1', { class: 'sr-only' }, 'Tickets'), form, bulk, status, h('div', { class: 'table-wrap' }, table), pager);

  let cursor = -1;
  let data = null;

  let gone = false;
  async function load(initial) {
    const answer = await (initial || get('/tickets' + listQuery(params)));
    if (gone) return;           // the agent moved on meanwhile
    data = answer;
    const list = rows(data, 'tickets');
    for (const [num, p] of Object.entries(data.presence || {})) notePresence({ number: Number(num), presence: p });
    app.lastList = list.map(t => t.number);
    const body = $('#ticket-rows', table);
    const checked = new Set($$('input.pick:checked', table).map(c => c.value));
    replace(body, list.length ? list.map(t => row(t, checked.has(String(t.number)))) :
      h('tr', null, h('td', { colspan: 9, class: 'empty' }, filters.q ? 'No ticket matches the search.' : 'No tickets.')));
    const from = list.length ? (page - 1) * perPage + 1 : 0;
    const to = (page - 1) * perPage + list.length;
    // total is null when counting would be slow (a search); has_more says
    // whether a next page exists.
    const known = data.total !== null && data.total !== undefined;
    const total = known ? data.total : to + (data.has_more ? 1 : 0);
    const more = data.has_more ?? to < total;
    status.textContent = known ? `${from}–${to} of ${total}${data.total_capped ? '+' : ''}` : `${from}–${to}${more ? ' of more' : ''}`;
    replace(pager,
      page > 1 ? h('a', { href: hashFor({ ...filters, page: page - 1 }), rel: 'prev', id: 'prev-page' }, '← Previous') : h('span', { class: 'muted' }, '← Previous'),
      h('span', null, known && !data.total_capped ? `Page ${page} of ${Math.max(1, Math.ceil(total / perPage))}` : `Page ${page}`),
      more ? h('a', { href: hashFor({ ...filters, page: page + 1 }), rel: 'next', id: 'next-page' }, 'Next →') : h('span', { class: 'muted' }, 'Next →'));
    if (cursor >= list.length) cursor = list.length - 1;
    mark();
    updateBulk();
  }

  function row(t, checked) {
    if (Array.isArray(t.presence)) notePresence({ ticket: t.number, agents: t.presence });
    const others = othersOn(t.number);
    return h('tr', { dataset: { number: t.number }, class: `st-${t.status} pr-${t.priority}` },
      h('td', { class: 'sel' }, h('input', { type: 'checkbox', class: 'pick', value: t.number, checked, 'aria-label': `Select ticket ${t.number}`, onchange: updateBulk })),
      h('td', { class: 'num' }, String(t.number)),
      h('td', { class: 'subject' },
        h('a', { href: `#/ticket/${t.number}` }, t.subject || '(no subject)'),
        (t.tags || []).map(x => h('span', { class: 'tag' }, x)),
        h('span', { class: 'presence', dataset: { presence: t.number } }, presenceText(others)),
        h('span', { class: 'narrow muted' }, (t.requester && (t.requester.name || t.requester.addr)) || '', t.assignee ? ` · ${t.assignee}` : '')),
      h('td', { class: 'wide' }, person(t.requester)),
      h('td', { class: 'wide' }, t.queue || ''),
      h('td', null, h('span', { class: `badge st-${t.status}` }, t.status)),
      h('td', { class: 'wide' }, t.priority),
      h('td', { class: 'wide' }, t.assignee || '—'),
      h('td', { class: 'wide' }, timeEl(t.updated_at)));
  }

  function presenceText(others) {
    if (!others.length) return '';
    return ' ● ' + others.map(o => `${o.name} ${o.state}`).join(', ');
  }

  function mark() {
    const trs = $$('#ticket-rows tr[data-number]', table);
    trs.forEach((tr, i) => tr.classList.toggle('cursor', i === cursor));
    if (trs[cursor]) trs[cursor].scrollIntoView({ block: 'nearest' });
  }

  function bulkBar() {
    const res = h('ul', { class: 'bulk-results', id: 'bulk-results', 'aria-live': 'polite' });
    const f = h('form', { class: 'bulk', id: 'bulk', hidden: true, 'aria-label': 'Bulk actions' },
      h('strong', { id: 'bulk-count' }),
      field('Status', select('status', [['', '—'], ...STATUSES.map(s => [s, s])], '', { id: 'bulk-status' })),
      field('Assign', h('input', { name: 'assignee', id: 'bulk-assignee', size: 12, list: 'agents-list' })),
      field('Add tag', h('input', { name: 'tag', id: 'bulk-tag', size: 10 })),
      field('Queue', select('queue', [['', '—'], ...queues.map(q => [q, q])], '', { id: 'bulk-queue' })),
      h('button', { type: 'submit', id: 'bulk-apply' }, 'Apply to selected'));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const numbers = $$('input.pick:checked', table).map(c => Number(c.value));
      const fd = new FormData(f);
      const set = {};
      if (fd.get('status')) set.status = fd.get('status');
      if (fd.get('assignee')) set.assignee = fd.get('assignee');
      if (fd.get('tag')) set.tags_add = [fd.get('tag')];
      if (fd.get('queue')) set.queue = fd.get('queue');
      if (!Object.keys(set).length) { toast('Choose an action first', 'error'); return; }
      const body = { numbers, set };
      try {
        const r = await post('/tickets/bulk', body);
        const results = rows(r, 'results');
        replace(res, results.map(x => h('li', { class: x.ok === false || x.error ? 'fail' : 'ok' },
          `#${x.number}: `, x.ok === false || x.error ? (x.error || 'failed') : 'done')));
        f.reset();
        await load();
      } catch (ex) { toast(ex.message, 'error'); }
    });
    return h('div', null, f, res);
  }

  function updateBulk() {
    const n = $$('input.pick:checked', table).length;
    const f = $('#bulk');
    if (!f) return;
    f.hidden = n === 0;
    $('#bulk-count').textContent = `${n} selected`;
  }

  await load(first);
  const ms = Math.round(performance.now() - t0);
  document.body.dataset.listMs = String(ms);
  // Time from navigation to the first list shown (the browser tests read it).
  if (!document.body.dataset.firstListAt) document.body.dataset.firstListAt = String(Math.round(performance.now()));
  const reload = debounce(() => load().catch(() => {}), 200);

  return {
    name: 'list',
    leave() { gone = true; reload.cancel(); },
    onEvent(ev) {
      if (ev.type === 'presence') {
        const n = eventNumber(ev);
        const cell = document.querySelector(`[data-presence="${n}"]`);
        if (cell) cell.textContent = presenceText(othersOn(n));
        return;
      }
      reload();
    },
    onKey(e) {
      const trs = $$('#ticket-rows tr[data-number]', table);
      if (e.key === 'j') { cursor = Math.min(trs.length - 1, cursor + 1); mark(); return true; }
      if (e.key === 'k') { cursor = Math.max(0, cursor - 1); mark(); return true; }
      if ((e.key === 'o' || e.key === 'Enter') && trs[cursor]) { go(`#/ticket/${trs[cursor].dataset.number}`); return true; }
      if (e.key === 'x' && trs[cursor]) { const c = $('input.pick', trs[cursor]); c.checked = !c.checked; updateBulk(); return true; }
      if (e.key === '/') { $('#search').focus(); return true; }
      return false;
    },
  };
}
