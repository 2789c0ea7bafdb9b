// Marker reviews: what paused a marker and the evidence, and the decision that ends the
// review: reinstate (any leader of the exam) or suspend (a chief asks; a second chief approves
// the request in the Approvals tab, which voids the marks in the chosen scope).

import { api, fmtList, fmtNumber, h, notify, t } from '../common.js';
import {
  empty, enc, form, get, labelled, markerName, readReason, reasonInput, section, table, when, zonedToIso,
} from './util.js';

const Z95 = 1.959964;

function dl(pairs) {
  return h('dl', { class: 'facts' }, ...pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .flatMap(([k, v]) => [h('dt', { i18n: k }), h('dd', {}, v)]));
}

const num = (v, d = 2) => (v === null || v === undefined ? null : fmtNumber(v, d));

/// The evidence a review carries, in words and figures.
export function evidenceView(ev) {
  if (Array.isArray(ev)) return h('ul', { class: 'evidence' }, ...ev.map((x) => h('li', { text: String(x) })));
  if (!ev || typeof ev !== 'object') return h('p', { class: 'evidence', text: ev === null || ev === undefined ? '–' : String(ev) });
  const f = ev.figures || {};
  const severity = f.severity === null || f.severity === undefined ? null
    : f.severity_se ? `${fmtNumber(f.severity, 2)} [${fmtNumber(f.severity - Z95 * f.severity_se, 2)}, ${fmtNumber(f.severity + Z95 * f.severity_se, 2)}]`
      : fmtNumber(f.severity, 2);
  const seeds = ev.seeds ? t('lead.seeds_line', { hits: ev.seeds.hits, misses: ev.seeds.misses, recent: ev.seeds.recent_misses }) : null;
  const checks = ev.self_checks ? t('lead.self_checks_line', {
    n: (ev.self_checks.differences || []).length, beyond: ev.self_checks.beyond_tolerance,
  }) : null;
  return h('div', { class: 'evidence' },
    dl([
      ['lead.question', ev.question],
      ['lead.triggers', fmtList((ev.triggers || []).map((x) => t(`lead.trigger.${x}`))) || null],
      ['lead.col.n', f.n],
      ['lead.col.mean', num(f.mean)],
      ['lead.col.severity', severity],
      ['lead.col.p_holm', num(f.p_holm, 4)],
      ['lead.col.residual_sd_ratio', num(f.residual_sd_ratio)],
      ['lead.col.paired_sd_ratio', num(f.paired_sd_ratio)],
      ['lead.col.trend', num(f.trend_slope, 3)],
      ['lead.col.seeds', seeds],
      ['lead.col.self_checks', checks],
      ['lead.col.speed', ev.median_seconds ? t('lead.seconds', { s: fmtNumber(ev.median_seconds, 0) }) : null],
    ]),
    ev.seed_marks && ev.seed_marks.length
      ? table(['#lead.score', '#lead.definitive'], ev.seed_marks.map((s) => [s.score, s.definitive]))
      : null);
}

export const reviews = {
  id: 'reviews',
  async load(ctx) {
    return get(`/exams/${enc(ctx.exam.code)}/reviews`);
  },
  count: (data) => data.filter((r) => r.status === 'open').length,
  view(ctx, data) {
    const open = data.filter((r) => r.status === 'open');
    const decided = data.filter((r) => r.status !== 'open');
    return h('div', { class: 'stack' },
      open.length ? h('div', { class: 'stack' }, ...open.map((r, i) => item(ctx, r, i))) : empty('lead.reviews.none'),
      decided.length ? section('lead.reviews.decided', table(
        ['lead.marker', 'lead.review_kind', 'lead.decision', 'lead.at'],
        decided.map((r) => [r.marker_name || markerName(ctx, r.marker_id), t(`lead.review_kind.${r.kind}`),
          r.decision ? t(`lead.decision.${r.decision}`) : '–', when(r.decided_at)]),
      )) : null);
  },
};

function item(ctx, r, i) {
  const reason = reasonInput(`review-reason-${i}`);
  const reinstate = form({
    id: `review-reinstate-${i}`,
    fields: [labelled('lead.reason', reason, 'grow')],
    submitKey: 'lead.reinstate',
    async onSubmit() {
      const body = { decision: 'reinstate', reason: readReason(reason) };
      await api('POST', `/reviews/${enc(r.id)}/decide`, { body });
      notify('ok', t('lead.reinstated', { name: r.marker_name }));
      await ctx.reload();
    },
  });
  let suspend = null;
  if (ctx.chief) {
    const why = reasonInput(`review-suspend-reason-${i}`);
    const scope = h('select', { id: `review-scope-${i}` },
      h('option', { value: 'all', i18n: 'lead.scope.all' }), h('option', { value: 'since', i18n: 'lead.scope.since' }));
    const since = h('input', { id: `review-since-${i}`, type: 'datetime-local', disabled: true, i18nLabel: 'lead.scope.since' });
    scope.addEventListener('change', () => { since.disabled = scope.value !== 'since'; });
    suspend = form({
      id: `review-suspend-${i}`,
      fields: [labelled('lead.reason', why, 'grow'), labelled('lead.scope', scope), since],
      submitKey: 'lead.suspend',
      async onSubmit() {
        const body = { decision: 'suspend', reason: readReason(why), scope: scope.value };
        if (scope.value === 'since') {
          body.since = zonedToIso(since.value, ctx.exam.time_zone);
          if (!body.since) throw new Error(t('lead.error.since_empty'));
        }
        await api('POST', `/reviews/${enc(r.id)}/decide`, { body });
        notify('ok', t('lead.suspension_requested', { name: r.marker_name }));
        await ctx.reload();
      },
    });
  }
  return h('article', { class: 'card queue-item', id: `review-${r.id}` },
    h('div', { class: 'row item-head' },
      h('strong', { text: r.marker_name || markerName(ctx, r.marker_id) }),
      h('span', { class: 'flagged', i18n: `lead.review_kind.${r.kind}` }),
      h('span', { class: 'muted', text: when(r.opened_at) })),
    evidenceView(r.evidence),
    reinstate,
    suspend ? h('div', { class: 'stack' }, h('p', { class: 'hint', i18n: 'lead.suspend_hint' }), suspend) : null);
}
