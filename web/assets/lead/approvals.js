// Chief leaders only: the marking room (open or close it), and the two-person requests: those
// waiting for a decision (approve or reject someone else's; the server refuses one's own with
// `approval_self`), a form to ask for a lock, release, unlock or amendment, and the decided.

import { api, confirmBox, fmtNumber, h, notify, session, t } from '../common.js';
import {
  act, empty, enc, form, get, labelled, markerName, personName, readReason, readScore, reasonInput, scoreInput, section, table, when,
} from './util.js';

const ASKABLE = ['lock', 'release', 'unlock', 'amend'];

export const room = {
  id: 'room',
  chiefOnly: true,
  async load(ctx) {
    await ctx.refreshExam();
    return {};
  },
  view(ctx) {
    const open = ctx.detail.room_open;
    const button = h('button', {
      id: 'room-toggle', type: 'button', class: open ? 'danger' : 'primary', i18n: open ? 'lead.room.close' : 'lead.room.open',
    });
    button.addEventListener('click', async () => {
      if (!(await confirmBox(t(open ? 'lead.room.confirm_close' : 'lead.room.confirm_open')))) return;
      const r = await act(button, () => api('POST', `/exams/${enc(ctx.exam.code)}/room`, { body: { open: !open } }));
      if (r) {
        notify('ok', t(r.open ? 'lead.room.opened' : 'lead.room.closed_now'));
        await ctx.reload();
      }
    });
    return h('div', { class: 'card stack room-card' },
      h('p', { class: `room-state ${open ? 'open' : 'closed'}`, id: 'room-state', i18n: open ? 'lead.room.is_open' : 'lead.room.is_closed' }),
      h('p', {}, h('span', { i18n: 'lead.window' }), ' ', h('span', { class: 'mono', text: `${when(ctx.detail.window_start)} – ${when(ctx.detail.window_end)}` })),
      h('p', { class: 'hint', i18n: 'lead.room.hint' }),
      h('div', { class: 'row' }, button));
  },
};

/// What a request is about, in a line.
function about(ctx, a) {
  const p = a.payload || {};
  switch (a.kind) {
    case 'activate_staff':
      return personName(a.subject);
    case 'open_batch':
      return p.label || '';
    case 'release_batch':
      return p.batch_id || '';
    case 'suspend_marker':
    case 'dismiss_marker':
      return [markerName(ctx, p.marker_id), p.reason, p.scope ? t(`lead.scope.${p.scope}`) : null].filter(Boolean).join(' — ');
    case 'amend':
      return t('lead.amend_line', {
        admission: p.admission_number, question: p.question, from: fmtNumber(p.current), to: fmtNumber(p.score), reason: p.reason,
      });
    default:
      return p.reason || '';
  }
}

export const approvals = {
  id: 'approvals',
  chiefOnly: true,
  async load(ctx) {
    const code = ctx.exam.code;
    const [pending, approved, rejected] = await Promise.all([
      get(`/exams/${enc(code)}/approvals`),
      get('/approvals?status=approved'),
      get('/approvals?status=rejected'),
      ctx.refreshExam(),
    ]);
    const decided = [...approved, ...rejected]
      .filter((a) => a.exam === code)
      .sort((a, b) => String(b.decided_at).localeCompare(String(a.decided_at)));
    return { pending, decided };
  },
  count: (data) => data.pending.length,
  view(ctx, data) {
    const me = (session() || {}).username;
    const state = h('p', { id: 'results-state', class: 'results-state' },
      h('span', { i18n: ctx.detail.locked ? 'lead.results.locked' : 'lead.results.unlocked' }), ' · ',
      h('span', { i18n: ctx.detail.released ? 'lead.results.released' : 'lead.results.unreleased' }));
    const pending = data.pending.length
      ? h('div', { class: 'stack', id: 'pending-approvals' }, ...data.pending.map((a) => {
        const mine = a.requester && a.requester.username === me;
        const approve = h('button', { type: 'button', class: 'primary', i18n: 'lead.approve', dataset: { approve: a.id } });
        const reject = h('button', { type: 'button', i18n: 'lead.reject', dataset: { reject: a.id } });
        const kind = t(`lead.kind.${a.kind}`);
        approve.addEventListener('click', async () => {
          if (!(await confirmBox(t('lead.approvals.confirm_approve', { kind, who: personName(a.requester) })))) return;
          const r = await act(approve, () => api('POST', `/approvals/${enc(a.id)}/approve`, { body: {} }));
          if (r) {
            notify('ok', t('lead.approvals.approved', { kind }));
            await ctx.reload();
          }
        });
        reject.addEventListener('click', async () => {
          if (!(await confirmBox(t('lead.approvals.confirm_reject', { kind, who: personName(a.requester) })))) return;
          const r = await act(reject, () => api('POST', `/approvals/${enc(a.id)}/reject`, { body: {} }));
          if (r) {
            notify('ok', t('lead.approvals.rejected', { kind }));
            await ctx.reload();
          }
        });
        return h('article', { class: 'card queue-item approval', id: `approval-${a.id}`, dataset: { kind: a.kind } },
          h('div', { class: 'row item-head' },
            h('strong', { text: kind }),
            h('span', { text: about(ctx, a) })),
          h('p', { class: 'muted' },
            h('span', { i18n: 'lead.requested_by' }), ' ', personName(a.requester), ' · ', when(a.requested_at), ' · ',
            h('span', { i18n: 'lead.expires' }), ' ', when(a.expires_at),
            mine ? h('span', { class: 'mine', i18n: 'lead.approvals.yours' }) : null),
          h('div', { class: 'row' }, approve, reject));
      }))
      : empty('lead.approvals.none');
    return h('div', { class: 'stack' },
      state,
      section('lead.approvals.pending', pending),
      section('lead.approvals.ask', askForm(ctx)),
      section('lead.approvals.decided', data.decided.length ? table(
        ['lead.kind', 'lead.about', 'lead.requested_by', 'lead.decided_by', 'lead.at', 'lead.status'],
        data.decided.map((a) => [t(`lead.kind.${a.kind}`), about(ctx, a), personName(a.requester), personName(a.decider),
          when(a.decided_at), t(`lead.status.${a.status}`)]),
      ) : empty()));
  },
};

function askForm(ctx) {
  const kind = h('select', { id: 'ask-kind' }, ...ASKABLE.map((k) => h('option', { value: k, i18n: `lead.kind.${k}` })));
  const reason = reasonInput('ask-reason');
  const admission = h('input', { id: 'ask-admission', autocomplete: 'off', i18nLabel: 'lead.admission_number', i18nPlaceholder: 'lead.admission_number' });
  const question = h('select', { id: 'ask-question' }, ...ctx.detail.questions.map((q) => h('option', { value: q.code, text: q.code })));
  const score = scoreInput('ask-score', ctx.detail.questions[0]);
  const amendFields = h('div', { class: 'row', hidden: true }, labelled('lead.admission_number', admission), labelled('lead.question', question), labelled('lead.score', score));
  const sync = () => {
    amendFields.hidden = kind.value !== 'amend';
    const q = ctx.detail.questions.find((x) => x.code === question.value);
    if (q) {
      score.dataset.max = q.max_score;
      score.dataset.step = q.step;
    }
  };
  kind.addEventListener('change', sync);
  question.addEventListener('change', sync);
  const f = form({
    id: 'ask-form',
    fields: [labelled('lead.kind', kind), labelled('lead.reason', reason, 'grow'), amendFields],
    submitKey: 'lead.approvals.submit',
    async onSubmit() {
      const k = kind.value;
      let payload;
      if (k === 'amend') {
        payload = {
          admission_number: admission.value.trim(), question: question.value, score: readScore(score), reason: readReason(reason),
        };
      } else {
        const r = readReason(reason, { required: k === 'unlock' });
        payload = r ? { reason: r } : {};
      }
      await api('POST', `/exams/${enc(ctx.exam.code)}/approvals`, { body: { kind: k, payload } });
      notify('ok', t('lead.approvals.filed', { kind: t(`lead.kind.${k}`) }));
      await ctx.reload();
    },
  });
  return h('div', { class: 'stack' }, h('p', { class: 'hint', i18n: 'lead.approvals.ask_hint' }), f);
}
