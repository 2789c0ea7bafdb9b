// A marker at the marking workstation: signs in with the workstation key, marks three scripts by
// keyboard (a tick, a comment, a score at the maximum that asks for confirmation, one submit
// made while the network is down and sent again when it returns), flags a fourth as illegible,
// and sees the room close. The Rust test then checks in the database that exactly these marks
// and this flag were stored, once each.

import { api, check, checkClean, fixture, login, open, person, run, shot, signIn } from './lib.mjs';

const messages = (lang) => import(`../../web/i18n/problems.${lang}.json`, { with: { type: 'json' } }).then((m) => m.default);

/// The code of the script on screen once it is neither `before` nor blank.
async function nextCode(page, before = '') {
  const handle = await page.waitForFunction((b) => {
    const c = document.querySelector('#lease-code');
    const text = c ? c.textContent : '';
    return text !== b && text !== '–' && text !== '' ? text : false;
  }, before);
  return handle.jsonValue();
}

const currentCode = (page) => nextCode(page);

/// Types a score that is on the scale but not at its ends (or at the maximum when `max`).
async function typeScore(page, { max = false } = {}) {
  const criteria = page.locator('#criteria input');
  const n = await criteria.count();
  if (n > 0) {
    for (let i = 0; i < n; i += 1) {
      const input = criteria.nth(i);
      await input.click();
      await page.keyboard.type(max ? '0' : '1');
    }
    if (max) {
      // The maximum of a criteria question is the sum of the criteria's maxima: type those.
      const maxima = await page.$$eval('#criteria tr td.muted', (tds) => tds.map((td) => td.textContent.replace(/[^0-9.]/g, '')));
      for (let i = 0; i < n; i += 1) {
        await criteria.nth(i).fill('');
        await criteria.nth(i).click();
        await page.keyboard.type(maxima[i]);
      }
    }
    return;
  }
  await page.locator('#score').click();
  if (max) {
    const text = await page.locator('#scale').textContent();
    await page.keyboard.type(text.match(/[0-9.]+/)[0]);
  } else {
    await page.keyboard.type('1');
  }
}

async function annotate(page, tool, comment) {
  await page.locator(`button[data-tool=${tool}]`).click();
  const box = await page.locator('#script-image').boundingBox();
  await page.mouse.click(box.x + Math.min(box.width, 600) / 2, box.y + Math.min(box.height, 300) / 2);
  if (comment) {
    await page.locator('#comment-text').fill(comment);
    await page.keyboard.press('Enter');
  }
  await page.locator(`button[data-tool=${tool}]`).click();
}

await run(async (browser) => {
  const marker = fixture.marker;
  const p = await person(browser, 'zh-CN');
  const page = p.page;
  // Everything the server tells this marker's page, to search for identity afterwards.
  const heard = [];
  page.on('response', async (r) => {
    if (r.url().includes('/api/v1/') && (r.headers()['content-type'] || '').includes('json')) {
      heard.push(await r.text().catch(() => ''));
    }
  });
  // Every mark the page sends: its task, its key and its body.
  const sent = [];
  const flags = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && /\/marking\/tasks\/[^/]+\/flag$/.test(r.url())) flags.push(r.postDataJSON());
    if (r.method() === 'POST' && /\/marking\/tasks\/[^/]+\/score$/.test(r.url())) {
      sent.push({ task: r.url().split('/').at(-2), key: r.headers()['idempotency-key'], body: r.postDataJSON() });
    }
  });
  await open(p, '/mark');
  await shot(p, 'mark-signin-zh');
  await signIn(p, marker);
  const done = [];

  // 1: a tick, a score typed, Enter.
  let code = await currentCode(page);
  await page.locator('#script-image').waitFor();
  await annotate(page, 'tick');
  check((await page.locator('.pin.tick').count()) === 1, 'the tick is pinned on the page');
  await typeScore(page);
  await shot(p, 'mark-zh');
  await page.keyboard.press('Enter');
  done.push(code);
  code = await nextCode(page, code);
  check(sent.length === 1 && sent[0].body.annotations.length === 1 && sent[0].body.annotations[0].kind === 'tick',
    `the tick went with the first mark: ${JSON.stringify(sent)}`);

  // 2: a comment, and a score at the maximum, which asks first (Esc goes back, Enter confirms).
  await annotate(page, 'comment', 'good argument');
  await typeScore(page, { max: true });
  await page.keyboard.press('Enter');
  await page.locator('.modal').waitFor();
  await shot(p, 'mark-confirm-zh');
  await page.keyboard.press('Escape');
  check((await page.locator('#lease-code').textContent()) === code, 'Esc keeps the script');
  await page.keyboard.press('Enter');
  await page.locator('.modal').waitFor();
  await page.keyboard.press('Enter');
  done.push(code);
  code = await nextCode(page, code);
  const second = sent[sent.length - 1].body;
  check(sent.length === 2 && second.annotations[0].kind === 'comment' && second.annotations[0].text === 'good argument',
    `the comment went with the second mark: ${JSON.stringify(second)}`);

  // 3: the mark reaches the server but its answer is lost; the page is reloaded while the mark
  // is still unanswered; the network comes back. One mark, one key, whatever the attempts.
  let attempts = 0;
  let release;
  const released = new Promise((r) => (release = r));
  const scorePath = '**/api/v1/marking/tasks/*/score';
  await page.route(scorePath, async (route) => {
    attempts += 1;
    if (attempts === 1) {
      await route.fetch(); // the server records it …
      return route.abort('connectionreset'); // … and the answer never arrives
    }
    await released;
    return route.continue();
  });
  await typeScore(page);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#pending').textContent !== '');
  await shot(p, 'mark-offline-zh');
  check((await page.locator('#lease-code').textContent()) === code, 'an unanswered mark keeps its script on screen');
  check(await page.locator('#submit').isDisabled(), 'nothing else is sent while a mark is unanswered');
  await page.reload();
  await page.waitForFunction(() => window.markroom && document.querySelector('#pending') && document.querySelector('#pending').textContent !== '');
  for (let i = 0; attempts < 2 && i < 200; i += 1) await new Promise((r) => setTimeout(r, 50));
  check(attempts === 2, `the reloaded page sends the kept mark again: ${attempts}`);
  release();
  done.push(code);
  code = await nextCode(page, code);
  await page.unroute(scorePath);
  check((await page.locator('#pending').textContent()) === '', 'the kept mark was sent');
  check((await page.locator('#count-today').textContent()).trim() === '3', 'three marked today');
  const keys = new Set(sent.filter((r) => r.task === sent[sent.length - 1].task).map((r) => r.key));
  check(keys.size === 1, `one Idempotency-Key for every attempt at one mark: ${[...keys]}`);
  check(sent.filter((r) => r.task === sent[sent.length - 1].task).length >= 2, 'the mark was sent again');

  // 4: flagged as illegible (confirmed with Enter).
  await page.locator('button[data-flag=illegible]').click();
  await page.locator('.modal').waitFor();
  await page.keyboard.press('Escape');
  check((await page.locator('#lease-code').textContent()) === code, 'Esc keeps the script');
  await page.locator('button[data-flag=illegible]').click();
  await page.locator('#comment-text').fill('ink too faint to read');
  // The request event reaches this script asynchronously: wait for the answer, not the keypress.
  const flagAnswered = page.waitForResponse((r) => r.request().method() === 'POST' && /\/marking\/tasks\/[^/]+\/flag$/.test(r.url()));
  await page.keyboard.press('Enter');
  await flagAnswered;
  const flagged = code;
  check(flags.length === 1 && flags[0].kind === 'illegible' && flags[0].note === 'ink too faint to read',
    `one flag, with its note: ${JSON.stringify(flags)}`);
  code = await nextCode(page, code);

  // A chief leader closes the room; the marker's next act meets it.
  const chief = await login(fixture.chief);
  const closed = await api('POST', `/exams/${fixture.exam}/room`, { token: chief.token, key: chief.key, body: { open: false } });
  check(closed.status === 200, `room closed: ${JSON.stringify(closed.json)}`);
  await typeScore(page);
  await page.keyboard.press('Enter');
  const zh = await messages('zh-CN');
  await page.waitForFunction((m) => document.querySelector('#viewer-message').textContent === m, zh['problem.room_closed']);
  check((await page.locator('#notice').textContent()) === zh['problem.room_closed'], 'the notice says so too');
  check(await page.locator('#submit').isDisabled(), 'nothing more can be submitted');
  await shot(p, 'mark-room-closed-zh');

  // English, from the switch on the page.
  await page.locator('#lang').selectOption('en');
  const en = await messages('en');
  await page.waitForFunction((m) => document.querySelector('#viewer-message').textContent === m, en['problem.room_closed']);
  await shot(p, 'mark-room-closed-en');
  await checkClean(p, 'marker');
  const seen = `${heard.join('\n')}\n${await page.evaluate(() => document.body.innerText)}`;
  check(heard.length > 5, 'the page talked to the server');
  for (const c of fixture.candidates) {
    check(!seen.includes(c.admission_number), `an admission number reached the marker: ${c.admission_number}`);
    check(!seen.includes(c.name), `a candidate's name reached the marker: ${c.name}`);
  }
  console.log(JSON.stringify({ marked: done, flagged }));
});

