// The marker table of one question (n, mean, severity with its 95% interval, residual and
// paired SD ratios, seed accuracy, speed, flags), the question's reliability figures, and the
// plots: severity with intervals per marker, each marker's deviation and CUSUM over time, and
// the distribution of the marks given.

import { fmtList, fmtNumber, h, t } from '../common.js';
import { histogram, seriesPlot, severityPlot } from './plots.js';
import { empty, enc, get, markerName, section, table } from './util.js';

const Z95 = 1.959964;

/// Severity with its interval, as table cells; null figures as dashes.
export function severityCells(m) {
  if (m.severity === null || m.severity === undefined) return ['–', '–'];
  const ci = m.severity_se
    ? `[${fmtNumber(m.severity - Z95 * m.severity_se, 2)}, ${fmtNumber(m.severity + Z95 * m.severity_se, 2)}]`
    : '–';
  return [fmtNumber(m.severity, 2), ci];
}

export function flagsText(flags) {
  return fmtList((flags || []).map((f) => t(`lead.trigger.${f}`)));
}

/// The question's reliability figures, as a definition list.
export function reliability(stats) {
  const icc = stats.icc || {};
  const form = (name) => {
    const f = icc[name];
    if (!f) return null;
    const ci = f.ci95 ? ` [${fmtNumber(f.ci95[0], 3)}, ${fmtNumber(f.ci95[1], 3)}]` : '';
    return `${fmtNumber(f.value, 3)}${ci}`;
  };
  const rows = [
    ['lead.rel.n_marks', fmtNumber(stats.n_marks, 0)],
    ['lead.rel.n_scripts', fmtNumber(stats.n_scripts, 0)],
    ['lead.rel.n_markers', fmtNumber(stats.n_markers, 0)],
    ['lead.rel.icc1', form('ICC1')],
    ['lead.rel.icc1k', form('ICC1k')],
    ['lead.rel.icc2', form('ICC2')],
    ['lead.rel.icc3', form('ICC3')],
    ['lead.rel.alpha_interval', stats.krippendorff_alpha ? fmtNumber(stats.krippendorff_alpha.interval, 3) : null],
    ['lead.rel.alpha_ordinal', stats.krippendorff_alpha ? fmtNumber(stats.krippendorff_alpha.ordinal, 3) : null],
    ['lead.rel.fleiss', fmtNumber(stats.fleiss_kappa, 3)],
    ['lead.rel.pooled_sd', stats.additive_model ? fmtNumber(stats.additive_model.pooled_residual_sd, 3) : null],
  ].filter(([, v]) => v !== null);
  return h('dl', { class: 'facts reliability' }, ...rows.flatMap(([k, v]) => [h('dt', { i18n: k }), h('dd', { class: 'num', text: v })]));
}

/// The marks' distribution over the question's scale (all markers together).
export function marksDistribution(stats) {
  const all = [];
  for (const m of stats.markers || []) all.push(...(m.distribution || []));
  return all;
}

export function severityRows(stats, nameOf) {
  return (stats.markers || []).map((m) => ({
    name: nameOf(m.marker_id),
    severity: m.severity,
    se: m.severity_se,
    flagged: (m.flags || []).includes('severity'),
  }));
}

export const markers = {
  id: 'markers',
  async load(ctx) {
    const codes = ctx.exam.questions;
    if (!codes.length) return { code: null };
    if (!codes.includes(ctx.state.statsQuestion)) ctx.state.statsQuestion = codes[0];
    const code = ctx.state.statsQuestion;
    const stats = await get(`/exams/${enc(ctx.exam.code)}/questions/${enc(code)}/statistics`);
    return { code, stats };
  },
  view(ctx, data) {
    const picker = h('div', { class: 'row', role: 'group', id: 'stats-question' },
      h('span', { i18n: 'lead.question' }),
      ...ctx.exam.questions.map((c) => {
        const b = h('button', { type: 'button', class: 'small', 'aria-pressed': String(c === data.code), text: c, dataset: { question: c } });
        b.addEventListener('click', () => {
          ctx.state.statsQuestion = c;
          ctx.reload();
        });
        return b;
      }));
    if (!data.code) return h('div', { class: 'stack' }, picker, empty());
    const s = data.stats;
    const name = (id) => markerName(ctx, id);
    const evidence = new Map((s.evidence || []).map((e) => [e.marker_id, e]));
    const rows = (s.markers || []).map((m) => {
      const e = evidence.get(m.marker_id) || {};
      const seeds = e.seeds && e.seeds.hits + e.seeds.misses
        ? `${fmtNumber((100 * e.seeds.hits) / (e.seeds.hits + e.seeds.misses), 0)}% (${e.seeds.hits}/${e.seeds.hits + e.seeds.misses})`
        : '–';
      const [sev, ci] = severityCells(m);
      const flags = flagsText(m.flags);
      return [name(m.marker_id), m.n, m.mean === null ? '–' : fmtNumber(m.mean, 2), sev, ci,
        m.residual_sd_ratio === null ? '–' : fmtNumber(m.residual_sd_ratio, 2),
        m.paired_sd_ratio === null ? '–' : fmtNumber(m.paired_sd_ratio, 2),
        seeds, e.median_seconds ? t('lead.seconds', { s: fmtNumber(e.median_seconds, 0) }) : '–',
        flags ? h('span', { class: 'flagged', text: flags }) : '–'];
    });
    const limit = (ctx.detail.rules && ctx.detail.rules.severity_limit_fraction || 0.5) * (s.tolerance || 0);
    const series = new Map((s.series || []).map((x) => [x.marker_id, x.points]));
    return h('div', { class: 'stack' },
      picker,
      h('p', { class: 'muted', text: t('lead.scale', { max: fmtNumber(s.max_score), step: fmtNumber(s.step), tolerance: fmtNumber(s.tolerance) }) }),
      rows.length ? table(
        ['lead.marker', '#lead.col.n', '#lead.col.mean', '#lead.col.severity', '#lead.col.interval', '#lead.col.residual_sd_ratio',
          '#lead.col.paired_sd_ratio', '#lead.col.seeds', '#lead.col.speed', 'lead.col.flags'],
        rows, { id: 'marker-table' },
      ) : empty(),
      h('div', { class: 'plots-row' },
        section('lead.plot.severity', severityPlot(severityRows(s, name), { limit }), h('p', { class: 'hint', i18n: 'lead.plot.severity_hint' })),
        section('lead.plot.distribution', histogram(marksDistribution(s), { max: s.max_score, step: s.step }))),
      section('lead.plot.series_title', h('p', { class: 'hint', i18n: 'lead.plot.series_hint' }),
        h('div', { class: 'series-grid' }, ...(s.markers || []).map((m) => seriesPlot(series.get(m.marker_id), { name: name(m.marker_id), tolerance: s.tolerance })))),
      section('lead.reliability', reliability(s)));
  },
};
