// The leader's queues: disputes (every valid mark side by side, arbitration by a typed score
// and a reason), back-reads (a blind score of a resolved script) and problem scripts (scored
// as an arbitration, or returned to marking). Each item shows the script's image through the
// short-lived link the queue gives the leader.

import { api, fmtNumber, h, notify, t } from '../common.js';
import {
  empty, enc, form, get, labelled, markerName, readReason, readScore, reasonInput, scoreInput, scriptImage, table, when,
} from './util.js';

function head(ctx, item, ...more) {
  return h('div', { class: 'row item-head' },
    h('span', { class: 'tag', text: item.question }),
    h('span', { class: 'code', text: item.anonymous_code }),
    ...more);
}

function scale(ctx, code) {
  const q = ctx.question(code);
  return q ? h('span', { class: 'muted', text: t('lead.scale', { max: fmtNumber(q.max_score), step: fmtNumber(q.step), tolerance: fmtNumber(q.tolerance) }) }) : null;
}

export const disputes = {
  id: 'disputes',
  async load(ctx) {
    return get(`/exams/${enc(ctx.exam.code)}/discrepancies`);
  },
  count: (data) => data.length,
  view(ctx, data) {
    if (!data.length) return empty('lead.disputes.none');
    return h('div', { class: 'stack' }, h('p', { class: 'hint', i18n: 'lead.disputes.hint' }), ...data.map((d, i) => {
      const score = scoreInput(`arbitrate-score-${i}`, ctx.question(d.question));
      const reason = reasonInput(`arbitrate-reason-${i}`);
      const marks = [...d.marks].sort((a, b) => a.score - b.score);
      return h('article', { class: 'card queue-item dispute', id: `dispute-${d.anonymous_code}`, dataset: { id: d.id } },
        head(ctx, d,
          h('span', { i18n: `lead.cause.${d.cause}` }),
          h('span', {}, h('span', { i18n: 'lead.spread' }), ' ', h('strong', { class: 'num', text: fmtNumber(d.spread) })),
          h('span', { class: 'muted', text: when(d.opened_at) })),
        h('div', { class: 'item-body' },
          scriptImage(d.images[0], d.anonymous_code),
          h('div', { class: 'stack' },
            h('div', { class: 'marks-side', role: 'list' }, ...marks.map((m) => h('div', { class: 'mark-box', role: 'listitem' },
              h('span', { class: 'mark-score', text: fmtNumber(m.score) }),
              h('span', { class: 'muted', text: markerName(ctx, m.marker_id) })))),
            table(['lead.marker', '#lead.score', 'lead.at'], marks.map((m) => [markerName(ctx, m.marker_id), m.score, when(m.at)])),
            scale(ctx, d.question),
            form({
              id: `arbitrate-${i}`,
              fields: [labelled('lead.arbitrated_score', score), labelled('lead.reason', reason, 'grow')],
              submitKey: 'lead.arbitrate',
              async onSubmit() {
                const body = { score: readScore(score), reason: readReason(reason) };
                const r = await api('POST', `/discrepancies/${enc(d.id)}/arbitrate`, { body });
                notify('ok', t('lead.arbitrated', { code: d.anonymous_code, score: fmtNumber(r.score) }));
                await ctx.reload();
              },
            }))));
    }));
  },
};

export const backreads = {
  id: 'backreads',
  async load(ctx) {
    return get(`/exams/${enc(ctx.exam.code)}/backreads`);
  },
  count: (data) => data.length,
  view(ctx, data) {
    if (!data.length) return empty('lead.backreads.none');
    return h('div', { class: 'stack' }, h('p', { class: 'hint', i18n: 'lead.backreads.hint' }), ...data.map((b, i) => {
      const score = scoreInput(`backread-score-${i}`, ctx.question(b.question));
      const note = reasonInput(`backread-note-${i}`, 'lead.note');
      return h('article', { class: 'card queue-item', id: `backread-${b.anonymous_code}`, dataset: { id: b.id } },
        head(ctx, b, h('span', { class: 'muted', text: when(b.created_at) })),
        h('div', { class: 'item-body' },
          scriptImage(b.images[0], b.anonymous_code),
          h('div', { class: 'stack' },
            scale(ctx, b.question),
            form({
              id: `backread-${i}`,
              fields: [labelled('lead.score', score), labelled('lead.note', note, 'grow')],
              submitKey: 'lead.backread_submit',
              async onSubmit() {
                const body = { score: readScore(score) };
                const n = note.value.trim();
                if (n) body.note = n;
                const r = await api('POST', `/backreads/${enc(b.id)}/score`, { body });
                if (r.method === 'disputed') notify('warn', t('lead.backread_disputed', { code: b.anonymous_code }));
                else notify('ok', t('lead.backread_agrees', { code: b.anonymous_code }));
                await ctx.reload();
              },
            }))));
    }));
  },
};

export const problems = {
  id: 'problems',
  async load(ctx) {
    return get(`/exams/${enc(ctx.exam.code)}/problems`);
  },
  count: (data) => data.length,
  view(ctx, data) {
    if (!data.length) return empty('lead.problems.none');
    return h('div', { class: 'stack' }, ...data.map((p, i) => {
      const score = scoreInput(`problem-score-${i}`, ctx.question(p.question));
      const reason = reasonInput(`problem-reason-${i}`);
      const back = reasonInput(`problem-return-${i}`);
      const done = async () => {
        notify('ok', t('lead.problem_settled', { code: p.anonymous_code }));
        await ctx.reload();
      };
      return h('article', { class: 'card queue-item', id: `problem-${p.anonymous_code}`, dataset: { id: p.id } },
        head(ctx, p,
          h('span', { class: 'flagged', i18n: `lead.problem_kind.${p.kind}` }),
          h('span', { class: 'muted' }, h('span', { i18n: 'lead.flagged_by' }), ' ', markerName(ctx, p.flagged_by)),
          h('span', { class: 'muted', text: when(p.created_at) })),
        p.note ? h('p', { class: 'note', text: p.note }) : null,
        h('div', { class: 'item-body' },
          scriptImage(p.images[0], p.anonymous_code),
          h('div', { class: 'stack' },
            scale(ctx, p.question),
            form({
              id: `problem-score-form-${i}`,
              fields: [labelled('lead.score', score), labelled('lead.reason', reason, 'grow')],
              submitKey: 'lead.problem_score',
              async onSubmit() {
                const body = { action: 'score', score: readScore(score), reason: readReason(reason) };
                await api('POST', `/problems/${enc(p.id)}/resolve`, { body });
                await done();
              },
            }),
            form({
              id: `problem-return-form-${i}`,
              fields: [labelled('lead.reason', back, 'grow')],
              submitKey: 'lead.problem_return',
              async onSubmit() {
                const body = { action: 'return', reason: readReason(back) };
                await api('POST', `/problems/${enc(p.id)}/resolve`, { body });
                await done();
              },
            }))));
    }));
  },
};
