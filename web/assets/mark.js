// The marking workstation: one leased script at a time, its pages large, the rubric beside it,
// the score typed at the keyboard. A submitted mark is kept (in this tab's session storage) and
// sent again with the same Idempotency-Key until the server answers, so it is never lost and
// never counted twice. Nothing here can show who wrote the script or how others marked it: the
// lease carries neither.

import {
  $, api, clearNotice, confirmBox, fmtNumber, fmtTime, h, notify, problemText, Problem, randomKey, session,
  setTimeZone, start, t, ui,
} from './common.js';
import { Viewer } from './viewer.js';

const PENDING = 'markroom.pending_mark';
const WARN_SECONDS = 120;
const FLAGS = ['blank', 'illegible', 'identity_exposed', 'misplaced', 'misconduct'];

const state = {
  lease: null,
  startedAt: 0,
  annotations: [],
  stopped: null, // a problem that halts marking (room closed, paused)
  timer: null,
  retry: null,
  busy: false, // an act on the lease is under way (a confirmation, a request)
  pending: null, // a mark sent and not yet answered
  shown: null, // the task drawn, whose typed values a redraw keeps
  warned: null, // the lease whose expiry was warned of
};

let viewer;
const els = {};

function layout() {
  els.code = h('span', { id: 'lease-code', class: 'code' });
  els.question = h('span', { id: 'lease-question' });
  els.countdown = h('span', { id: 'countdown', class: 'countdown', role: 'timer' });
  els.scale = h('span', { id: 'scale', class: 'of' });
  els.score = h('input', {
    id: 'score', inputmode: 'decimal', autocomplete: 'off', i18nLabel: 'mark.score', spellcheck: 'false',
  });
  els.criteria = h('table', { id: 'criteria', class: 'criteria' });
  els.total = h('span', { id: 'criteria-total', class: 'mono' });
  els.submit = h('button', { id: 'submit', type: 'button', class: 'primary', i18n: 'mark.submit' });
  els.pending = h('p', { id: 'pending', class: 'pending', role: 'status' });
  els.annotations = h('ul', { id: 'annotation-list', class: 'stack' });
  els.flags = h('div', { class: 'row' },
    ...FLAGS.map((f) => h('button', { type: 'button', class: 'small', dataset: { flag: f }, i18n: `mark.flag.${f}` })));
  els.giveBack = h('button', { id: 'give-back', type: 'button', class: 'small', i18n: 'mark.give_back' });
  els.today = h('span', { id: 'count-today', class: 'num' });
  els.total_count = h('span', { id: 'count-total', class: 'num' });
  els.status = h('span', { id: 'marker-status' });
  els.again = h('button', { id: 'next-again', type: 'button', i18n: 'mark.check_again', hidden: true });
  els.rubric = h('section', { id: 'rubric' }, h('h2', { i18n: 'mark.rubric' }), h('div', { id: 'rubric-body' }));

  viewer = new Viewer({ onPoint: addAnnotation });
  const tools = h('div', { class: 'row' },
    ...['tick', 'cross', 'comment'].map((k) => h('button', {
      type: 'button', class: 'small', dataset: { tool: k }, 'aria-pressed': 'false', i18n: `mark.tool.${k}`,
    })));

  const side = h('aside', { class: 'side' },
    h('section', {},
      h('div', { class: 'lease-line' }, h('span', {}, h('span', { i18n: 'mark.script' }), ' ', els.code), els.countdown),
      h('div', { class: 'muted' }, h('span', { i18n: 'mark.question' }), ' ', els.question)),
    h('section', { class: 'score-entry' },
      h('h2', { i18n: 'mark.score' }),
      h('div', { class: 'row' }, els.score, els.scale),
      els.criteria,
      h('div', { class: 'row' }, els.submit, els.again),
      h('p', { class: 'hint', i18n: 'mark.keys' }),
      els.pending),
    h('section', {}, h('h2', { i18n: 'mark.annotations' }), tools, els.annotations),
    h('section', {}, h('h2', { i18n: 'mark.flag' }), els.flags, h('div', { class: 'row' }, els.giveBack)),
    els.rubric,
    h('section', { class: 'counts' },
      h('span', { i18n: 'mark.today' }), els.today,
      h('span', { i18n: 'mark.total' }), els.total_count,
      h('span', { i18n: 'mark.status' }), els.status),
  );
  $('#app').replaceChildren(h('div', { class: 'workstation' }, viewer.root, side));

  tools.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-tool]');
    if (!b) return;
    const on = b.getAttribute('aria-pressed') !== 'true';
    for (const o of tools.querySelectorAll('button')) o.setAttribute('aria-pressed', 'false');
    b.setAttribute('aria-pressed', String(on));
    viewer.setTool(on ? b.dataset.tool : null);
  });
  els.flags.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-flag]');
    if (b) flag(b.dataset.flag);
  });
  els.giveBack.addEventListener('click', giveBack);
  els.submit.addEventListener('click', submit);
  els.again.addEventListener('click', () => next());
  els.score.addEventListener('keydown', onScoreKey);
  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest && ev.target.closest('.modal, .gate')) return;
    if (ev.key === 'PageDown') { ev.preventDefault(); viewer.page(+1); }
    if (ev.key === 'PageUp') { ev.preventDefault(); viewer.page(-1); }
  });
  ui.onLanguage.push(render);
}

// ---- scores -------------------------------------------------------------------------------

/// Digits, the decimal point and editing keys only; Enter submits (once: a held key repeats).
function onScoreKey(ev) {
  if (ev.key === 'Enter') {
    ev.preventDefault();
    if (!ev.repeat) submit();
    return;
  }
  if (ev.key.length === 1 && !/[0-9.０-９．]/.test(ev.key) && !ev.ctrlKey && !ev.metaKey) ev.preventDefault();
}

/// A typed number in hundredths (scores have at most two decimals), or null. Full-width digits,
/// as a Chinese input method types them, count as digits.
function hundredths(text) {
  const ascii = text.trim().replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/．/g, '.');
  if (!/^\d+(\.\d{1,2})?$/.test(ascii)) return null;
  return Math.round(Number(ascii) * 100);
}

/// The mark typed for `lease`, checked against its scale; a message key when it is not one.
function readScore(lease) {
  const step = Math.round(lease.step * 100);
  const criteria = lease.rubric || [];
  if (criteria.length) {
    const values = {};
    let sum = 0;
    for (const c of criteria) {
      const input = $(`#criterion-${c.code}`);
      const v = hundredths(input.value);
      if (v === null) return { error: 'mark.error.criterion_missing', focus: input };
      if (v > Math.round(c.max * 100) || v % step !== 0) return { error: 'mark.error.criterion_scale', focus: input };
      values[c.code] = v / 100;
      sum += v;
    }
    return { score: sum / 100, criteria: values };
  }
  const v = hundredths(els.score.value);
  if (v === null) return { error: 'mark.error.empty', focus: els.score };
  if (v > Math.round(lease.max_score * 100) || v % step !== 0) return { error: 'mark.error.scale', focus: els.score };
  return { score: v / 100 };
}

/// Runs one act on the lease held now; nothing else starts meanwhile, and an act whose lease
/// ended while it waited for the marker (a confirmation) does nothing.
async function act(f) {
  const lease = state.lease;
  if (!lease || state.busy || state.pending) return;
  state.busy = true;
  try {
    await f(lease, () => state.lease === lease);
  } finally {
    state.busy = false;
  }
}

function submit() {
  return act(async (lease, current) => {
    const read = readScore(lease);
    if (read.error) {
      notify('warn', t(read.error, { max: fmtNumber(lease.max_score), step: fmtNumber(lease.step) }));
      read.focus.focus();
      return;
    }
    const edge = read.score === 0 || read.score === Number(lease.max_score);
    if (edge && !(await confirmBox(t('mark.confirm_edge', { score: fmtNumber(read.score) })))) {
      focusEntry();
      return;
    }
    if (!current()) return;
    const body = { score: read.score, annotations: state.annotations };
    if (read.criteria) body.criteria = read.criteria;
    body.seconds_spent = Math.min(86400, Math.round((Date.now() - state.startedAt) / 1000));
    const who = session();
    const pending = { user: who && who.username, task: lease.task_id, code: lease.anonymous_code, key: randomKey(), body };
    keep(pending);
    await send(0);
  });
}

/// The mark being sent, kept in the tab's session storage until the server has answered.
function keep(pending) {
  state.pending = pending;
  if (pending) sessionStorage.setItem(PENDING, JSON.stringify(pending));
  else sessionStorage.removeItem(PENDING);
  render();
}

/// Sends the kept mark until the server answers; a lost connection or a failing server is tried
/// again with the same key (the server answers a repeat with the first answer), and a session
/// that ended keeps it for after the next sign-in.
async function send(attempt) {
  const pending = state.pending;
  if (!pending) return;
  state.retry = null;
  try {
    await api('POST', `/marking/tasks/${pending.task}/score`, { body: pending.body, idempotencyKey: pending.key });
  } catch (p) {
    if (p instanceof Problem && (p.code === 'network' || p.status >= 500)) {
      const wait = Math.min(15000, 1000 * 2 ** attempt);
      els.pending.textContent = t('mark.pending', { seconds: Math.round(wait / 1000) });
      notify('warn', t('mark.not_saved_yet'));
      state.retry = setTimeout(() => send(attempt + 1), wait);
      return;
    }
    if (p instanceof Problem && p.status === 401) {
      els.pending.textContent = t('mark.pending_sign_in');
      return;
    }
    keep(null);
    els.pending.textContent = '';
    return onProblem(p);
  }
  keep(null);
  els.pending.textContent = '';
  notify('ok', t('mark.saved', { code: pending.code }));
  state.lease = null;
  await refreshMe();
  await next(true);
}

/// What stops or redirects marking, said plainly.
function onProblem(p) {
  const code = p instanceof Problem ? p.code : 'unknown';
  if (code === 'room_closed' || code === 'marker_paused') {
    halt(p);
  } else if (code === 'lease_expired' || code === 'not_current_task' || code === 'already_scored') {
    notify('warn', problemText(p));
    state.lease = null;
    next(true);
  } else {
    notify('error', problemText(p));
  }
}

function halt(p) {
  state.stopped = p;
  state.lease = null;
  notify('error', problemText(p));
  render();
}

// ---- annotations, flags, giving back ----------------------------------------------------

async function addAnnotation(point) {
  const a = { kind: point.tool, page: point.page, x: point.x, y: point.y };
  if (point.tool === 'comment') {
    const text = await ask(t('mark.comment_prompt'));
    if (!text) return focusEntry();
    a.text = text.slice(0, 200);
  }
  state.annotations.push(a);
  renderAnnotations();
  focusEntry();
}

/// A short text asked for in the page; null when the marker cancels (an empty answer is '').
function ask(question) {
  return new Promise((resolve) => {
    const input = h('input', { id: 'comment-text', maxlength: 500, autocomplete: 'off' });
    const ok = h('button', { type: 'submit', class: 'primary', i18n: 'common.confirm' });
    const cancel = h('button', { type: 'button', i18n: 'common.cancel' });
    const form = h('form', { class: 'card stack' }, h('label', { class: 'field' }, h('span', { text: question }), input),
      h('div', { class: 'row' }, ok, cancel));
    const box = h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true' }, form);
    const done = (v) => { box.remove(); resolve(v); };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); done(input.value.trim()); });
    cancel.addEventListener('click', () => done(null));
    input.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') done(null); });
    document.body.append(box);
    input.focus();
  });
}

function renderAnnotations() {
  els.annotations.replaceChildren(...state.annotations.map((a, i) => {
    const remove = h('button', { type: 'button', class: 'small', i18n: 'mark.remove' });
    remove.addEventListener('click', () => { state.annotations.splice(i, 1); renderAnnotations(); });
    return h('li', { class: 'row' }, h('span', { i18n: `mark.tool.${a.kind}` }),
      h('span', { class: 'muted', text: `${t('mark.page_n', { n: a.page + 1 })}${a.text ? ` · ${a.text}` : ''}` }), remove);
  }));
  viewer.setPins(state.annotations);
}

function flag(kind) {
  return act(async (lease, current) => {
    // What the marker saw goes to the leaders with the flag (optional; never a name read).
    const note = await ask(t('mark.confirm_flag', { flag: t(`mark.flag.${kind}`) }));
    if (note === null) return focusEntry();
    if (!current()) return;
    try {
      await api('POST', `/marking/tasks/${lease.task_id}/flag`, { body: { kind, note: note.slice(0, 500) } });
    } catch (p) {
      return onProblem(p);
    }
    notify('info', t('mark.flagged', { code: lease.anonymous_code }));
    state.lease = null;
    await next(true);
  });
}

function giveBack() {
  return act(async (lease, current) => {
    if (!(await confirmBox(t('mark.confirm_give_back')))) return focusEntry();
    if (!current()) return;
    try {
      await api('POST', `/marking/tasks/${lease.task_id}/release`, { body: {} });
    } catch (p) {
      return onProblem(p);
    }
    notify('info', t('mark.given_back'));
    state.lease = null;
    await next(true);
  });
}

// ---- leases -------------------------------------------------------------------------------

async function next(keepNotice = false) {
  state.stopped = null;
  if (!keepNotice) clearNotice();
  let lease;
  try {
    lease = await api('POST', '/marking/next', { body: {} });
  } catch (p) {
    state.lease = null;
    render();
    return onProblem(p);
  }
  state.lease = lease;
  state.annotations = [];
  state.startedAt = Date.now();
  if (!lease && !keepNotice) notify('info', t('mark.nothing_waiting'));
  render();
}

function remainingSeconds() {
  if (!state.lease) return 0;
  return Math.floor((Date.parse(state.lease.lease_expires_at) - Date.now() - ui.serverOffsetMs) / 1000);
}

function tick() {
  if (!state.lease) {
    els.countdown.textContent = '';
    return;
  }
  const left = remainingSeconds();
  const clamped = Math.max(0, left);
  els.countdown.textContent = `${Math.floor(clamped / 60)}:${String(clamped % 60).padStart(2, '0')}`;
  els.countdown.classList.toggle('warn', left <= WARN_SECONDS);
  els.countdown.title = t('mark.expires_at', { time: fmtTime(state.lease.lease_expires_at) });
  if (left <= WARN_SECONDS && left > 0 && state.warned !== state.lease.task_id) {
    state.warned = state.lease.task_id;
    notify('warn', t('mark.lease_warning'));
  }
  // Two seconds' grace: the server's clock is known to about half a second.
  if (left <= -2 && !state.pending && !state.busy) {
    // The lease has ended on the server's clock: say so, and ask for the next script.
    notify('warn', t('problem.lease_expired'));
    state.lease = null;
    next(true);
  }
}

function focusEntry() {
  if (!state.lease) return;
  const first = (state.lease.rubric || []).length ? $(`#criterion-${state.lease.rubric[0].code}`) : els.score;
  if (first) first.focus();
}

/// Draws the lease held now. What the marker typed for it stays (a language switch, a kept
/// mark); a new lease starts empty.
function render() {
  const l = state.lease;
  const same = Boolean(l) && state.shown === l.task_id;
  const typed = same ? { score: els.score.value, criteria: criteriaValues() } : { score: '', criteria: {} };
  state.shown = l ? l.task_id : null;
  const working = Boolean(l) && !state.pending;
  els.code.textContent = l ? l.anonymous_code : '–';
  els.question.textContent = l ? l.question : '–';
  els.scale.textContent = l ? t('mark.scale', { max: fmtNumber(l.max_score), step: fmtNumber(l.step) }) : '';
  for (const b of [els.submit, els.giveBack, ...els.flags.querySelectorAll('button')]) b.disabled = !working;
  els.again.hidden = Boolean(l);
  els.score.disabled = !working;
  const criteria = (l && l.rubric) || [];
  els.score.hidden = criteria.length > 0;
  els.criteria.replaceChildren(...criteria.map((c) => {
    const input = h('input', { id: `criterion-${c.code}`, inputmode: 'decimal', autocomplete: 'off', 'aria-label': c.name });
    input.value = typed.criteria[c.code] || '';
    input.disabled = !working;
    input.addEventListener('keydown', onScoreKey);
    input.addEventListener('input', showTotal);
    return h('tr', {}, h('td', { text: c.name }), h('td', {}, input), h('td', { class: 'muted', text: `/ ${fmtNumber(c.max)}` }));
  }));
  if (criteria.length) els.criteria.append(h('tr', {}, h('td', { i18n: 'mark.total_of_criteria' }), h('td', {}, els.total), h('td')));
  els.score.value = typed.score;
  showTotal();
  $('#rubric-body').replaceChildren(
    criteria.length
      ? h('ul', {}, ...criteria.map((c) => h('li', { text: `${c.name} (${c.code}) · ${t('mark.up_to', { max: fmtNumber(c.max) })}` })))
      : h('p', { class: 'muted', text: l ? t('mark.rubric_holistic', { max: fmtNumber(l.max_score), step: fmtNumber(l.step) }) : '' }),
  );
  if (state.stopped) viewer.empty(problemText(state.stopped));
  else if (!l) viewer.empty(t('mark.nothing_waiting'));
  else viewer.show(l.images);
  renderAnnotations();
  tick();
  if (!same) focusEntry();
}

function criteriaValues() {
  const values = {};
  for (const input of els.criteria.querySelectorAll('input')) values[input.id.replace(/^criterion-/, '')] = input.value;
  return values;
}

function showTotal() {
  const l = state.lease;
  if (!l || !(l.rubric || []).length) return;
  let sum = 0;
  for (const c of l.rubric) sum += hundredths($(`#criterion-${c.code}`).value) || 0;
  els.total.textContent = `${fmtNumber(sum / 100)} / ${fmtNumber(l.max_score)}`;
}

async function refreshMe() {
  try {
    const me = await api('GET', '/marking/me');
    const exam = me.exams.find((e) => e.room_open) || me.exams[0];
    if (exam) setTimeZone(exam.time_zone);
    els.today.textContent = exam ? fmtNumber(exam.marked_today, 0) : '0';
    els.total_count.textContent = exam ? fmtNumber(exam.marked_total, 0) : '0';
    els.status.dataset.i18n = `mark.standing.${exam ? exam.status : 'none'}`;
    els.status.textContent = t(els.status.dataset.i18n);
    return me;
  } catch (p) {
    onProblem(p);
    return null;
  }
}

/// A mark kept from before a reload or a sign-in is sent first, with its own key; one kept by
/// somebody else at this workstation is not theirs to send.
async function resume() {
  const kept = state.pending || JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  const who = session();
  if (!kept || !who || kept.user !== who.username) {
    if (kept) keep(null);
    return false;
  }
  state.pending = kept;
  notify('warn', t('mark.not_saved_yet'));
  els.pending.textContent = t('mark.not_saved_yet');
  await send(0);
  return true;
}

async function main() {
  await start('mark', ['marker']);
  layout();
  ui.onSignedOut.push(() => {
    state.lease = null;
    render();
  });
  ui.onSignedIn.push(async () => {
    if ((await refreshMe()) && !(await resume())) await next(true);
  });
  setInterval(tick, 1000);
  // The counts, the room's state and the server's clock, now and then, so a closed room or a
  // pause shows without a click and the countdown follows the server.
  setInterval(async () => {
    if (document.hidden || state.pending || state.busy) return;
    const me = await refreshMe();
    if (me && !state.lease && !state.stopped) next(true);
  }, 20000);
  const me = await refreshMe();
  if (await resume()) return;
  if (me && !state.stopped) await next();
}

main();
