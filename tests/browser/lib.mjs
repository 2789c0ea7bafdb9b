// Shared by the browser scenarios: Debian's headless Chromium through playwright-core, a guard
// that fails the run on any request that leaves markroom's origin, screenshots, and checks that
// every message the page asked for was in its catalogue.
//
// A scenario is run by tests/api/pages.rs as `node tests/browser/<name>.mjs FIXTURE.json`; the
// fixture names the server (`base`), the accounts and what the Rust test prepared. It exits 0
// when every step held; anything else fails the Rust test with this process's output.

import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
export const base = fixture.base;
const origin = new URL(base).origin;
const shots = fixture.screenshots;
mkdirSync(shots, { recursive: true });

const people = [];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.MARKROOM_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/// A fresh browser profile in `locale` at a workstation's smallest supported screen. Every request
/// to another origin is refused and remembered; `done()` fails on any.
export async function person(browser, locale = 'zh-CN', viewport = { width: 1366, height: 768 }) {
  const context = await browser.newContext({ locale, viewport, extraHTTPHeaders: { 'accept-language': locale } });
  const foreign = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  people.push(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  // Generous: the browser shares two cores with the rest of the test suite.
  page.setDefaultTimeout(30000);
  return { context, page, foreign, errors };
}

export async function open(p, path) {
  await p.page.goto(`${base}${path}`);
  await p.page.waitForFunction(() => window.markroom && document.title !== '');
}

/// Signs in through the page's form (the workstation key is kept by the page for later calls).
export async function signIn(p, account) {
  const page = p.page;
  await page.locator('#login-username').fill(account.username);
  await page.locator('#login-password').fill(account.password);
  await page.locator('#login-workstation').fill(account.workstation_key || '');
  await page.locator('#signin button[type=submit]').click();
  await page.locator('#app').waitFor({ state: 'visible' });
}

export async function shot(p, name) {
  await p.page.screenshot({ path: join(shots, `${name}.png`) });
}

/// Every message key the page asked for is in its catalogues; nothing left the origin; no script
/// error.
export async function checkClean(p, what) {
  const missing = await p.page.evaluate(() => [...window.markroom.missing]);
  check(missing.length === 0, `${what}: untranslated keys ${missing.join(', ')}`);
  check(p.foreign.length === 0, `${what}: requests to other origins ${p.foreign.join(', ')}`);
  check(p.errors.length === 0, `${what}: ${p.errors.join('; ')}`);
}

export function check(ok, message) {
  if (!ok) throw new Error(message);
}

/// The API, as a test's own second person would call it (not through a page).
export async function api(method, path, { token, key, body, idem } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (key) headers['x-workstation-key'] = key;
  if (idem) headers['idempotency-key'] = idem;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: r.status, json };
}

export async function login(account) {
  const r = await api('POST', '/auth/login', {
    body: { username: account.username, password: account.password, workstation_key: account.workstation_key },
  });
  check(r.status === 200, `login ${account.username}: ${JSON.stringify(r.json)}`);
  return { token: r.json.access_token, key: account.workstation_key };
}

/// Hands over to the Rust test for one named step (it moves the server's clock, pauses someone…)
/// and waits until it is done.
export async function step(name, timeoutMs = 60000) {
  writeFileSync(join(fixture.steps, `${name}.ready`), '');
  const done = join(fixture.steps, `${name}.done`);
  const until = Date.now() + timeoutMs;
  while (!existsSync(done)) {
    if (Date.now() > until) throw new Error(`step ${name}: the test did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Runs a scenario, closing the browser whatever happens, and sets the exit code.
export async function run(scenario) {
  const browser = await launch();
  try {
    await scenario(browser);
    console.log('ok');
  } catch (e) {
    console.error(e && e.stack ? e.stack : e);
    process.exitCode = 1;
    for (const [i, page] of people.entries()) {
      await page.screenshot({ path: join(shots, `failed-${process.argv[1].split('/').pop()}-${i}.png`) }).catch(() => {});
      console.error(`page ${i} notice: ${await page.locator('#notice').textContent().catch(() => '?')}`);
    }
  } finally {
    await browser.close();
  }
}
