// DOM helpers. Every string is inserted as text (a Text node or
// textContent), never parsed as HTML: mail-derived subjects, addresses,
// bodies and file names cannot become markup. No innerHTML anywhere.

// h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v;
      else if (k === 'href' || k === 'src') el.setAttribute(k, safeUrl(v));
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Only links the desk makes itself: same-origin paths and fragments.
// Mail never supplies a URL to the page (HTML mail lives in the sandbox).
export function safeUrl(u) {
  const s = String(u);
  return (s.startsWith('/') && !s.startsWith('//')) || s.startsWith('#') ? s : '#';
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString())
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' });
}

export function timeEl(iso) {
  return h('time', { datetime: iso || '', title: iso || '' }, when(iso));
}

export function person(p) {
  if (!p) return '';
  if (typeof p === 'string') return p;
  return p.name ? `${p.name} <${p.addr}>` : (p.addr || '');
}

export function size(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

let toastTimer = 0;
export function toast(text, kind = 'info') {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = `toast ${kind}`;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 8000 : 3000);
}

export function debounce(fn, ms) {
  let timer = 0;
  const d = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  d.flush = (...args) => { clearTimeout(timer); fn(...args); };
  d.cancel = () => clearTimeout(timer);
  return d;
}

// A labelled form control: <label>Text <control></label>
export function field(label, control, extra) {
  return h('label', { class: 'field' + (extra ? ' ' + extra : '') }, h('span', null, label), control);
}

export function select(name, options, value, attrs = {}) {
  return h('select', { name, ...attrs },
    options.map(o => {
      const [v, t] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: String(v) === String(value ?? '') }, t);
    }));
}
