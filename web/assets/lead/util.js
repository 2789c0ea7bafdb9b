// What the desk's tabs share: tables, score entry checked against a question's scale, the
// names of markers and people, and acts that report their outcome in the notice line.

import { api, fmtDateTime, fmtNumber, h, notify, problemText, t } from '../common.js';

/// A data table: `heads` are message keys (a leading '#' marks a numeric column), `rows` are
/// arrays of cells (strings, numbers or nodes).
export function table(heads, rows, { id } = {}) {
  const numeric = heads.map((k) => k.startsWith('#'));
  return h('table', { class: 'data', id },
    h('thead', {}, h('tr', {}, ...heads.map((k, i) => h('th', {
      scope: 'col', class: numeric[i] ? 'num' : undefined, i18n: k.replace(/^#/, ''),
    })))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c, i) => h('td', { class: numeric[i] ? 'num' : undefined }, cell(c)))))));
}

function cell(c) {
  if (c === null || c === undefined || c === '') return '–';
  if (typeof c === 'number') return fmtNumber(c);
  return c;
}

export function empty(key = 'common.none') {
  return h('p', { class: 'muted empty', i18n: key });
}

export function section(titleKey, ...children) {
  return h('section', { class: 'lead-section' }, h('h3', { i18n: titleKey }), ...children);
}

/// "name (username)" of a person view from the API.
export function personName(p) {
  if (!p) return '–';
  return p.full_name && p.full_name !== p.username ? `${p.full_name} (${p.username})` : p.username;
}

/// A marker's username from the exam's marker list; the id's head when unknown.
export function markerName(ctx, id) {
  const m = ctx.markers.get(id);
  return m ? m.username : `${String(id).slice(0, 8)}…`;
}

export const when = (iso) => fmtDateTime(iso);

function onStep(value, step) {
  const n = Math.round(value / step);
  return Math.abs(n * step - value) < 1e-9;
}

/// A score input for `question` (max_score, step): digits and the point only.
export function scoreInput(id, question) {
  const input = h('input', {
    id, class: 'score-input', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false', i18nLabel: 'lead.score',
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key.length === 1 && !/[0-9.]/.test(ev.key) && !ev.ctrlKey && !ev.metaKey && !ev.altKey) ev.preventDefault();
  });
  input.dataset.max = question ? question.max_score : '';
  input.dataset.step = question ? question.step : '';
  return input;
}

/// The score typed, or throws a message (already translated) when it is off the scale.
export function readScore(input) {
  const text = input.value.trim();
  const v = Number(text);
  const max = Number(input.dataset.max);
  const step = Number(input.dataset.step) || 1;
  if (text === '' || Number.isNaN(v)) throw new Error(t('lead.error.score_empty'));
  if (v < 0 || (max && v > max) || !onStep(v, step)) {
    throw new Error(t('lead.error.score_scale', { max: fmtNumber(max), step: fmtNumber(step) }));
  }
  return v;
}

export function readReason(input, { required = true } = {}) {
  const text = input.value.trim();
  if (required && !text) throw new Error(t('lead.error.reason_empty'));
  return text;
}

/// A small form: fields, a submit button, a one-line error; `onSubmit` runs on Enter or click
/// and may throw an Error (shown) or a Problem (shown in the page's words).
export function form({ id, fields, submitKey, onSubmit }) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', i18n: submitKey });
  const f = h('form', { id, class: 'lead-form', novalidate: true }, h('div', { class: 'row' }, ...fields, submit), error);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await onSubmit();
    } catch (e) {
      const text = e && e.code !== undefined ? problemText(e) : e.message;
      error.textContent = text;
      notify('error', text);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

/// A labelled field for a form row.
export function labelled(key, input, cls = '') {
  return h('label', { class: `field inline ${cls}`.trim() }, h('span', { i18n: key }), input);
}

export function reasonInput(id, key = 'lead.reason') {
  return h('input', { id, class: 'reason-input', maxlength: 500, autocomplete: 'off', i18nPlaceholder: key, i18nLabel: key });
}

/// Runs an API act from a button: disabled meanwhile, the outcome in the notice line.
export async function act(button, fn, okText) {
  if (button) button.disabled = true;
  try {
    const r = await fn();
    if (okText) notify('ok', typeof okText === 'function' ? okText(r) : okText);
    return r;
  } catch (e) {
    notify('error', e && e.code !== undefined ? problemText(e) : String(e.message || e));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export const enc = encodeURIComponent;

export function get(path) {
  return api('GET', path);
}

/// A script's image, large enough to read, with a button that shows it at full width.
export function scriptImage(url, code) {
  if (!url) return h('p', { class: 'muted', i18n: 'lead.no_image' });
  const img = h('img', { src: url, class: 'script-image', alt: '', loading: 'lazy' });
  img.alt = t('lead.image_of', { code });
  const zoom = h('button', { type: 'button', class: 'small', 'aria-pressed': 'false', i18n: 'lead.enlarge' });
  const box = h('div', { class: 'script-box' }, img);
  zoom.addEventListener('click', () => {
    const on = zoom.getAttribute('aria-pressed') !== 'true';
    zoom.setAttribute('aria-pressed', String(on));
    box.classList.toggle('large', on);
  });
  return h('div', { class: 'stack script-view' }, zoom, box);
}

/// The instant a wall-clock time ("2026-11-29T14:30" from a datetime-local input) names in
/// time zone `tz` (the exam's), as an ISO string.
export function zonedToIso(local, tz) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || '');
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const offset = (instant) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    return asUtc - instant;
  };
  let guess = wall - offset(wall);
  guess = wall - offset(guess);
  return new Date(guess).toISOString();
}
