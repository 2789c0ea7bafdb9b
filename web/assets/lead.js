// The leadership desk: pick an exam, then one tab at a time: progress per question, the
// dispute queue with arbitration, back-reads, problem scripts, marker reviews, the marker table
// with its plots, and (chief leaders) the marking room and the two-person approvals. Every tab
// reads the API afresh when opened or refreshed; a language switch redraws it from what it read.

import { $, clearNotice, h, notify, problemText, setTimeZone, start, ui } from './common.js';
import { approvals, room } from './lead/approvals.js';
import { markers } from './lead/markers.js';
import { progress } from './lead/progress.js';
import { backreads, disputes, problems } from './lead/queues.js';
import { reviews } from './lead/reviews.js';
import { empty, enc, get } from './lead/util.js';

const EXAM_KEY = 'markroom.lead.exam';
const TAB_KEY = 'markroom.lead.tab';
const TABS = [progress, disputes, backreads, problems, reviews, markers, room, approvals];

const cache = new Map();
const els = {};
let exams = [];
let current = localStorage.getItem(TAB_KEY) || 'progress';
let loading = 0;

const ctx = {
  exam: null,
  detail: null,
  chief: false,
  markers: new Map(),
  state: {},
  question(code) {
    return ctx.detail ? ctx.detail.questions.find((q) => q.code === code) : undefined;
  },
  async refreshExam() {
    ctx.detail = await get(`/exams/${enc(ctx.exam.code)}`);
    ctx.exam.room_open = ctx.detail.room_open;
    ctx.exam.locked = ctx.detail.locked;
    ctx.exam.released = ctx.detail.released;
    examState();
  },
  reload: () => show(current),
};

function layout() {
  els.exam = h('select', { id: 'exam', i18nLabel: 'common.exam' });
  els.state = h('span', { id: 'exam-state', class: 'muted' });
  els.report = h('a', { id: 'report-link', class: 'button-link', i18n: 'lead.report' });
  els.refresh = h('button', { id: 'refresh', type: 'button', i18n: 'common.refresh' });
  els.tabs = h('div', { class: 'tabs', role: 'tablist', id: 'tabs' });
  els.panel = h('section', { id: 'panel', class: 'panel', role: 'tabpanel', tabindex: '-1' });
  $('#app').replaceChildren(
    h('div', { class: 'toolbar' },
      h('label', { class: 'row' }, h('span', { i18n: 'common.exam' }), els.exam),
      els.state, h('span', { class: 'spacer' }), els.report, els.refresh),
    els.tabs,
    els.panel,
  );
  els.exam.addEventListener('change', () => chooseExam(els.exam.value));
  els.refresh.addEventListener('click', () => show(current));
  els.tabs.addEventListener('keydown', (ev) => {
    const buttons = [...els.tabs.querySelectorAll('[role=tab]:not([hidden])')];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const b = buttons[(to + buttons.length) % buttons.length];
    b.focus();
    show(b.dataset.tab);
  });
}

function buildTabs() {
  els.tabs.replaceChildren(...TABS.map((tab) => {
    const b = h('button', {
      type: 'button', role: 'tab', id: `tab-${tab.id}`, 'aria-controls': 'panel', dataset: { tab: tab.id },
      hidden: tab.chiefOnly && !ctx.chief,
    }, h('span', { i18n: `lead.tab.${tab.id}` }), h('span', { class: 'badge', id: `count-${tab.id}` }));
    b.addEventListener('click', () => show(tab.id));
    return b;
  }));
}

function examState() {
  const e = ctx.exam;
  if (!e) {
    els.state.replaceChildren();
    return;
  }
  els.state.replaceChildren(
    h('span', { i18n: e.room_open ? 'lead.room.is_open' : 'lead.room.is_closed' }), ' · ',
    h('span', { i18n: e.locked ? 'lead.results.locked' : 'lead.results.unlocked' }), ' · ',
    h('span', { i18n: e.released ? 'lead.results.released' : 'lead.results.unreleased' }));
}

async function loadExams() {
  const list = await get('/exams');
  ctx.chief = list.chief;
  els.report.hidden = !ctx.chief; // the report is for chief leaders
  buildTabs();
  exams = list.exams.filter((e) => e.questions.length || ctx.chief);
  els.exam.replaceChildren(...exams.map((e) => h('option', { value: e.code, text: `${e.name} (${e.code})` })));
  if (!exams.length) {
    els.panel.replaceChildren(empty('lead.no_exams'));
    return;
  }
  const wanted = new URLSearchParams(location.search).get('exam') || localStorage.getItem(EXAM_KEY);
  const code = exams.some((e) => e.code === wanted) ? wanted : exams[0].code;
  els.exam.value = code;
  await chooseExam(code);
}

async function chooseExam(code) {
  const summary = exams.find((e) => e.code === code);
  if (!summary) return;
  localStorage.setItem(EXAM_KEY, code);
  // No tab reads the exam until its questions, rules and markers are here.
  ctx.exam = null;
  ctx.state = {};
  cache.clear();
  for (const b of els.tabs.querySelectorAll('.badge')) b.textContent = '';
  setTimeZone(summary.time_zone);
  els.report.setAttribute('href', `/report?exam=${enc(code)}`);
  try {
    const [detail, list] = await Promise.all([get(`/exams/${enc(code)}`), get(`/exams/${enc(code)}/markers`)]);
    ctx.exam = { ...summary, room_open: detail.room_open, locked: detail.locked, released: detail.released };
    ctx.detail = detail;
    ctx.markers = new Map(list.markers.map((m) => [m.id, m]));
  } catch (e) {
    notify('error', problemText(e));
    return;
  }
  examState();
  await show(TABS.some((t) => t.id === current && (!t.chiefOnly || ctx.chief)) ? current : 'progress');
}

function render() {
  const tab = TABS.find((t) => t.id === current);
  if (!tab || !cache.has(tab.id) || !ctx.exam) return;
  const data = cache.get(tab.id);
  els.panel.replaceChildren(tab.view(ctx, data));
  if (tab.count) $(`#count-${tab.id}`).textContent = String(tab.count(data) || '');
  examState();
}

/// Opens a tab: reads its data afresh, then draws it. The previous content stays until the new
/// arrives, so nothing jumps while it loads.
async function show(id) {
  const tab = TABS.find((t) => t.id === id);
  if (!tab) return;
  current = id;
  localStorage.setItem(TAB_KEY, id);
  for (const b of els.tabs.querySelectorAll('[role=tab]')) {
    const on = b.dataset.tab === id;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
  }
  els.panel.setAttribute('aria-labelledby', `tab-${id}`);
  // Chosen before the exam is loaded: shown once it is.
  if (!ctx.exam) return;
  const mine = ++loading;
  els.panel.setAttribute('aria-busy', 'true');
  try {
    const data = await tab.load(ctx);
    if (mine !== loading) return;
    cache.set(id, data);
    render();
    els.panel.dataset.loaded = id;
  } catch (e) {
    if (mine !== loading) return;
    cache.delete(id);
    els.panel.replaceChildren(h('p', { class: 'form-error', text: problemText(e) }));
    notify('error', problemText(e));
  } finally {
    if (mine === loading) els.panel.removeAttribute('aria-busy');
  }
}

async function main() {
  await start('lead', ['leader']);
  layout();
  ui.onLanguage.push(render);
  if (ui.onSignedIn) ui.onSignedIn.push(() => loadExams().catch((e) => notify('error', problemText(e))));
  clearNotice();
  try {
    await loadExams();
  } catch (e) {
    notify('error', problemText(e));
  }
}

main();
