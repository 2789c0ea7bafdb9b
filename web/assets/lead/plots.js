// The desk's and the report's plots, drawn as inline SVG (no library, nothing fetched):
// each marker's severity with its 95% interval, each marker's deviation and CUSUM over time,
// and a question's score distribution. Colours come from markroom.css (svg.plot classes; the
// distribution's bars are `.col`, since `.bar` is also the page header's class and its CSS
// height would override the bars' own).

import { fmtNumber, fmtTime, svg, t } from '../common.js';

const Z95 = 1.959964;

function frame(width, height, labelKey, vars) {
  const label = t(labelKey, vars);
  return svg('svg', {
    class: 'plot', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label,
  }, svg('title', {}, label));
}

function text(x, y, s, anchor = 'start', cls) {
  return svg('text', { x, y, 'text-anchor': anchor, class: cls }, s);
}

function line(x1, y1, x2, y2, cls) {
  return svg('line', { x1, y1, x2, y2, class: cls });
}

/// Round tick values covering [lo, hi], about `n` of them.
export function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/// One row per marker: the severity (marker effect) as a dot, its 95% interval as a bar, the
/// zero line and the severity limit either side. `rows`: {name, severity, se, flagged}.
export function severityPlot(rows, { limit } = {}) {
  const shown = rows.filter((r) => r.severity !== null && r.severity !== undefined);
  const rowH = 22;
  const left = 130;
  const width = 640;
  const top = 10;
  const height = top + Math.max(shown.length, 1) * rowH + 30;
  const s = frame(width, height, 'lead.plot.severity');
  if (!shown.length) {
    s.append(text(width / 2, height / 2, t('lead.plot.no_data'), 'middle'));
    return s;
  }
  let reach = limit || 0;
  for (const r of shown) reach = Math.max(reach, Math.abs(r.severity) + Z95 * (r.se || 0));
  reach = reach * 1.1 || 1;
  const x = (v) => left + ((v + reach) / (2 * reach)) * (width - left - 20);
  const bottom = top + shown.length * rowH;
  s.append(line(x(0), top, x(0), bottom, 'zero'));
  if (limit) {
    s.append(line(x(limit), top, x(limit), bottom, 'limit'), line(x(-limit), top, x(-limit), bottom, 'limit'));
  }
  s.append(line(left, bottom, width - 20, bottom, 'axis'));
  for (const v of ticks(-reach, reach, 6)) {
    s.append(line(x(v), bottom, x(v), bottom + 4, 'axis'), text(x(v), bottom + 16, fmtNumber(v, 2), 'middle'));
  }
  shown.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    s.append(text(left - 8, y + 4, r.name, 'end'));
    if (r.se) s.append(line(x(r.severity - Z95 * r.se), y, x(r.severity + Z95 * r.se), y, 'ci'));
    const dot = svg('circle', { cx: x(r.severity), cy: y, r: 5, class: r.flagged ? 'dot flagged' : 'dot' });
    dot.append(svg('title', {}, `${r.name}: ${fmtNumber(r.severity, 2)}`));
    s.append(dot);
  });
  s.append(text(width - 20, height - 2, t('lead.plot.severity_axis'), 'end'));
  return s;
}

/// A marker's course: above, their score minus the others' mean on each script over time,
/// with ± the tolerance; below, the two-sided CUSUM of their standardised residuals.
export function seriesPlot(points, { name, tolerance } = {}) {
  const width = 300;
  const height = 190;
  const s = frame(width, height, 'lead.plot.series', { name });
  s.append(text(6, 14, name, 'start', 'plot-title'));
  if (!points || points.length < 2) {
    s.append(text(width / 2, height / 2, t('lead.plot.no_data'), 'middle'));
    return s;
  }
  const times = points.map((p) => Date.parse(p.at));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const left = 34;
  const right = width - 8;
  const x = (i) => (t1 > t0 ? left + ((times[i] - t0) / (t1 - t0)) * (right - left) : left + (i / (points.length - 1)) * (right - left));

  // Deviation panel.
  const dTop = 22;
  const dBottom = 96;
  let dReach = tolerance || 1;
  for (const p of points) dReach = Math.max(dReach, Math.abs(p.deviation));
  dReach *= 1.1;
  const yd = (v) => dTop + ((dReach - v) / (2 * dReach)) * (dBottom - dTop);
  s.append(line(left, yd(0), right, yd(0), 'zero'));
  if (tolerance) s.append(line(left, yd(tolerance), right, yd(tolerance), 'limit'), line(left, yd(-tolerance), right, yd(-tolerance), 'limit'));
  s.append(svg('polyline', { class: 'line', points: points.map((p, i) => `${x(i).toFixed(1)},${yd(p.deviation).toFixed(1)}`).join(' ') }));
  s.append(text(left - 4, yd(dReach / 1.1) + 4, fmtNumber(dReach / 1.1, 1), 'end'), text(left - 4, yd(-dReach / 1.1) + 4, fmtNumber(-dReach / 1.1, 1), 'end'));
  s.append(text(right, dTop - 4, t('lead.plot.deviation'), 'end'));

  // CUSUM panel.
  const cTop = 112;
  const cBottom = 168;
  const highs = points.map((p) => p.cusum_high);
  const lows = points.map((p) => p.cusum_low);
  let cReach = 1;
  for (const v of [...highs, ...lows]) if (v !== null && v !== undefined) cReach = Math.max(cReach, Math.abs(v));
  cReach *= 1.1;
  const yc = (v) => cTop + ((cReach - v) / (2 * cReach)) * (cBottom - cTop);
  s.append(line(left, yc(0), right, yc(0), 'zero'));
  const path = (vals) => vals.map((v, i) => (v === null || v === undefined ? null : `${x(i).toFixed(1)},${yc(v).toFixed(1)}`)).filter(Boolean).join(' ');
  if (path(highs)) s.append(svg('polyline', { class: 'line2', points: path(highs) }));
  if (path(lows)) s.append(svg('polyline', { class: 'line2', points: path(lows) }));
  s.append(text(right, cTop - 4, t('lead.plot.cusum'), 'end'));
  s.append(line(left, cBottom, right, cBottom, 'axis'));
  s.append(text(left, height - 6, fmtTime(new Date(t0).toISOString()), 'start'), text(right, height - 6, fmtTime(new Date(t1).toISOString()), 'end'));
  return s;
}

/// Bars: how often each score on the question's scale was given. `dist`: [[score, count]…]
/// or [{score, count}…].
export function histogram(dist, { max, step, labelKey = 'lead.plot.distribution' } = {}) {
  const counts = new Map();
  for (const d of dist || []) {
    const [score, n] = Array.isArray(d) ? d : [d.score, d.count];
    const key = Math.round(score * 100);
    counts.set(key, (counts.get(key) || 0) + n);
  }
  const width = 640;
  const height = 200;
  const s = frame(width, height, labelKey);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (!total) {
    s.append(text(width / 2, height / 2, t('lead.plot.no_data'), 'middle'));
    return s;
  }
  const st = step || 1;
  const top = Math.max(max || 0, ...[...counts.keys()].map((k) => k / 100));
  const n = Math.round(top / st) + 1;
  const left = 36;
  const right = width - 10;
  const bottom = height - 24;
  const bw = (right - left) / n;
  const peak = Math.max(...counts.values());
  const y = (c) => bottom - (c / peak) * (bottom - 14);
  for (let i = 0; i < n; i += 1) {
    const c = counts.get(Math.round(i * st * 100)) || 0;
    if (!c) continue;
    const bar = svg('rect', { class: 'col', x: left + i * bw + 0.5, y: y(c), width: Math.max(bw - 1, 1), height: bottom - y(c) });
    bar.append(svg('title', {}, `${fmtNumber(i * st)}: ${c}`));
    s.append(bar);
  }
  s.append(line(left, bottom, right, bottom, 'axis'), line(left, 14, left, bottom, 'axis'));
  for (const v of ticks(0, top, 10)) {
    const i = Math.round(v / st);
    s.append(text(left + i * bw + bw / 2, bottom + 15, fmtNumber(v), 'middle'));
  }
  for (const v of ticks(0, peak, 4)) {
    if (v !== Math.round(v)) continue;
    s.append(text(left - 4, y(v) + 4, fmtNumber(v, 0), 'end'));
  }
  return s;
}

/// The share of a question's scripts in each state, as one stacked bar.
export function stateBar(parts, { width = 420, height = 22 } = {}) {
  const total = parts.reduce((a, p) => a + p.n, 0);
  const s = frame(width, height, 'lead.plot.states');
  s.setAttribute('preserveAspectRatio', 'none');
  let x = 0;
  for (const p of parts) {
    if (!p.n || !total) continue;
    const w = (p.n / total) * width;
    const r = svg('rect', { x, y: 0, width: w, height, class: `seg seg-${p.key}` });
    r.append(svg('title', {}, `${t(`lead.state.${p.key}`)}: ${p.n}`));
    s.append(r);
    x += w;
  }
  return s;
}
