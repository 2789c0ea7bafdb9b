// What every markroom page shares: the message catalogues, the API client (tokens, the
// workstation key, refresh, the first-login password change), sign-in, the header bar,
// notices and formatting in the exam's time zone. Pages are ES modules served by markroom
// itself; nothing here reaches beyond the page's own origin.

export const LANGUAGES = ['zh-CN', 'en'];
const SESSION = 'markroom.session';
const WORKSTATION = 'markroom.workstation_key';
const LANG = 'markroom.lang';

export const ui = {
  page: '',
  lang: 'zh-CN',
  messages: {},
  tz: undefined,
  // Keys asked for that no catalogue holds; the browser tests fail on any.
  missing: new Set(),
  onLanguage: [],
  onSignedOut: [],
  onSignedIn: [],
  // Server clock minus this one (from the Date header), for countdowns to server times.
  serverOffsetMs: 0,
};
window.markroom = { missing: ui.missing, ui };

// ---- catalogues -------------------------------------------------------------------------

async function fetchCatalogue(name, lang) {
  const r = await fetch(`/i18n/${name}.${lang}.json`, { cache: 'no-cache' });
  if (!r.ok) throw new Error(`catalogue ${name}.${lang}: ${r.status}`);
  return r.json();
}

export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = LANGUAGES[0];
  const parts = await Promise.all(
    ['common', 'problems', ui.page].map((n) => fetchCatalogue(n, lang)),
  );
  ui.lang = lang;
  ui.messages = Object.assign({}, ...parts);
  document.documentElement.lang = lang;
  translate();
  document.title = t(`${ui.page}.title`);
  for (const f of ui.onLanguage) f();
}

/// The message for `key`, with `{name}` filled from `vars`.
export function t(key, vars = {}) {
  const s = ui.messages[key];
  if (s === undefined) {
    ui.missing.add(key);
    return key;
  }
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? '' : String(vars[k])));
}

/// Fills every element that names its message: data-i18n (text), and data-i18n-placeholder,
/// -title, -aria-label for those attributes.
export function translate(root = document) {
  for (const n of root.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const attr of ['placeholder', 'title', 'aria-label']) {
    const data = `i18n${attr.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`;
    for (const n of root.querySelectorAll(`[data-i18n-${attr}]`)) n.setAttribute(attr, t(n.dataset[data]));
  }
}

// ---- formatting -------------------------------------------------------------------------

export function setTimeZone(tz) {
  ui.tz = tz || undefined;
}

export function fmtNumber(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '–';
  return new Intl.NumberFormat(ui.lang, { maximumFractionDigits: digits }).format(Number(n));
}

/// A list in the page's language ("a, b and c" / "a、b和c").
export function fmtList(items) {
  return new Intl.ListFormat(ui.lang, { style: 'short', type: 'unit' }).format(items.map(String));
}

export function fmtDateTime(iso) {
  if (!iso) return '–';
  return new Intl.DateTimeFormat(ui.lang, {
    timeZone: ui.tz,
    dateStyle: 'short',
    timeStyle: 'medium',
  }).format(new Date(iso));
}

export function fmtTime(iso) {
  if (!iso) return '–';
  return new Intl.DateTimeFormat(ui.lang, { timeZone: ui.tz, timeStyle: 'medium' }).format(new Date(iso));
}

// ---- DOM --------------------------------------------------------------------------------

/// h('button', {i18n: 'mark.submit', class: 'primary', onclick}, child…): an element whose text
/// comes from the catalogue when `i18n` is given (and follows a language switch).
export function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'i18n') {
      e.dataset.i18n = v;
      e.textContent = t(v);
    } else if (k === 'i18nTitle') {
      e.dataset.i18nTitle = v;
      e.title = t(v);
    } else if (k === 'i18nLabel') {
      e.dataset.i18nAriaLabel = v;
      e.setAttribute('aria-label', t(v));
    } else if (k === 'i18nPlaceholder') {
      e.dataset.i18nPlaceholder = v;
      e.placeholder = t(v);
    } else if (k === 'text') {
      e.textContent = v;
    } else if (k === 'class') {
      e.className = v;
    } else if (k.startsWith('on')) {
      e.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(e.dataset, v);
    } else if (v === true) {
      e.setAttribute(k, '');
    } else {
      e.setAttribute(k, v);
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/// One notice line under the header, always the same height (no layout shift).
export function notify(kind, message) {
  const n = $('#notice');
  if (!n) return;
  n.className = `notice ${kind}`;
  n.textContent = message;
  n.title = message; // one line on screen; the whole of it on hover
  n.dataset.kind = kind;
}

export function clearNotice() {
  notify('none', '');
}

// ---- API --------------------------------------------------------------------------------

export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.code || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || (status >= 500 ? 'server_error' : 'unknown');
    this.detail = body.detail || '';
    this.requestId = body.request_id;
    this.field = body.field;
  }
}

/// The message for a failure, in the page's language; the server's own words when no
/// catalogue knows the code.
export function problemText(p) {
  if (!(p instanceof Problem)) return t('problem.unknown');
  const key = `problem.${p.code}`;
  const base = key in ui.messages ? t(key) : p.detail || t('problem.unknown');
  return p.requestId && p.status >= 500 ? `${base} (${p.requestId})` : base;
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION)) || null;
  } catch {
    return null;
  }
}

function saveSession(s) {
  if (s) sessionStorage.setItem(SESSION, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION);
}

export function workstationKey() {
  return localStorage.getItem(WORKSTATION) || '';
}

/// A random key for `Idempotency-Key` (crypto.randomUUID needs a secure context, which a
/// room's plain-HTTP network is not).
export function randomKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

let refreshing = null;

async function refresh() {
  const s = session();
  if (!s || !s.refresh) return false;
  refreshing ||= (async () => {
    try {
      const r = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-workstation-key': workstationKey() },
        body: JSON.stringify({ refresh_token: s.refresh }),
      });
      if (!r.ok) return false;
      const pair = await r.json();
      saveSession({ ...s, access: pair.access_token, refresh: pair.refresh_token || s.refresh });
      return true;
    } catch {
      // Unreachable, not refused: the caller keeps its session and treats it as a lost network.
      return 'network';
    } finally {
      setTimeout(() => (refreshing = null), 0);
    }
  })();
  return refreshing;
}

/// Calls the API as the signed-in person from this workstation. Answers the parsed body (null
/// for 204); throws a Problem otherwise (code `network` when the server cannot be reached).
/// An expired token is refreshed once; a pending first-login password change is asked for and
/// the call made again; a revoked session signs the page out.
export async function api(method, path, { body, idempotencyKey, accept, retried = false } = {}) {
  const s = session();
  const headers = { accept: accept || 'application/json' };
  if (s) headers.authorization = `Bearer ${s.access}`;
  const key = workstationKey();
  if (key) headers['x-workstation-key'] = key;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new Problem(0, { code: 'network' });
  }
  const date = Date.parse(r.headers.get('date') || '');
  if (!Number.isNaN(date)) ui.serverOffsetMs = date + 500 - Date.now();
  if (r.ok) {
    if (r.status === 204) return null;
    const type = r.headers.get('content-type') || '';
    return type.includes('json') ? r.json() : r.text();
  }
  let problem;
  try {
    problem = new Problem(r.status, await r.json());
  } catch {
    problem = new Problem(r.status, {});
  }
  if (!retried && r.status === 401 && problem.code === 'invalid_token') {
    const refreshed = await refresh();
    if (refreshed === 'network') throw new Problem(0, { code: 'network' });
    if (refreshed) return api(method, path, { body, idempotencyKey, accept, retried: true });
  }
  if (!retried && problem.code === 'password_change_required') {
    if (await changePassword()) return api(method, path, { body, idempotencyKey, accept, retried: true });
    signOut();
    throw problem;
  }
  if (r.status === 401 && ['invalid_token', 'token_revoked', 'unauthenticated'].includes(problem.code)) {
    signOut(problem);
  }
  throw problem;
}

// ---- sign-in ----------------------------------------------------------------------------

function field(name, type, i18n, extra = {}) {
  const input = h('input', { id: `login-${name}`, name, type, required: true, autocomplete: 'off', ...extra });
  return h('label', { class: 'field' }, h('span', { i18n }), input);
}

function dialog(id, titleKey, fields, submitKey) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { id, class: 'card signin', novalidate: true },
    h('h2', { i18n: titleKey }),
    ...fields,
    error,
    h('button', { type: 'submit', class: 'primary', i18n: submitKey }),
  );
  return { form, error };
}

/// Shows the sign-in form until someone of an allowed role signs in; resolves with the session.
export function signIn(roles) {
  const existing = session();
  if (existing && roles.includes(existing.role)) return Promise.resolve(existing);
  return new Promise((resolve) => {
    const { form, error } = dialog(
      'signin',
      'signin.title',
      [
        field('username', 'text', 'signin.username', { autocapitalize: 'off', spellcheck: 'false' }),
        field('password', 'password', 'signin.password'),
        field('workstation', 'password', 'signin.workstation_key', { required: false }),
      ],
      'signin.submit',
    );
    $('#login-workstation', form).value = workstationKey();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const username = $('#login-username', form).value.trim();
      const password = $('#login-password', form).value;
      const key = $('#login-workstation', form).value.trim();
      if (key) localStorage.setItem(WORKSTATION, key);
      else localStorage.removeItem(WORKSTATION);
      let pair;
      try {
        pair = await api('POST', '/auth/login', {
          body: { username, password, workstation_key: key || undefined },
          retried: true,
        });
      } catch (p) {
        error.textContent = problemText(p);
        return;
      }
      if (!roles.includes(pair.role)) {
        error.textContent = t('signin.wrong_role');
        return;
      }
      saveSession({ access: pair.access_token, refresh: pair.refresh_token, role: pair.role, username });
      if (pair.password_change_required && !(await changePassword(password))) {
        // Awaiting activation: stay here; they sign in once a chief leader has activated them.
        $('#login-password', form).value = '';
        error.textContent = t('password.awaiting_activation');
        return;
      }
      form.remove();
      resolve(session());
    });
    $('#app').hidden = true;
    $('#gate').replaceChildren(form);
    $('#login-username', form).focus();
  });
}

let changing = null;

/// The first-login password change: asked for whenever the server says it is still pending.
/// Resolves true with fresh tokens kept, false when the account now waits for activation.
export function changePassword(oldPassword = '') {
  changing ||= new Promise((resolve) => {
    const { form, error } = dialog(
      'password-change',
      'password.title',
      [
        h('p', { class: 'hint', i18n: 'password.why' }),
        field('old', 'password', 'password.old'),
        field('new', 'password', 'password.new', { minlength: 12 }),
        field('again', 'password', 'password.again', { minlength: 12 }),
      ],
      'password.submit',
    );
    $('#login-old', form).value = oldPassword;
    const wasHidden = $('#app').hidden;
    $('#app').hidden = true;
    $('#gate').append(form);
    (oldPassword ? $('#login-new', form) : $('#login-old', form)).focus();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const old_password = $('#login-old', form).value;
      const new_password = $('#login-new', form).value;
      if (new_password !== $('#login-again', form).value) {
        error.textContent = t('password.mismatch');
        return;
      }
      let pair;
      try {
        pair = await api('POST', '/auth/password', { body: { old_password, new_password }, retried: true });
      } catch (p) {
        error.textContent = problemText(p);
        return;
      }
      form.remove();
      changing = null;
      if (pair && pair.access_token) {
        // Every earlier token ended with the change; the answer carries fresh ones.
        const s = session();
        saveSession({ ...s, access: pair.access_token, refresh: pair.refresh_token || s.refresh });
        $('#app').hidden = wasHidden;
        resolve(true);
      } else {
        // Changed, but the account acts only once a chief leader activates it.
        saveSession(null);
        notify('info', t('password.awaiting_activation'));
        resolve(false);
      }
    });
  });
  return changing;
}

/// Ends the page's session: on the server when asked to, and here in every case.
export async function signOut(reason) {
  if (reason === 'logout') {
    try {
      await api('POST', '/auth/logout', { body: {}, retried: true });
    } catch {
      // Signed out here regardless; the server ends its tokens at their expiry.
    }
  }
  saveSession(null);
  for (const f of ui.onSignedOut) f(reason);
}

// ---- the frame of every page ------------------------------------------------------------

/// Loads the catalogues, builds the header (title, who, language switch, sign out) and signs in.
export async function start(page, roles) {
  ui.page = page;
  const wanted = localStorage.getItem(LANG) || document.documentElement.dataset.lang || LANGUAGES[0];
  await setLanguage(wanted);
  const select = h(
    'select',
    { id: 'lang', i18nLabel: 'common.language' },
    ...LANGUAGES.map((l) => h('option', { value: l, i18n: `lang.${l}` })),
  );
  select.value = ui.lang;
  select.addEventListener('change', async () => {
    localStorage.setItem(LANG, select.value);
    await setLanguage(select.value);
  });
  const who = h('span', { id: 'who', class: 'who' });
  const out = h('button', { id: 'signout', type: 'button', i18n: 'common.sign_out', hidden: true });
  out.addEventListener('click', () => signOut('logout'));
  $('#bar').replaceChildren(h('h1', { i18n: `${page}.title` }), h('span', { class: 'spacer' }), who, select, out);
  ui.onSignedOut.push(async (reason) => {
    out.hidden = true;
    who.textContent = '';
    if (reason instanceof Problem) notify('error', problemText(reason));
    await signIn(roles);
    shown();
    for (const f of ui.onSignedIn) f();
  });
  const shown = () => {
    const s = session();
    who.textContent = s ? s.username : '';
    out.hidden = !s;
    $('#app').hidden = false;
  };
  const s = await signIn(roles);
  shown();
  return s;
}

/// A small confirmation in the page (window.confirm blocks the page and cannot be styled).
export function confirmBox(message, { okKey = 'common.confirm', cancelKey = 'common.cancel' } = {}) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'primary', i18n: okKey });
    const cancel = h('button', { type: 'button', i18n: cancelKey });
    const box = h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true' },
      h('div', { class: 'card' }, h('p', { class: 'confirm-text', text: message }), h('div', { class: 'row' }, ok, cancel)));
    const done = (v) => {
      box.remove();
      document.removeEventListener('keydown', keys, true);
      resolve(v);
    };
    const keys = (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.stopPropagation();
        done(false);
      } else if (ev.key === 'Enter') {
        ev.preventDefault();
        ev.stopPropagation();
        // A held Enter (the one that asked) must not also answer.
        if (!ev.repeat) done(document.activeElement !== cancel);
      }
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    document.addEventListener('keydown', keys, true);
    document.body.append(box);
    ok.focus();
  });
}

/// Inline SVG (no library): createElementNS with attributes.
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
