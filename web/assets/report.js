// The printable marking report of one exam (/report?exam=CODE), for the leadership's files:
// per question the distribution of the finals with their mean and SD, the reliability figures
// and each marker's severity with its interval; every dispute and how it was settled; and who
// asked for and who approved the lock and the release. The print stylesheet drops the bar.

import { $, fmtDateTime, fmtList, fmtNumber, h, notify, problemText, setTimeZone, start, t, ui } from './common.js';
import { flagsText, marksDistribution, reliability, severityCells, severityRows } from './lead/markers.js';
import { histogram, severityPlot } from './lead/plots.js';
import { enc, get, personName, table } from './lead/util.js';

const METHODS = ['mean', 'closest_pair', 'arbitration', 'amendment'];
let data = null;

async function load(code) {
  const report = await get(`/exams/${enc(code)}/report`);
  setTimeZone(report.exam.time_zone);
  const [detail, list] = await Promise.all([get(`/exams/${enc(code)}`), get(`/exams/${enc(code)}/markers`)]);
  const stats = {};
  for (const q of report.questions) {
    try {
      stats[q.code] = await get(`/exams/${enc(code)}/questions/${enc(q.code)}/statistics`);
    } catch (e) {
      stats[q.code] = { error: problemText(e) };
    }
  }
  const names = new Map(list.markers.map((m) => [m.id, m.username]));
  return { report, detail, stats, names };
}

const fmt = (v, d = 2) => (v === null || v === undefined ? '–' : fmtNumber(v, d));

function question(q, d) {
  const s = d.stats[q.code] || {};
  const name = (id) => d.names.get(id) || `${String(id).slice(0, 8)}…`;
  const limit = ((d.detail.rules && d.detail.rules.severity_limit_fraction) || 0.5) * q.tolerance;
  const methods = fmtList(METHODS.filter((m) => q.methods[m]).map((m) => `${t(`report.method.${m}`)} ${q.methods[m]}`)) || '–';
  return h('section', { class: 'report-question', id: `report-${q.code}` },
    h('h2', {}, h('span', { i18n: 'report.question' }), ' ', q.code, ' ',
      h('span', { class: 'muted', text: t('report.scale', { max: fmtNumber(q.max_score), step: fmtNumber(q.step), tolerance: fmtNumber(q.tolerance) }) })),
    table(['#report.finals', '#report.mean', '#report.sd', 'report.methods', '#report.disputes', '#report.backreads'],
      [[q.finals, fmt(q.mean), fmt(q.sd), methods, q.disputes, q.backreads_done]]),
    h('h3', { i18n: 'report.distribution' }),
    histogram(q.distribution, { max: q.max_score, step: q.step, labelKey: 'report.distribution' }),
    h('h3', { i18n: 'report.reliability' }),
    s.error ? h('p', { class: 'form-error', text: s.error }) : reliability(s),
    h('h3', { i18n: 'report.markers' }),
    s.error ? null : table(
      ['report.marker', '#report.n', '#report.mean', '#report.sd', '#report.severity', '#report.interval', '#report.residual_sd_ratio',
        '#report.paired_sd_ratio', 'report.flags'],
      (s.markers || []).map((m) => {
        const [sev, ci] = severityCells(m);
        return [name(m.marker_id), m.n, fmt(m.mean), fmt(m.sd), sev, ci, fmt(m.residual_sd_ratio), fmt(m.paired_sd_ratio), flagsText(m.flags) || '–'];
      }),
    ),
    s.error ? null : severityPlot(severityRows(s, name), { limit }));
}

function disputes(d) {
  const rows = d.report.disputes;
  if (!rows.length) return h('p', { class: 'muted', i18n: 'report.no_disputes' });
  return table(
    ['report.question', 'report.script', 'report.cause', 'report.marks', '#report.spread', 'report.status', '#report.settled_score',
      'report.reason', 'report.settled_by', 'report.at'],
    rows.map((x) => [x.question, h('span', { class: 'mono', text: x.anonymous_code }), t(`report.cause.${x.cause}`),
      fmtList(x.marks.map((m) => `${m.marker} ${fmtNumber(m.score)}`)), x.spread, t(`report.status.${x.status}`),
      x.score === null ? '–' : fmtNumber(x.score), x.reason || '–', personName(x.resolved_by), fmtDateTime(x.resolved_at)]),
    { id: 'report-disputes' },
  );
}

function acts(d) {
  const rows = d.report.acts;
  if (!rows.length) return h('p', { class: 'muted', i18n: 'report.no_acts' });
  return table(
    ['report.act', 'report.detail', 'report.requested_by', 'report.requested_at', 'report.approved_by', 'report.approved_at'],
    rows.map((a) => {
      const p = a.payload || {};
      const detail = a.kind === 'amend'
        ? `${p.admission_number} ${p.question}: ${fmtNumber(p.current)} → ${fmtNumber(p.score)} — ${p.reason}`
        : p.reason || a.note || '–';
      return [t(`report.act.${a.kind}`), detail, personName(a.requested_by), fmtDateTime(a.requested_at),
        personName(a.approved_by), fmtDateTime(a.approved_at)];
    }),
    { id: 'report-acts' },
  );
}

function render() {
  if (!data) return;
  const r = data.report;
  const e = r.exam;
  const print = h('button', { type: 'button', class: 'primary', id: 'print', i18n: 'report.print' });
  print.addEventListener('click', () => window.print());
  const back = h('a', { href: '/lead', class: 'button-link', i18n: 'report.back' });
  $('#app').replaceChildren(
    h('div', { class: 'toolbar no-print' }, print, back),
    h('article', { class: 'report', id: 'report' },
      h('header', { class: 'report-head' },
        h('h1', {}, h('span', { i18n: 'report.heading' }), ' — ', `${e.name} (${e.code})`),
        h('p', {}, h('span', { i18n: 'report.window' }), ' ', `${fmtDateTime(e.window_start)} – ${fmtDateTime(e.window_end)}`,
          ' · ', h('span', { i18n: 'report.time_zone' }), ' ', e.time_zone),
        h('p', {},
          h('span', { i18n: e.locked ? 'report.locked_at' : 'report.not_locked' }), e.locked ? ` ${fmtDateTime(e.locked_at)}` : '', ' · ',
          h('span', { i18n: e.released ? 'report.released_at' : 'report.not_released' }), e.released ? ` ${fmtDateTime(e.released_at)}` : ''),
        h('p', { class: 'muted' }, h('span', { i18n: 'report.generated' }), ' ', fmtDateTime(r.generated_at))),
      ...r.questions.map((q) => question(q, data)),
      h('section', {}, h('h2', { i18n: 'report.disputes_title' }), disputes(data)),
      h('section', {}, h('h2', { i18n: 'report.acts_title' }), acts(data))),
  );
}

async function main() {
  await start('report', ['leader']);
  const code = new URLSearchParams(location.search).get('exam') || localStorage.getItem('markroom.lead.exam');
  if (!code) {
    notify('warn', t('report.no_exam'));
    return;
  }
  ui.onLanguage.push(render);
  try {
    data = await load(code);
    render();
  } catch (e) {
    notify('error', problemText(e));
  }
}

main();
