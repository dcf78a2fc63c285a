// One ticket: the thread (inbound, outbound with delivery state, notes),
// quoted history folded, attachments, HTML mail in a sandboxed iframe,
// the properties, participants, the requester's other tickets, the reply
// and note composer with server-side drafts, and collision detection
// (presence of other agents; a reply refused with the newer messages
// shown when the thread moved on since it was opened).
import { h, $, replace, field, select, timeEl, person, size, toast, debounce } from './dom.js';
import { get, post, put, patch, del, api, rows, ApiError } from './api.js';
import { app, go, othersOn, notePresence, eventNumber } from './app.js';
import { STATUSES, PRIORITIES } from './model.js';

const PRESENCE_EVERY_MS = 15000;

export async function renderTicket(main, number, params) {
  const base = `/tickets/${number}`;
  let t = await get(base);
  if (app.queuesReady) await app.queuesReady;
  let version = t.version;          // what this agent has seen
  let mode = params.get('mode') === 'note' ? 'note' : 'reply';
  let uploads = [];                 // [{id, filename, size}]
  let myState = 'viewing';
  let left = false;
  document.title = `#${number} ${t.subject || ''} · relaydesk`;
  if (Array.isArray(t.presence)) notePresence({ ticket: number, agents: t.presence });

  // --- header ------------------------------------------------------------
  const presence = h('p', { class: 'presence-bar', id: 'presence', 'aria-live': 'polite' });
  const activity = h('div', { class: 'activity', id: 'activity', hidden: true, role: 'status' });
  const head = h('header', { class: 'ticket-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/', id: 'back' }, '← Tickets')),
    h('h1', { id: 'ticket-subject' }, h('span', { class: 'num' }, `#${number} `), h('span', { class: 'subj' }, t.subject || '(no subject)')),
    h('p', { class: 'meta' },
      h('span', { class: 'subject-tag', id: 'subject-tag', title: 'Subject tag' }, t.subject_tag || ''), ' · ',
      h('span', null, 'Reply address: '), h('code', { id: 'reply-address' }, t.reply_address || ''), ' · ',
      h('span', null, 'Requester: '), h('span', { id: 'requester' }, person(t.requester))),
    presence, activity);

  const thread = h('section', { class: 'thread', id: 'thread', 'aria-label': 'Messages' });
  const side = h('aside', { class: 'ticket-side', id: 'ticket-side', 'aria-label': 'Ticket properties' });
  let sideBuilt = false;
  const tagList = h('ul', { class: 'taglist', id: 'tag-list' });
  const participants = h('ul', { class: 'participants', id: 'participants' });
  const links = h('div', { id: 'links' });
  const history = h('div', { id: 'history' });
  const composer = buildComposer();
  replace(main, h('div', { class: 'ticket' }, head, h('div', { class: 'ticket-body' }, h('div', { class: 'ticket-main' }, thread, composer), side)));

  renderThread();
  renderSide();
  renderPresence();
  loadDraft();
  loadOthers();

  // --- thread ------------------------------------------------------------
  function renderThread() {
    replace(thread, (t.messages || []).map(messageEl));
  }

  function messageEl(m) {
    const dir = m.direction;
    const label = dir === 'inbound' ? 'Received' : dir === 'outbound' ? 'Sent' : 'Internal note';
    const body = h('div', { class: 'body' }, dir === 'note' ? (m.body_text || '') : (m.body_unquoted ?? m.body_text ?? ''));
    const parts = [body];
    if (m.quoted_lines > 0) {
      parts.push(h('details', { class: 'quoted' },
        h('summary', null, `Show quoted history (${m.quoted_lines} lines)`),
        h('div', { class: 'body' }, m.body_text || '')));
    }
    const hasHtml = 'has_html' in m ? m.has_html : dir === 'inbound';
    if (hasHtml && m.id) parts.push(htmlView(m));
    if (m.attachments && m.attachments.length) {
      parts.push(h('ul', { class: 'attachments', 'aria-label': 'Attachments' },
        m.attachments.map(a => h('li', null,
          h('a', { href: `/api/v1/attachments/${encodeURIComponent(a.id)}`, download: '', class: 'attachment', rel: 'noopener' }, a.filename || `attachment-${a.id}`),
          h('span', { class: 'muted' }, ` ${a.content_type || ''}, ${size(a.size)}`)))));
    }
    const auth = m.authentication;
    return h('article', { class: `msg ${dir}`, id: `m${m.id}`, dataset: { id: m.id, direction: dir } },
      h('header', null,
        h('span', { class: 'dir' }, label),
        h('strong', { class: 'from' }, dir === 'note' ? (m.author || '') : person(m.from)),
        // Issue 16: every inbound message says whether its sender is verified
        // (From domain DMARC-aligned and passing), with the results on hover.
        auth ? h('span', { class: `badge sender ${auth.verified ? 'ok' : 'unverified'}`,
                           title: `SPF ${auth.spf}, DKIM ${auth.dkim}, DMARC ${auth.dmarc}` },
                 auth.verified ? 'sender verified' : 'sender not verified') : null,
        dir === 'outbound' && m.author ? h('span', { class: 'muted' }, ` by ${m.author}`) : null,
        dir === 'outbound' && m.delivery_status ? h('span', { class: `badge delivery d-${m.delivery_status}`, title: m.delivery_code || '' }, m.delivery_status) : null,
        timeEl(m.created_at)),
      m.to && dir !== 'note' ? h('p', { class: 'to muted' }, 'To: ', m.to, m.cc ? ` · Cc: ${m.cc}` : '') : null,
      parts);
  }

  // HTML mail: only in a sandboxed iframe (no allow-scripts, no
  // allow-same-origin), from the server's sanitized rendering; remote
  // images only after the agent asks.
  function htmlView(m) {
    const src = `/api/v1/tickets/${number}/html?message=${encodeURIComponent(m.id)}`;
    const box = h('div', { class: 'html-view' });
    const show = h('button', { type: 'button', class: 'show-html', onclick: async () => {
      // Ask first: a message without an HTML part says so instead of a
      // frame with an error in it.
      try {
        const r = await fetch(src, { credentials: 'same-origin', cache: 'no-store' });
        if (r.status === 404) { replace(box, h('p', { class: 'muted' }, 'This message has no HTML part.')); return; }
      } catch { /* show the frame anyway */ }
      const frame = h('iframe', { sandbox: '', referrerpolicy: 'no-referrer', title: 'Formatted (HTML) version of the message', class: 'mail-html', src });
      const imgs = h('button', { type: 'button', class: 'load-images', onclick: () => { frame.setAttribute('src', src + '&images=1'); imgs.remove(); } }, 'Load remote images');
      replace(box, h('p', { class: 'muted' }, 'Remote images are blocked. ', imgs), frame);
    } }, 'Show formatted version');
    replace(box, show);
    return box;
  }

  // --- side panel ----------------------------------------------------------
  // Built once; later changes (this agent's or anyone's, live) update the
  // controls in place, so a control the agent is using never disappears.

  function buildSide() {
    const props = h('form', { class: 'props', id: 'props', 'aria-label': 'Properties' },
      field('Status', select('status', STATUSES, t.status, { id: 'status' })),
      field('Priority', select('priority', PRIORITIES, t.priority, { id: 'priority' })),
      field('Assignee', h('input', { name: 'assignee', id: 'assignee', value: t.assignee || '', list: 'agents-list', placeholder: 'unassigned' })),
      field('Queue', select('queue', [t.queue], t.queue, { id: 'queue' })),
      h('button', { type: 'submit', id: 'props-save' }, 'Save'));
    props.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') change({ [e.target.name]: e.target.value }); });
    props.addEventListener('submit', (e) => {
      e.preventDefault();
      const a = $('#assignee').value.trim();
      if (a !== (t.assignee || '')) change({ assignee: a });
    });
    const tagInput = h('input', { name: 'tag', id: 'tag-add', size: 10, 'aria-label': 'New tag' });
    const tags = h('form', { class: 'tags', id: 'tags' }, h('h2', null, 'Tags'), tagList, tagInput, h('button', { type: 'submit' }, 'Add tag'));
    tags.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = tagInput.value.trim();
      if (v) { change({ tags_add: [v] }); tagInput.value = ''; }
    });
    replace(side, props, tags,
      h('h2', null, 'Participants'), participants, links,
      h('h2', null, 'Requester’s other tickets'),
      h('ul', { class: 'others', id: 'requester-tickets' }, h('li', { class: 'muted' }, '…')),
      history);
    sideBuilt = true;
  }

  function renderSide() {
    if (!sideBuilt) buildSide();
    const set = (id, v) => { const el = $('#' + id); if (el && el.value !== v && document.activeElement !== el) el.value = v; };
    const queues = app.queues.length ? app.queues : ((app.me && app.me.queues) || []);
    const qs = queues.includes(t.queue) ? queues : [t.queue, ...queues];
    const qsel = $('#queue');
    if (qsel && [...qsel.options].map(o => o.value).join() !== qs.join()) replace(qsel, qs.map(q => h('option', { value: q }, q)));
    set('status', t.status);
    set('priority', t.priority);
    set('queue', t.queue);
    set('assignee', t.assignee || '');
    replace(tagList, (t.tags || []).map(x => h('li', { class: 'tag' }, x,
      h('button', { type: 'button', class: 'link', 'aria-label': `Remove tag ${x}`, onclick: () => change({ tags_remove: [x] }) }, '×'))));
    replace(participants, (t.participants || []).map(p => h('li', null, person(p))));
    replace(links, (t.links && t.links.length) ? [h('h2', null, 'Linked tickets'),
      h('ul', null, t.links.map(n => h('li', null, h('a', { href: `#/ticket/${Number(n)}` }, `#${Number(n)}`))))] : null);
    const open = history.querySelector('details')?.open;
    replace(history, (t.audit && t.audit.length) ? h('details', { class: 'audit', open: !!open }, h('summary', null, 'History'),
      h('ul', null, t.audit.map(a => h('li', null, timeEl(a.at), ' ', a.actor || 'system', ': ', a.action,
        a.old || a.new ? ` ${a.old || ''} → ${a.new || ''}` : '')))) : null);
  }

  async function loadOthers() {
    const addr = t.requester && t.requester.addr;
    const ul = $('#requester-tickets');
    if (!addr || !ul) return;
    try {
      const list = rows(await get(`/requesters/${encodeURIComponent(addr)}/tickets`), 'tickets').filter(x => x.number !== number);
      replace(ul, list.length ? list.map(x => h('li', null, h('a', { href: `#/ticket/${x.number}` }, `#${x.number} `, x.subject || '(no subject)'), ' ', h('span', { class: `badge st-${x.status}` }, x.status)))
        : h('li', { class: 'muted' }, 'None'));
    } catch { replace(ul, h('li', { class: 'muted' }, 'Not available')); }
  }

  async function change(body) {
    try {
      const r = await patch(base, body);
      // Only the properties: the thread (and the version this agent has
      // seen) stays as it was, so a reply that arrived meanwhile still
      // holds back this agent's next reply.
      if (r && r.number && !('status' in r)) {
        // moved to a queue this agent is not in: it is out of their sight
        toast(`#${number} moved to a queue you do not work in`);
        go('#/');
        return;
      }
      const fresh = await get(base);   // with the history (the PATCH answer has none)
      for (const k of ['status', 'priority', 'assignee', 'queue', 'tags', 'updated_at', 'audit']) if (k in fresh) t[k] = fresh[k];
      renderSide();
      toast('Saved');
    } catch (e) { toast(e.message, 'error'); renderSide(); }
  }

  // --- presence ------------------------------------------------------------
  function renderPresence() {
    const o = othersOn(number);
    presence.textContent = o.length ? 'Also here: ' + o.map(x => `${x.name} (${x.state})`).join(', ') : '';
    presence.classList.toggle('warn', o.some(x => x.state === 'replying'));
  }

  async function sendPresence(state) {
    myState = state;
    try { await post(`${base}/presence`, { state }); } catch { /* best effort */ }
  }
  sendPresence('viewing');
  const beat = setInterval(() => { if (!left) sendPresence(myState); }, PRESENCE_EVERY_MS);

  // --- composer --------------------------------------------------------------
  function buildComposer() {
    const text = h('textarea', { id: 'compose-text', name: 'text', rows: 6, 'aria-label': 'Reply text' });
    const files = h('input', { type: 'file', id: 'compose-files', multiple: true, 'aria-label': 'Attach files' });
    const chips = h('ul', { class: 'chips', id: 'compose-attachments' });
    const collision = h('div', { class: 'collision', id: 'collision', hidden: true, role: 'alert' });
    const sendBtn = h('button', { type: 'submit', id: 'compose-send', class: 'primary' }, 'Send reply');
    const draftState = h('span', { class: 'muted', id: 'draft-state', 'aria-live': 'polite' });
    const tabReply = h('button', { type: 'button', role: 'tab', id: 'tab-reply', 'aria-selected': 'true', onclick: () => setMode('reply') }, 'Reply');
    const tabNote = h('button', { type: 'button', role: 'tab', id: 'tab-note', 'aria-selected': 'false', onclick: () => setMode('note') }, 'Internal note');
    const filesField = field('Attachments', files, 'files');
    const replyAll = h('input', { type: 'checkbox', id: 'reply-all', name: 'reply_all' });
    const pending = h('input', { type: 'checkbox', id: 'set-pending', name: 'pending' });
    const replyOpts = h('div', { class: 'reply-opts' },
      h('label', { class: 'check' }, replyAll, ' Reply to all participants'),
      h('label', { class: 'check' }, pending, ' Then set the ticket pending'));
    const form = h('form', { class: `composer ${mode}`, id: 'composer', 'aria-label': 'Reply or note' },
      h('div', { role: 'tablist', class: 'tabs' }, tabReply, tabNote),
      text, filesField, chips, replyOpts, collision,
      h('div', { class: 'actions' }, sendBtn, draftState, h('span', { class: 'muted hint' }, 'Ctrl+Enter sends')));

    const saveDraft = debounce(async () => {
      try {
        if (text.value) await put(`${base}/draft`, { text: text.value, kind: mode });
        else await del(`${base}/draft`);
        draftState.textContent = 'Draft saved';
      } catch { draftState.textContent = 'Draft not saved'; }
    }, 600);

    text.addEventListener('input', () => {
      draftState.textContent = '';
      saveDraft();
      const want = text.value ? 'replying' : 'viewing';
      if (want !== myState) sendPresence(want);
    });
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    files.addEventListener('change', async () => {
      for (const f of files.files) {
        const fd = new FormData();
        fd.append('file', f, f.name);
        const chip = h('li', { class: 'chip uploading' }, f.name, ' …');
        chips.append(chip);
        try {
          const r = await api('POST', '/uploads', fd);
          const up = { id: r.id, filename: r.filename || f.name, size: r.size ?? f.size };
          uploads.push(up);
          replace(chip, up.filename, h('span', { class: 'muted' }, ` ${size(up.size)} `),
            h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${up.filename}`, onclick: () => { uploads = uploads.filter(u => u !== up); chip.remove(); } }, '×'));
          chip.className = 'chip';
          chip.dataset.upload = up.id;
        } catch (e) {
          replace(chip, f.name, ': ', e.message);
          chip.className = 'chip fail';
        }
      }
      files.value = '';
    });

    async function send(confirm) {
      const body = { text: text.value, version };
      if (!body.text.trim()) { toast('Nothing to send', 'error'); return; }
      if (mode === 'reply') {
        body.attachments = uploads.map(u => u.id);
        if (replyAll.checked) body.reply_all = true;
        if (pending.checked) body.status = 'pending';
      }
      if (confirm) body.confirm = true;
      sendBtn.disabled = true;
      try {
        await post(`${base}/${mode === 'reply' ? 'reply' : 'notes'}`, body);
        saveDraft.cancel();
        del(`${base}/draft`).catch(() => {});
        text.value = '';
        uploads = [];
        replyAll.checked = false;
        pending.checked = false;
        replace(chips);
        collision.hidden = true;
        draftState.textContent = '';
        sendPresence('viewing');
        toast(mode === 'reply' ? 'Reply sent' : 'Note added');
        await reload();
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) showCollision(e.body);
        else toast(e.message, 'error');
      } finally { sendBtn.disabled = false; }
    }

    function showCollision(b) {
      const newer = rows(b, 'messages', 'newer');
      if (b.version !== undefined && !newer.length && !confirmPending) {
        // Only properties changed since: nothing to read, send again.
        version = b.version;
        confirmPending = true;
        send(false).finally(() => { confirmPending = false; });
        return;
      }
      const v = b.version;
      replace(collision,
        h('p', null, h('strong', null, 'Not sent: '), `${newer.length || 'New'} message${newer.length === 1 ? '' : 's'} arrived after you opened this ticket. Read ${newer.length === 1 ? 'it' : 'them'}, then send anyway or edit your text.`),
        h('div', { class: 'newer', id: 'newer-messages' }, newer.map(messageEl)),
        h('button', { type: 'button', id: 'confirm-send', class: 'primary', onclick: () => { if (v !== undefined) version = v; collision.hidden = true; send(true); } },
          mode === 'reply' ? 'Send anyway' : 'Add note anyway'),
        ' ', h('button', { type: 'button', onclick: () => { collision.hidden = true; reload(); } }, 'Reload the thread'));
      collision.hidden = false;
      collision.scrollIntoView({ block: 'nearest' });
    }
    let confirmPending = false;

    form.addEventListener('submit', (e) => { e.preventDefault(); send(false); });

    function setMode(m) {
      mode = m;
      form.className = `composer ${m}`;
      tabReply.setAttribute('aria-selected', String(m === 'reply'));
      tabNote.setAttribute('aria-selected', String(m === 'note'));
      text.setAttribute('aria-label', m === 'reply' ? 'Reply text' : 'Note text');
      text.placeholder = m === 'reply' ? `Reply to ${person(t.requester)}` : 'Internal note (not sent to the requester)';
      sendBtn.textContent = m === 'reply' ? 'Send reply' : 'Add note';
      filesField.hidden = m !== 'reply';
      chips.hidden = m !== 'reply';
      replyOpts.hidden = m !== 'reply';
    }
    setMode(mode);
    form.setMode = setMode;
    return form;
  }

  async function loadDraft() {
    try {
      const d = await get(`${base}/draft`);
      const tx = $('#compose-text');
      if (d && d.text && tx && !tx.value) {
        tx.value = d.text;
        if (d.kind === 'note') composer.setMode('note');
        $('#draft-state').textContent = 'Draft restored';
      }
    } catch { /* no draft */ }
  }

  async function reload() {
    t = await get(base);
    version = t.version;
    activity.hidden = true;
    renderThread();
    renderSide();
    loadOthers();
  }

  function neighbour(step) {
    const list = app.lastList || [];
    const i = list.indexOf(number);
    const n = list[i + step];
    if (i >= 0 && n !== undefined) go(`#/ticket/${n}`);
  }

  return {
    name: 'ticket',
    number,
    onEvent(ev) {
      if (ev.type === 'resync') {
        // the stream was down: look at the ticket as it is now
        get(base).then(now => this.onEvent({ type: 'ticket.updated', ticket: now })).catch(() => {});
        return;
      }
      const n = eventNumber(ev);
      if (ev.type === 'presence') { if (n === number) renderPresence(); return; }
      if (n !== number || ev.type !== 'ticket.updated') return;
      const fresh = typeof ev.ticket === 'object' ? ev.ticket : null;
      if (fresh) {
        // Properties changed by anyone show at once.
        let changed = false;
        for (const k of ['status', 'priority', 'assignee', 'queue', 'tags']) {
          if (k in fresh && JSON.stringify(fresh[k]) !== JSON.stringify(t[k])) { t[k] = fresh[k]; changed = true; }
        }
        if (changed) renderSide();
        if (!('message_count' in fresh) || fresh.message_count <= (t.messages || []).length) return;
      }
      // New messages: say so, but keep the version this agent has read
      // (the server holds a reply back until they have seen them).
      replace(activity, 'This ticket changed since you opened it. ',
        h('button', { type: 'button', id: 'activity-reload', onclick: reload }, 'Show the changes'));
      activity.hidden = false;
    },
    onKey(e) {
      if (e.key === 'r' || e.key === 'n') { composer.setMode(e.key === 'r' ? 'reply' : 'note'); $('#compose-text').focus(); return true; }
      if (e.key === 'a') { $('#assignee').focus(); $('#assignee').select(); return true; }
      if (e.key === 'c') { change({ status: 'closed' }); return true; }
      if (e.key === 'j') { neighbour(1); return true; }
      if (e.key === 'k') { neighbour(-1); return true; }
      return false;
    },
    leave() {
      left = true;
      clearInterval(beat);
      // keepalive: also sent when the tab is closing (pagehide)
      post(`${base}/presence`, { state: 'left' }, { keepalive: true }).catch(() => {});
    },
  };
}
