// The script's pages, large: zoom (buttons, Ctrl + wheel), pan (drag), page switching, and the
// marker's annotations pinned where they were placed. Sizes never depend on the image, so
// nothing around it moves while a marker works.

import { h } from './common.js';

const MIN = 0.2;
const MAX = 4;

export class Viewer {
  constructor({ onPoint }) {
    this.onPoint = onPoint;
    this.images = [];
    this.index = 0;
    this.zoom = 1;
    this.x = 0;
    this.y = 0;
    this.tool = null;
    this.pins = [];
    this.img = h('img', { id: 'script-image', alt: '', draggable: 'false' });
    this.layer = h('div', { class: 'pins' });
    this.sheet = h('div', { class: 'sheet' }, this.img, this.layer);
    this.message = h('div', { class: 'empty-state', id: 'viewer-message', role: 'status' });
    this.pageLabel = h('span', { id: 'page-label', class: 'mono' });
    const button = (id, i18n, f) => {
      const b = h('button', { id, type: 'button', class: 'small', i18n });
      b.addEventListener('click', f);
      return b;
    };
    this.prev = button('page-prev', 'mark.page_prev', () => this.page(-1));
    this.next = button('page-next', 'mark.page_next', () => this.page(+1));
    this.tools = h('div', { class: 'viewer-tools' },
      button('zoom-out', 'mark.zoom_out', () => this.zoomBy(1 / 1.25)),
      button('zoom-in', 'mark.zoom_in', () => this.zoomBy(1.25)),
      button('zoom-fit', 'mark.zoom_fit', () => this.fit()),
      this.prev, this.pageLabel, this.next);
    this.root = h('div', { class: 'viewer', id: 'viewer', tabindex: '0' }, this.tools, this.sheet, this.message);
    this.img.addEventListener('load', () => this.fit());
    this.bindPointer();
    this.root.addEventListener('wheel', (ev) => {
      if (!ev.ctrlKey) {
        this.y -= ev.deltaY;
        this.x -= ev.deltaX;
        this.apply();
      } else {
        this.zoomBy(ev.deltaY < 0 ? 1.1 : 1 / 1.1, ev);
      }
      ev.preventDefault();
    }, { passive: false });
    this.root.addEventListener('keydown', (ev) => {
      const step = 60;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[ev.key]) {
        this.x += moves[ev.key][0];
        this.y += moves[ev.key][1];
        this.apply();
        ev.preventDefault();
      } else if (ev.key === 'Enter' && this.tool && this.images.length) {
        // Without a mouse: aim with the arrow keys, Enter places the mark at the viewer's centre.
        const r = this.img.getBoundingClientRect();
        const v = this.root.getBoundingClientRect();
        const x = (v.left + v.width / 2 - r.left) / r.width;
        const y = (v.top + v.height / 2 - r.top) / r.height;
        if (x >= 0 && x <= 1 && y >= 0 && y <= 1) this.onPoint({ tool: this.tool, page: this.index, x: round(x), y: round(y) });
        ev.preventDefault();
      } else if (ev.key === '+' || ev.key === '=') {
        this.zoomBy(1.25);
      } else if (ev.key === '-') {
        this.zoomBy(1 / 1.25);
      }
    });
  }

  bindPointer() {
    let drag = null;
    this.root.addEventListener('pointerdown', (ev) => {
      if (ev.target.closest('.viewer-tools') || !this.images.length) return;
      if (this.tool) {
        const r = this.img.getBoundingClientRect();
        const x = (ev.clientX - r.left) / r.width;
        const y = (ev.clientY - r.top) / r.height;
        if (x >= 0 && x <= 1 && y >= 0 && y <= 1) {
          this.onPoint({ tool: this.tool, page: this.index, x: round(x), y: round(y) });
        }
        return;
      }
      drag = { sx: ev.clientX, sy: ev.clientY, x: this.x, y: this.y };
      this.root.setPointerCapture(ev.pointerId);
    });
    this.root.addEventListener('pointermove', (ev) => {
      if (!drag) return;
      this.x = drag.x + ev.clientX - drag.sx;
      this.y = drag.y + ev.clientY - drag.sy;
      this.apply();
    });
    const end = () => (drag = null);
    this.root.addEventListener('pointerup', end);
    this.root.addEventListener('pointercancel', end);
  }

  setTool(tool) {
    this.tool = tool;
    this.root.classList.toggle('annotating', Boolean(tool));
  }

  show(images) {
    const same = images.length === this.images.length && images.every((u, i) => u === this.images[i]);
    this.message.hidden = true;
    this.sheet.hidden = false;
    this.tools.hidden = false;
    if (!same) {
      this.images = images;
      this.index = 0;
      this.load();
    }
  }

  empty(text) {
    this.images = [];
    this.img.removeAttribute('src');
    this.sheet.hidden = true;
    this.tools.hidden = true;
    this.message.hidden = false;
    this.message.textContent = text;
  }

  load() {
    this.img.src = this.images[this.index];
    this.pageLabel.textContent = `${this.index + 1} / ${this.images.length}`;
    this.prev.disabled = this.index === 0;
    this.next.disabled = this.index >= this.images.length - 1;
    this.drawPins();
  }

  page(delta) {
    const i = this.index + delta;
    if (i < 0 || i >= this.images.length) return;
    this.index = i;
    this.load();
  }

  /// The page's width fills the viewer; a marker reads down it.
  fit() {
    const w = this.img.naturalWidth || 1;
    this.zoom = Math.min(MAX, Math.max(MIN, (this.root.clientWidth - 16) / w));
    this.x = 8;
    this.y = 48;
    this.apply();
  }

  zoomBy(f, ev) {
    const z = Math.min(MAX, Math.max(MIN, this.zoom * f));
    const r = this.root.getBoundingClientRect();
    const cx = ev ? ev.clientX - r.left : r.width / 2;
    const cy = ev ? ev.clientY - r.top : r.height / 2;
    this.x = cx - ((cx - this.x) * z) / this.zoom;
    this.y = cy - ((cy - this.y) * z) / this.zoom;
    this.zoom = z;
    this.apply();
  }

  apply() {
    this.sheet.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.zoom})`;
  }

  setPins(pins) {
    this.pins = pins;
    this.drawPins();
  }

  drawPins() {
    const marks = { tick: '✓', cross: '✗' };
    this.layer.replaceChildren(...this.pins.filter((p) => p.page === this.index).map((p) => {
      const pin = h('span', { class: `pin ${p.kind}`, text: marks[p.kind] || p.text || '' });
      pin.style.left = `${p.x * 100}%`;
      pin.style.top = `${p.y * 100}%`;
      return pin;
    }));
  }
}

function round(v) {
  return Math.round(v * 10000) / 10000;
}
