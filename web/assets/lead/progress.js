// Progress per question: scripts by state, live tasks, and each marker's marks today.

import { h } from '../common.js';
import { stateBar } from './plots.js';
import { empty, enc, get, markerName, table } from './util.js';

const STATES = ['resolved', 'disputed', 'marking', 'awaiting', 'held', 'needs_treatment', 'withdrawn'];

export const progress = {
  id: 'progress',
  async load(ctx) {
    return get(`/exams/${enc(ctx.exam.code)}/progress`);
  },
  view(ctx, data) {
    if (!data.questions.length) return empty();
    return h('div', { class: 'progress-grid' }, ...data.questions.map((q) => {
      const total = STATES.reduce((a, k) => a + (q.scripts[k] || 0), 0);
      const today = Object.entries(q.marks_today_by_marker || {})
        .map(([id, n]) => [markerName(ctx, id), n])
        .sort((a, b) => b[1] - a[1]);
      return h('section', { class: 'card progress-card', id: `progress-${q.question}` },
        h('h3', {}, h('span', { i18n: 'lead.question' }), ' ', h('span', { class: 'mono', text: q.question })),
        h('div', { class: 'row' },
          stateBar(STATES.map((k) => ({ key: k, n: q.scripts[k] || 0 }))),
          h('span', { class: 'num big', text: `${q.scripts.resolved}/${total}` })),
        h('ul', { class: 'legend' }, ...STATES.map((k) => h('li', {},
          h('span', { class: `swatch seg-${k}` }), h('span', { i18n: `lead.state.${k}` }), ' ',
          h('span', { class: 'num', text: String(q.scripts[k] || 0) })))),
        table(['lead.tasks.open', 'lead.tasks.leased', 'lead.tasks.done'].map((k) => `#${k}`), [[q.tasks.open, q.tasks.leased, q.tasks.done]]),
        h('h4', { i18n: 'lead.marks_today' }),
        today.length ? table(['lead.marker', '#lead.marks'], today) : empty());
    }));
  },
};
