// The custody desk: duty shifts, batches and their chain of custody, hand-overs to confirm,
// the two-person approvals of opening and releasing a batch, and the treatment of pages whose
// anchor was not found (turn the page, mask what shows identity). Every act on the sheets needs
// two custodians on duty; the server says so when it refuses, and the desk shows its words.

import {
  $, api, clearNotice, confirmBox, fmtDateTime, h, notify, Problem, problemText, session, setTimeZone,
  start, t, ui, workstationKey,
} from './common.js';

const EXAM = 'markroom.custody.exam';
const TABS = ['duty', 'batches', 'approvals', 'treatment'];
const CUSTODY_KINDS = ['open_batch', 'release_batch'];

const state = {
  exams: [],
  exam: null,
  tab: 'duty',
  roster: null,
  batches: [],
  batch: null, // the batch open in the Batches tab (its view with the chain)
  editor: null, // the treatment being prepared (see openEditor)
};

const els = {};

// ---- small helpers ---------------------------------------------------------------------

/// An element whose text is a message with values; it follows a language switch.
function msg(tag, key, vars = {}, props = {}) {
  const e = h(tag, props);
  e.dataset.msg = key;
  e.dataset.vars = JSON.stringify(vars);
  e.textContent = t(key, vars);
  return e;
}

/// A moment in the exam's time zone; it follows a language switch.
function when(iso, props = {}) {
  const e = h('time', props);
  if (iso) {
    e.dateTime = iso;
    e.dataset.time = iso;
  }
  e.textContent = fmtDateTime(iso);
  return e;
}

function relabel() {
  for (const n of document.querySelectorAll('[data-msg]')) n.textContent = t(n.dataset.msg, JSON.parse(n.dataset.vars || '{}'));
  for (const n of document.querySelectorAll('[data-time]')) n.textContent = fmtDateTime(n.dataset.time);
}

function me() {
  const s = session();
  return s ? s.username : '';
}

const examPath = (rest) => `/exams/${encodeURIComponent(state.exam.code)}${rest}`;

function fail(p) {
  notify('error', problemText(p));
}

/// Runs an act from a button: the button is disabled meanwhile; failures are shown.
async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (p) {
    if (!(p instanceof Problem)) console.error(p);
    fail(p);
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

function table(id, heads, rows, emptyKey = 'common.none') {
  if (!rows.length) return h('p', { id, class: 'muted', i18n: emptyKey });
  return h('table', { id, class: 'data' },
    h('thead', {}, h('tr', {}, ...heads.map((k) => (k ? h('th', { scope: 'col', i18n: k }) : h('th', {}))))),
    h('tbody', {}, ...rows));
}

function shortId(id) {
  return id ? id.slice(0, 8) : '';
}

// ---- the frame: exam picker and tabs ------------------------------------------------------

function layout() {
  els.exam = h('select', { id: 'exam', i18nLabel: 'common.exam' });
  els.exam.addEventListener('change', () => chooseExam(els.exam.value));
  els.refresh = h('button', { id: 'refresh', type: 'button', i18n: 'common.refresh' });
  els.refresh.addEventListener('click', () => show(state.tab));
  els.zone = h('span', { id: 'exam-zone', class: 'muted' });
  const toolbar = h('div', { class: 'toolbar' },
    h('label', { class: 'row', for: 'exam' }, h('span', { i18n: 'common.exam' })), els.exam, els.zone,
    h('span', { class: 'spacer' }), els.refresh);
  els.tabs = h('div', { class: 'tabs', role: 'tablist', i18nLabel: 'custody.tabs' },
    ...TABS.map((name) => {
      const b = h('button', {
        type: 'button', role: 'tab', id: `tab-${name}`, 'aria-controls': 'panel', 'aria-selected': 'false',
        i18n: `custody.tab.${name}`,
      });
      b.addEventListener('click', () => {
        // A message belongs to the section it came from.
        if (name !== state.tab) clearNotice();
        show(name);
      });
      return b;
    }));
  // Arrow keys move between the tabs, as in any tab list.
  els.tabs.addEventListener('keydown', (ev) => {
    const i = TABS.indexOf(state.tab);
    let next = null;
    if (ev.key === 'ArrowRight') next = TABS[(i + 1) % TABS.length];
    if (ev.key === 'ArrowLeft') next = TABS[(i + TABS.length - 1) % TABS.length];
    if (next) {
      ev.preventDefault();
      clearNotice();
      show(next).then(() => $(`#tab-${next}`).focus());
    }
  });
  els.panel = h('section', { id: 'panel', class: 'panel', role: 'tabpanel' });
  $('#app').replaceChildren(toolbar, els.tabs, els.panel);
}

async function loadExams() {
  const list = await api('GET', '/exams');
  state.exams = list.exams || [];
  els.exam.replaceChildren(...state.exams.map((e) => h('option', { value: e.code, text: `${e.code} · ${e.name}` })));
  if (!state.exams.length) {
    state.exam = null;
    els.panel.replaceChildren(h('p', { id: 'no-exams', class: 'muted', i18n: 'custody.no_exams' }));
    return;
  }
  const kept = localStorage.getItem(EXAM);
  const chosen = state.exams.find((e) => e.code === kept) || state.exams[0];
  els.exam.value = chosen.code;
  await chooseExam(chosen.code);
}

async function chooseExam(code) {
  state.exam = state.exams.find((e) => e.code === code) || null;
  if (!state.exam) return;
  localStorage.setItem(EXAM, code);
  setTimeZone(state.exam.time_zone);
  els.zone.textContent = state.exam.time_zone;
  state.batch = null;
  closeEditor();
  await show(state.tab);
}

async function show(name) {
  state.tab = name;
  for (const n of TABS) {
    const b = $(`#tab-${n}`);
    b.setAttribute('aria-selected', String(n === name));
    b.tabIndex = n === name ? 0 : -1;
  }
  els.panel.setAttribute('aria-labelledby', `tab-${name}`);
  els.panel.dataset.tab = name;
  if (!state.exam) return;
  const render = { duty: renderDuty, batches: renderBatches, approvals: renderApprovals, treatment: renderTreatment }[name];
  els.panel.setAttribute('aria-busy', 'true');
  try {
    await render();
  } catch (p) {
    if (!(p instanceof Problem)) console.error(p);
    els.panel.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: problemText(p) }));
  } finally {
    els.panel.removeAttribute('aria-busy');
  }
}

// ---- Duty --------------------------------------------------------------------------------

async function loadRoster() {
  state.roster = await api('GET', examPath('/shifts'));
  return state.roster;
}

async function renderDuty() {
  const roster = await loadRoster();
  const mine = roster.custodians.find((c) => c.username === me());
  const status = roster.checked_in
    ? h('p', { id: 'duty-status', class: 'duty on' }, msg('span', 'custody.duty.on', {}), ' ', when(mine && mine.since))
    : h('p', { id: 'duty-status', class: 'duty off' }, msg('span', 'custody.duty.off', {}));
  const button = roster.checked_in
    ? h('button', { id: 'check-out', type: 'button', i18n: 'custody.duty.check_out' })
    : h('button', { id: 'check-in', type: 'button', class: 'primary', i18n: 'custody.duty.check_in' });
  button.addEventListener('click', () => act(button, async () => {
    if (roster.checked_in) {
      if (!(await confirmBox(t('custody.duty.confirm_out')))) return;
      await api('POST', examPath('/shifts/check-out'), { body: {} });
      notify('ok', t('custody.duty.checked_out'));
    } else {
      await api('POST', examPath('/shifts/check-in'), { body: {} });
      notify('ok', t('custody.duty.checked_in'));
    }
    await show('duty');
  }));
  const rows = roster.custodians.map((c) => h('tr', {},
    h('td', { class: 'mono', text: c.username }), h('td', { text: c.full_name }), h('td', {}, when(c.since))));
  const count = roster.custodians.length;
  els.panel.replaceChildren(
    h('h2', { i18n: 'custody.duty.title' }),
    h('div', { class: 'card stack duty-card' },
      status,
      h('div', { class: 'row' }, button),
      msg('p', count >= 2 ? 'custody.duty.enough' : 'custody.duty.too_few', { n: count }, {
        id: 'duty-count', class: count >= 2 ? 'hint' : 'hint warn-text',
      })),
    h('h3', { i18n: 'custody.duty.on_duty' }),
    table('roster', ['custody.col.username', 'custody.col.full_name', 'custody.col.since'], rows, 'custody.duty.nobody'),
  );
}

// ---- Batches -----------------------------------------------------------------------------

async function renderBatches() {
  // The roster too: the hand-over form offers the custodians on duty now as second giver.
  const [batches, awaiting] = await Promise.all([
    api('GET', examPath('/batches')),
    api('GET', examPath('/handovers/awaiting')),
    loadRoster(),
  ]);
  state.batches = batches;
  if (state.batch) {
    try {
      state.batch = await api('GET', `/batches/${encodeURIComponent(state.batch.id)}`);
    } catch {
      state.batch = null;
    }
  }
  const list = batches.map((b) => {
    const open = h('button', {
      type: 'button', class: 'small', dataset: { batch: b.id }, i18n: 'custody.batch.view',
      'aria-pressed': String(!!state.batch && state.batch.id === b.id),
    });
    open.addEventListener('click', () => act(open, () => openBatch(b.id)));
    return h('tr', { dataset: { batch: b.id } },
      h('td', { text: b.label }),
      h('td', {}, h('span', { class: `status status-${b.status}`, i18n: `custody.status.${b.status}` })),
      h('td', { class: 'num', text: String(b.sheets) }),
      h('td', {}, when(b.opened_at)),
      h('td', {}, open));
  });
  const label = h('input', { id: 'new-batch-label', maxlength: 100, i18nPlaceholder: 'custody.batch.label_hint', autocomplete: 'off' });
  const ask = h('button', { id: 'request-batch', type: 'submit', i18n: 'custody.batch.request_open' });
  const form = h('form', { id: 'new-batch', class: 'row' },
    h('label', { for: 'new-batch-label', i18n: 'custody.batch.label' }), label, ask);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(ask, async () => {
      await api('POST', examPath('/batches'), { body: { label: label.value.trim() } });
      label.value = '';
      notify('ok', t('custody.batch.open_requested'));
    });
  });
  els.panel.replaceChildren(
    h('section', { id: 'awaiting', class: 'stack' },
      h('h2', { i18n: 'custody.handover.awaiting' }),
      awaitingTable(awaiting)),
    h('div', { class: 'custody-grid' },
      h('section', { class: 'stack' },
        h('h2', { i18n: 'custody.batches.title' }),
        table('batches', ['custody.col.label', 'custody.col.status', 'custody.col.sheets', 'custody.col.opened', ''], list,
          'custody.batches.none'),
        form),
      h('section', { id: 'batch', class: 'stack' }, state.batch ? batchView(state.batch) : h('p', { class: 'muted', i18n: 'custody.batch.pick' }))),
  );
}

function awaitingTable(awaiting) {
  const rows = awaiting.map((a) => {
    const b = h('button', { type: 'button', class: 'primary small', dataset: { handover: a.id }, i18n: 'custody.handover.confirm' });
    b.addEventListener('click', () => act(b, async () => {
      const ok = await confirmBox(t('custody.handover.confirm_text', { label: a.batch_label, from: a.from.join(', '), to: a.to.join(', ') }));
      if (!ok) return;
      const done = await api('POST', `/handovers/${encodeURIComponent(a.id)}/confirm`, { body: {} });
      notify('ok', t('custody.handover.confirmed', { n: done.confirmed }));
      await show('batches');
    }));
    return h('tr', { dataset: { handover: a.id } },
      h('td', { text: a.batch_label }),
      h('td', { text: a.from.join(', ') }),
      h('td', { text: a.to.join(', ') }),
      h('td', { text: a.note }),
      h('td', {}, when(a.recorded_at)),
      msg('td', 'custody.handover.of_four', { n: a.confirmed }, { class: 'num' }),
      h('td', {}, b));
  });
  return table('awaiting-list', [
    'custody.col.batch', 'custody.col.from', 'custody.col.to', 'custody.col.note', 'custody.col.recorded',
    'custody.col.confirmed', '',
  ], rows, 'custody.handover.none_awaiting');
}

async function openBatch(id) {
  state.batch = await api('GET', `/batches/${encodeURIComponent(id)}`);
  for (const b of document.querySelectorAll('#batches button[data-batch]')) {
    b.setAttribute('aria-pressed', String(b.dataset.batch === id));
  }
  $('#batch').replaceChildren(batchView(state.batch));
  $('#batch h2').focus();
}

function chainDetail(step) {
  const d = step.details || {};
  if (step.event === 'handover') {
    return h('span', {}, d.note ? h('span', { text: d.note }) : null, d.note ? ' · ' : null,
      msg('span', 'custody.handover.of_four', { n: d.confirmed }));
  }
  return h('span', {});
}

function batchView(view) {
  const steps = view.chain.map((s) => h('tr', { dataset: { event: s.event } },
    h('td', {}, when(s.at)),
    h('td', { i18n: `custody.event.${s.event}` }),
    h('td', { text: s.people.join(', ') }),
    h('td', {}, chainDetail(s))));
  const parts = [
    h('h2', { tabindex: '-1' }, msg('span', 'custody.batch.heading', { label: view.label })),
    h('p', { class: 'row' },
      h('span', { class: `status status-${view.status}`, id: 'batch-status', i18n: `custody.status.${view.status}` }),
      msg('span', 'custody.batch.sheets', { n: view.sheets }),
      view.released_at ? h('span', {}, h('span', { i18n: 'custody.batch.released_at' }), ' ', when(view.released_at)) : null),
    h('h3', { i18n: 'custody.batch.chain' }),
    table('chain', ['custody.col.time', 'custody.col.event', 'custody.col.people', 'custody.col.details'], steps),
  ];
  if (view.status === 'open') {
    const release = h('button', { id: 'request-release', type: 'button', class: 'primary', i18n: 'custody.batch.request_release' });
    release.addEventListener('click', () => act(release, async () => {
      if (!(await confirmBox(t('custody.batch.confirm_release', { label: view.label })))) return;
      await api('POST', `/batches/${encodeURIComponent(view.id)}/release`, { body: {} });
      notify('ok', t('custody.batch.release_requested'));
    }));
    parts.push(h('h3', { i18n: 'custody.handover.record' }), handoverForm(view), h('div', { class: 'row' }, release));
  }
  return h('div', { class: 'card stack' }, ...parts);
}

function handoverForm(view) {
  const others = ((state.roster && state.roster.custodians) || []).map((c) => c.username).filter((u) => u !== me());
  const giver = h('select', { id: 'handover-giver' }, ...others.map((u) => h('option', { value: u, text: u })));
  const list = h('datalist', { id: 'people-known' }, ...others.map((u) => h('option', { value: u })));
  const to1 = h('input', { id: 'handover-to-1', list: 'people-known', autocomplete: 'off', required: true, spellcheck: 'false' });
  const to2 = h('input', { id: 'handover-to-2', list: 'people-known', autocomplete: 'off', required: true, spellcheck: 'false' });
  const note = h('input', { id: 'handover-note', maxlength: 500, autocomplete: 'off' });
  const submit = h('button', { id: 'record-handover', type: 'submit', i18n: 'custody.handover.submit' });
  const field = (forId, key, input) => h('label', { class: 'field', for: forId }, h('span', { i18n: key }), input);
  const form = h('form', { id: 'handover', class: 'handover-form' },
    h('div', { class: 'field' }, h('span', { i18n: 'custody.handover.giver_me' }), h('span', { class: 'mono', text: me() })),
    field('handover-giver', 'custody.handover.giver_other', giver),
    field('handover-to-1', 'custody.handover.receiver_1', to1),
    field('handover-to-2', 'custody.handover.receiver_2', to2),
    field('handover-note', 'custody.handover.note', note),
    list,
    h('div', { class: 'row' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(submit, async () => {
      const body = { from: [me(), giver.value], to: [to1.value.trim(), to2.value.trim()], note: note.value.trim() };
      const done = await api('POST', `/batches/${encodeURIComponent(view.id)}/handovers`, { body });
      notify('ok', t('custody.handover.recorded', { n: done.confirmed }));
      await show('batches');
    });
  });
  return form;
}

// ---- Approvals ---------------------------------------------------------------------------

async function renderApprovals() {
  let pending;
  try {
    pending = await api('GET', examPath('/approvals'));
  } catch (p) {
    if (p instanceof Problem && p.code === 'forbidden') {
      els.panel.replaceChildren(h('h2', { i18n: 'custody.approvals.title' }),
        h('p', { id: 'approvals-off-duty', class: 'muted', i18n: 'custody.approvals.off_duty' }));
      return;
    }
    throw p;
  }
  state.batches = await api('GET', examPath('/batches'));
  const label = (id) => (state.batches.find((b) => b.id === id) || {}).label || shortId(id);
  const rows = pending.filter((a) => CUSTODY_KINDS.includes(a.kind)).map((a) => {
    const what = a.kind === 'open_batch' ? a.payload.label : label(a.payload.batch_id);
    const mine = a.requester && a.requester.username === me();
    const approve = h('button', { type: 'button', class: 'primary small', dataset: { approve: a.id }, i18n: 'custody.approvals.approve' });
    const reject = h('button', { type: 'button', class: 'small', dataset: { reject: a.id }, i18n: 'custody.approvals.reject' });
    const decide = (button, verb) => act(button, async () => {
      const text = t(`custody.approvals.confirm_${verb}`, { kind: t(`custody.kind.${a.kind}`), what });
      if (!(await confirmBox(text))) return;
      await api('POST', `/approvals/${encodeURIComponent(a.id)}/${verb}`, { body: {} });
      notify('ok', t(verb === 'approve' ? 'custody.approvals.approved' : 'custody.approvals.rejected'));
      await show('approvals');
    });
    approve.addEventListener('click', () => decide(approve, 'approve'));
    reject.addEventListener('click', () => decide(reject, 'reject'));
    const who = a.requester ? `${a.requester.username} (${a.requester.full_name})` : a.requested_by;
    return h('tr', { dataset: { approval: a.id, kind: a.kind } },
      h('td', { i18n: `custody.kind.${a.kind}` }),
      h('td', { text: what }),
      h('td', {}, h('span', { text: who }), mine ? h('span', { class: 'tag', i18n: 'custody.approvals.yours' }) : null),
      h('td', {}, when(a.requested_at)),
      h('td', {}, when(a.expires_at)),
      h('td', {}, h('div', { class: 'row' }, approve, reject)));
  });
  els.panel.replaceChildren(
    h('h2', { i18n: 'custody.approvals.title' }),
    h('p', { class: 'hint', i18n: 'custody.approvals.hint' }),
    table('approvals', [
      'custody.col.kind', 'custody.col.what', 'custody.col.requester', 'custody.col.requested', 'custody.col.expires', '',
    ], rows, 'custody.approvals.none'),
  );
}

// ---- Treatment ---------------------------------------------------------------------------

/// The needs-treatment list grouped by sheet, pages in order, each page with its scripts.
function bySheet(items) {
  const sheets = new Map();
  for (const it of items) {
    if (!sheets.has(it.sheet_id)) sheets.set(it.sheet_id, new Map());
    const pages = sheets.get(it.sheet_id);
    if (!pages.has(it.page)) pages.set(it.page, []);
    pages.get(it.page).push(it);
  }
  return [...sheets].map(([sheet, pages]) => ({
    sheet,
    pages: [...pages].sort((a, b) => a[0] - b[0]).map(([page, scripts]) => ({ page, scripts })),
  }));
}

async function renderTreatment() {
  const items = await api('GET', examPath('/treatment'));
  const sheets = bySheet(items);
  if (state.editor && !sheets.some((s) => s.sheet === state.editor.sheet)) closeEditor();
  const rows = sheets.map((s) => {
    const b = h('button', {
      type: 'button', class: 'small', dataset: { sheet: s.sheet }, i18n: 'custody.treat.open',
      'aria-pressed': String(!!state.editor && state.editor.sheet === s.sheet),
    });
    b.addEventListener('click', () => act(b, () => openEditor(s)));
    return h('tr', { dataset: { sheet: s.sheet } },
      h('td', { class: 'mono', text: shortId(s.sheet) }),
      h('td', { text: s.pages.map((p) => p.page + 1).join(', ') }),
      h('td', { text: s.pages.flatMap((p) => p.scripts.map((x) => x.question)).join(', ') }),
      h('td', {}, b));
  });
  els.editorBox = h('section', { id: 'editor-box', class: 'stack' });
  els.panel.replaceChildren(
    h('div', { class: 'treatment-layout' },
      h('section', { class: 'stack treatment-list' },
        h('h2', { i18n: 'custody.treat.title' }),
        h('p', { class: 'hint', i18n: 'custody.treat.hint' }),
        table('treatment', ['custody.col.sheet', 'custody.col.pages', 'custody.col.questions', ''], rows, 'custody.treat.none')),
      els.editorBox));
  if (state.editor) renderEditor();
  else els.editorBox.replaceChildren(h('p', { class: 'muted', i18n: sheets.length ? 'custody.treat.pick' : 'custody.treat.all_done' }));
}

/// Fetches an image the API serves to a signed-in custodian (not a capability link) and
/// answers a blob: URL for it. An expired token is renewed through api() and the fetch made again.
async function imageUrl(path) {
  for (let attempt = 0; ; attempt++) {
    const s = session();
    const headers = { accept: 'image/png' };
    if (s) headers.authorization = `Bearer ${s.access}`;
    const key = workstationKey();
    if (key) headers['x-workstation-key'] = key;
    let r;
    try {
      r = await fetch(`/api/v1${path}`, { headers, cache: 'no-store' });
    } catch {
      throw new Problem(0, { code: 'network' });
    }
    if (r.ok) return URL.createObjectURL(await r.blob());
    let body = {};
    try {
      body = await r.json();
    } catch {
      // no problem document
    }
    if (attempt === 0 && r.status === 401) {
      await api('GET', '/exams'); // renews the session, or signs out
      continue;
    }
    throw new Problem(r.status, body);
  }
}

function closeEditor() {
  if (state.editor) for (const p of state.editor.pages) if (p.url) URL.revokeObjectURL(p.url);
  state.editor = null;
}

async function openEditor(sheet) {
  closeEditor();
  const pages = sheet.pages.map((p) => ({
    page: p.page, script: p.scripts[0].script_id, questions: p.scripts.map((s) => s.question),
    turn: false, masks: [], seen: false, url: null,
  }));
  state.editor = { sheet: sheet.sheet, pages, current: 0, selected: -1 };
  for (const b of document.querySelectorAll('#treatment button[data-sheet]')) {
    b.setAttribute('aria-pressed', String(b.dataset.sheet === sheet.sheet));
  }
  await showPage(0);
}

async function showPage(i) {
  const ed = state.editor;
  ed.current = i;
  ed.selected = -1;
  const p = ed.pages[i];
  if (!p.url) p.url = await imageUrl(`/scripts/${encodeURIComponent(p.script)}/original`);
  p.seen = true;
  renderEditor();
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round = (v) => Math.round(v * 10000) / 10000;

function renderEditor() {
  const ed = state.editor;
  const p = ed.pages[ed.current];
  const img = h('img', { id: 'page-image', src: p.url || '', draggable: 'false', class: p.turn ? 'turned' : '' });
  img.alt = t('custody.treat.image_alt', { page: p.page + 1 });
  const surface = h('div', { id: 'mask-surface', class: 'editor drawing' }, img);
  p.masks.forEach((m, k) => surface.append(maskButton(m, k)));
  drawing(surface, img);

  const pageButtons = ed.pages.map((q, k) => {
    const b = msg('button', q.seen ? 'custody.treat.page_seen' : 'custody.treat.page', { n: q.page + 1 }, {
      type: 'button', class: 'small', 'aria-pressed': String(k === ed.current), dataset: { page: q.page },
    });
    b.addEventListener('click', () => act(b, () => showPage(k)));
    return b;
  });
  const turn = h('button', {
    id: 'turn', type: 'button', 'aria-pressed': String(p.turn), i18n: 'custody.treat.turn',
  });
  turn.addEventListener('click', () => {
    p.turn = !p.turn;
    // The masks stay on what they cover: their place is taken after the turn.
    p.masks = p.masks.map((m) => ({ ...m, x: round(1 - m.x - m.width), y: round(1 - m.y - m.height) }));
    renderEditor();
    $('#turn').focus();
  });
  const add = h('button', { id: 'add-mask', type: 'button', i18n: 'custody.treat.add_mask' });
  add.addEventListener('click', () => {
    p.masks.push({ x: 0.3, y: 0.02, width: 0.4, height: 0.08 });
    ed.selected = p.masks.length - 1;
    renderEditor();
    focusMask(ed.selected);
  });
  const masks = p.masks.map((m, k) => {
    const remove = msg('button', 'custody.treat.remove_mask', { n: k + 1 }, { type: 'button', class: 'small', dataset: { remove: k } });
    remove.addEventListener('click', () => {
      p.masks.splice(k, 1);
      ed.selected = -1;
      renderEditor();
      ($('#mask-list button') || $('#add-mask')).focus();
    });
    const where = `${Math.round(m.x * 100)}%, ${Math.round(m.y * 100)}% · ${Math.round(m.width * 100)}% × ${Math.round(m.height * 100)}%`;
    return h('li', { class: 'row' }, msg('span', 'custody.treat.mask', { n: k + 1 }), h('span', { class: 'mono muted', text: where }), remove);
  });
  const unseen = ed.pages.filter((q) => !q.seen).length;
  const submit = h('button', { id: 'submit-treatment', type: 'button', class: 'primary', disabled: unseen > 0, i18n: 'custody.treat.submit' });
  submit.addEventListener('click', () => act(submit, submitTreatment));
  const cancel = h('button', { id: 'cancel-treatment', type: 'button', i18n: 'common.cancel' });
  cancel.addEventListener('click', () => {
    closeEditor();
    show('treatment');
  });
  const side = h('div', { class: 'stack editor-side' },
    msg('h2', 'custody.treat.editing', { sheet: shortId(ed.sheet) }),
    h('div', { class: 'row', id: 'page-switch', role: 'group' }, ...pageButtons),
    msg('p', 'custody.treat.questions', { list: p.questions.join(', ') }, { class: 'hint' }),
    h('div', { class: 'row' }, turn, add),
    h('p', { class: 'hint', i18n: 'custody.treat.draw_hint' }),
    h('ul', { id: 'mask-list', class: 'stack plain' }, ...masks),
    unseen ? msg('p', 'custody.treat.unseen', { n: unseen }, { class: 'hint warn-text' }) : null,
    h('div', { class: 'row' }, submit, cancel));
  els.editorBox.replaceChildren(h('div', { class: 'custody-editor' }, surface, side));
  if (ed.selected >= 0) focusMask(ed.selected);
}

function focusMask(k) {
  const b = document.querySelector(`#mask-surface button.mask[data-mask="${k}"]`);
  if (b) b.focus();
}

/// A mask on the page: a button, so that it is reached by Tab; arrows move it, Shift+arrows
/// size it, Delete removes it.
function maskButton(m, k) {
  const ed = state.editor;
  const p = ed.pages[ed.current];
  const b = msg('button', 'custody.treat.mask', { n: k + 1 }, { type: 'button', class: 'mask', dataset: { mask: k } });
  b.setAttribute('aria-label', t('custody.treat.mask_keys', { n: k + 1 }));
  place(b, m);
  b.addEventListener('keydown', (ev) => {
    const step = 0.01;
    const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
    if (ev.key === 'Delete' || ev.key === 'Backspace') {
      ev.preventDefault();
      p.masks.splice(k, 1);
      ed.selected = -1;
      renderEditor();
      $('#add-mask').focus();
      return;
    }
    if (!d) return;
    ev.preventDefault();
    if (ev.shiftKey) {
      m.width = round(clamp(m.width + d[0], 0.01, 1 - m.x));
      m.height = round(clamp(m.height + d[1], 0.01, 1 - m.y));
    } else {
      m.x = round(clamp(m.x + d[0], 0, 1 - m.width));
      m.y = round(clamp(m.y + d[1], 0, 1 - m.height));
    }
    ed.selected = k;
    renderEditor();
  });
  b.addEventListener('pointerdown', (ev) => ev.stopPropagation());
  b.addEventListener('click', () => {
    ed.selected = k;
  });
  return b;
}

function place(e, m) {
  e.style.left = `${m.x * 100}%`;
  e.style.top = `${m.y * 100}%`;
  e.style.width = `${m.width * 100}%`;
  e.style.height = `${m.height * 100}%`;
}

/// Draws a new mask with the mouse: press, drag, release. The rectangle is kept in fractions
/// of the page as shown (after the turn), which is what the server takes.
function drawing(surface, img) {
  let from = null;
  let draft = null;
  const at = (ev) => {
    const r = img.getBoundingClientRect();
    return { x: clamp((ev.clientX - r.left) / r.width, 0, 1), y: clamp((ev.clientY - r.top) / r.height, 0, 1) };
  };
  const rect = (a, b) => ({
    x: round(Math.min(a.x, b.x)), y: round(Math.min(a.y, b.y)),
    width: round(Math.abs(a.x - b.x)), height: round(Math.abs(a.y - b.y)),
  });
  surface.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    ev.preventDefault();
    from = at(ev);
    draft = h('div', { class: 'mask draft', 'aria-hidden': 'true' });
    place(draft, { ...from, width: 0, height: 0 });
    surface.append(draft);
    surface.setPointerCapture(ev.pointerId);
  });
  surface.addEventListener('pointermove', (ev) => {
    if (!from) return;
    place(draft, rect(from, at(ev)));
  });
  const end = (ev, keep) => {
    if (!from) return;
    const m = rect(from, at(ev));
    from = null;
    draft.remove();
    draft = null;
    // A click is not a mask: at least 1 % of the page each way.
    if (!keep || m.width < 0.01 || m.height < 0.01) return;
    const ed = state.editor;
    const p = ed.pages[ed.current];
    m.width = round(Math.min(m.width, 1 - m.x));
    m.height = round(Math.min(m.height, 1 - m.y));
    p.masks.push(m);
    ed.selected = -1;
    renderEditor();
  };
  surface.addEventListener('pointerup', (ev) => end(ev, true));
  surface.addEventListener('pointercancel', (ev) => end(ev, false));
}

async function submitTreatment() {
  const ed = state.editor;
  const summary = ed.pages.map((p) => t(p.turn ? 'custody.treat.summary_turned' : 'custody.treat.summary_kept', {
    n: p.page + 1, masks: p.masks.length,
  })).join('; ');
  if (!(await confirmBox(t('custody.treat.confirm', { summary })))) return;
  let treated = 0;
  for (const p of ed.pages) {
    if (p.done) continue; // treated already, before a later page failed
    const body = { turn: p.turn, masks: p.masks.map((m) => ({ page: p.page, x: m.x, y: m.y, width: m.width, height: m.height })) };
    const done = await api('POST', `/scripts/${encodeURIComponent(p.script)}/treatment`, { body });
    treated += done.scripts.length;
    p.done = true;
  }
  closeEditor();
  notify('ok', t('custody.treat.done', { n: treated }));
  await show('treatment');
}

// ---- start -------------------------------------------------------------------------------

async function main() {
  await start('custody', ['custodian']);
  layout();
  ui.onLanguage.push(relabel);
  // A message was written in the language that was; the next act writes in the new one.
  ui.onLanguage.push(clearNotice);
  ui.onLanguage.push(() => {
    if (state.editor && state.tab === 'treatment') renderEditor();
  });
  if (ui.onSignedIn) {
    ui.onSignedIn.push(() => {
      clearNotice();
      state.batch = null;
      state.roster = null;
      closeEditor();
      loadExams().catch(fail);
    });
  }
  try {
    await loadExams();
  } catch (p) {
    fail(p);
  }
}

main();
