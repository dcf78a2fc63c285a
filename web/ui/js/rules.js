// Rule playground: open an active Sieve script, edit it with `rules check`
// diagnostics at their line and column as one types, dry-run it against a
// message stored on a ticket (actions and the effect on the ticket), save
// and activate it (the server refuses a broken script), versions and
// restore.
import { h, replace, field, select, timeEl, toast, debounce } from './dom.js';
import { get, post, put, rows, ApiError } from './api.js';

export async function renderRules(main) {
  document.title = 'Rules · relaydesk';
  const list = await get('/rules');
  const scripts = rows(list, 'scripts');
  if (!scripts.length) {
    replace(main, h('section', { class: 'rules', id: 'rules' }, h('h1', null, 'Rule playground'),
      h('p', null, 'No Sieve script is configured: name one in [rules] (default, before, after or scripts) of relaydesk.conf.')));
    return { name: 'rules' };
  }
  let current = scripts.find(s => s.role === 'default') || scripts[0];

  const label = (s) => `${s.name} (${s.role}${s.inbox ? ' ' + s.inbox : ''}${s.exists === false ? ', not written yet' : ''})`;
  const picker = select('script', scripts.map(s => [s.name, label(s)]), current.name, { id: 'rule-script' });
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true', id: 'rule-gutter' });
  const editor = h('textarea', { id: 'rule-editor', spellcheck: 'false', wrap: 'off', rows: 18, 'aria-label': 'Sieve script', 'aria-describedby': 'rule-diagnostics' });
  const diags = h('ul', { class: 'diagnostics', id: 'rule-diagnostics', 'aria-live': 'polite' });
  const checkState = h('p', { class: 'muted', id: 'rule-check-state' });
  const versions = h('ul', { class: 'versions', id: 'rule-versions' });
  const ticketNo = h('input', { type: 'number', min: 1, id: 'dry-ticket', name: 'ticket', size: 6 });
  const msgPick = h('select', { id: 'dry-message', name: 'message' }, h('option', { value: '' }, 'pick a ticket first'));
  const dryOut = h('div', { class: 'dry-result', id: 'dry-result', 'aria-live': 'polite' });
  let errorLines = new Set();

  function paintGutter() {
    const n = editor.value.split('\n').length;
    replace(gutter, Array.from({ length: n }, (_, i) => h('span', { class: errorLines.has(i + 1) ? 'err' : '', dataset: { line: i + 1 } }, String(i + 1))));
    gutter.scrollTop = editor.scrollTop;
  }

  const check = debounce(async () => {
    checkState.textContent = 'Checking…';
    try {
      const r = await post('/rules/check', { name: current.name, text: editor.value });
      const d = rows(r, 'diagnostics', 'errors');
      errorLines = new Set(d.filter(x => (x.severity || x.level || 'error') === 'error').map(x => Number(x.line)));
      replace(diags, d.map(x => h('li', { class: `diag ${x.severity || x.level || 'error'}`, dataset: { line: x.line, column: x.column ?? x.col },
        onclick: () => goTo(x.line, x.column ?? x.col) },
        h('strong', null, `line ${x.line}, column ${x.column ?? x.col}`), `: ${x.severity || x.level || 'error'}: `, x.message || x.text || '')));
      checkState.textContent = d.some(x => (x.severity || x.level || 'error') === 'error') ? 'The script has errors.' : 'The script compiles.';
      checkState.className = errorLines.size ? 'error' : 'ok';
    } catch (e) { checkState.textContent = e.message; }
    paintGutter();
  }, 250);

  function goTo(line, col) {
    const lines = editor.value.split('\n');
    let pos = 0;
    for (let i = 0; i < Number(line) - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    pos += Math.max(0, Number(col || 1) - 1);
    editor.focus();
    editor.setSelectionRange(pos, pos);
  }

  editor.addEventListener('input', () => { paintGutter(); check(); });
  editor.addEventListener('scroll', () => { gutter.scrollTop = editor.scrollTop; });
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.shiftKey && !e.ctrlKey) {
      e.preventDefault();
      editor.setRangeText('  ', editor.selectionStart, editor.selectionEnd, 'end');
      paintGutter(); check();
    }
  });

  async function open(name) {
    current = scripts.find(s => s.name === name) || current;
    let text = current.text;
    if (text === undefined) {
      const r = await get('/rules/' + encodeURIComponent(name));
      text = r.text ?? '';
      current.text = text;
    }
    editor.value = text;
    errorLines = new Set();
    paintGutter();
    replace(diags);
    check.flush();
    loadVersions();
  }
  picker.addEventListener('change', () => open(picker.value));

  // Newest first: the first is what is active (when it was saved here).
  async function loadVersions() {
    try {
      const v = rows(await get(`/rules/${encodeURIComponent(current.name)}/versions`), 'versions');
      replace(versions, v.length ? v.map((x, i) => h('li', { dataset: { version: x.id } },
        h('span', null, `Version ${x.id}`), ' ', timeEl(x.saved_at), ' ', x.saved_by ? `by ${x.saved_by}` : '', i === 0 ? ' (latest) ' : ' ',
        i === 0 ? null : h('button', { type: 'button', 'aria-label': `Restore version ${x.id}`, onclick: () => restore(x.id) }, 'Restore'))) :
        h('li', { class: 'muted' }, 'No version saved here yet'));
    } catch { replace(versions, h('li', { class: 'muted' }, 'Versions not available')); }
  }

  async function restore(v) {
    try {
      await post(`/rules/${encodeURIComponent(current.name)}/restore`, { version: v });
      current.text = (await get('/rules/' + encodeURIComponent(current.name))).text;
      editor.value = current.text || '';
      toast(`Version ${v} restored and active`);
      check.flush();
      loadVersions();
    } catch (e) { toast(e.message, 'error'); }
  }

  const save = h('button', { type: 'button', id: 'rule-save', class: 'primary', onclick: async () => {
    try {
      await put(`/rules/${encodeURIComponent(current.name)}`, { text: editor.value });
      current.text = editor.value;
      toast('Saved and active');
      loadVersions();
    } catch (e) {
      if (e instanceof ApiError && e.body && rows(e.body, 'diagnostics').length) check.flush();
      toast(`Not saved: ${e.message}`, 'error');
    }
  } }, 'Save and activate');

  ticketNo.addEventListener('change', async () => {
    const n = Number(ticketNo.value);
    if (!n) return;
    try {
      const t = await get(`/tickets/${n}`);
      const msgs = (t.messages || []).filter(m => m.direction === 'inbound');
      replace(msgPick, msgs.length ? msgs.map(m => h('option', { value: m.id }, `${m.from ? m.from.addr : ''}: ${m.subject || ''}`)) :
        h('option', { value: '' }, 'no inbound message'));
    } catch (e) { replace(msgPick, h('option', { value: '' }, e.message)); }
  });

  const dry = h('form', { class: 'dry', id: 'dry-run', 'aria-label': 'Dry run' },
    h('h2', null, 'Dry run'),
    field('Ticket', ticketNo), field('Message', msgPick),
    h('button', { type: 'submit', id: 'dry-submit' }, 'Run against this message'));
  dry.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(dryOut, h('p', { class: 'muted' }, 'Running…'));
    try {
      const r = await post('/rules/test', { name: current.name, text: editor.value, ticket: Number(ticketNo.value) || undefined, message: Number(msgPick.value) || undefined });
      const actions = rows(r, 'actions');
      const eff = r.ticket || r.effect;
      if (r.compiled === false) {
        replace(dryOut, h('p', { class: 'error' }, 'The script does not compile: fix the errors above first.'));
        return;
      }
      replace(dryOut,
        r.runtime_error ? h('p', { class: 'error', id: 'dry-runtime-error' }, 'Runtime error (the implicit keep applies): ', r.runtime_error) : null,
        h('h3', null, 'Actions'),
        h('ol', { class: 'actions-list', id: 'dry-actions' }, actions.length ? actions.map(a => h('li', null, h('code', null, typeof a === 'string' ? a : (a.text || a.action || JSON.stringify(a))))) : h('li', null, h('code', null, 'keep'))),
        eff ? [h('h3', null, 'Effect on the ticket'), h('dl', { class: 'effect', id: 'dry-effect' },
          Object.entries(eff).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))]))] : null,
        r.error ? h('p', { class: 'error' }, r.error) : null);
    } catch (ex) {
      replace(dryOut, h('p', { class: 'error' }, ex.message),
        ex.body && rows(ex.body, 'diagnostics').length ? h('p', null, 'Fix the errors above first.') : null);
    }
  });

  replace(main, h('section', { class: 'rules', id: 'rules' },
    h('h1', null, 'Rule playground'),
    h('div', { class: 'rules-bar' }, field('Script', picker), save),
    h('div', { class: 'editor' }, gutter, editor),
    checkState, diags,
    h('div', { class: 'rules-lower' }, dry, h('section', null, h('h2', null, 'Versions'), versions)),
    dryOut));
  await open(current.name);
  return { name: 'rules' };
}
