// The custody desk: cust1 (Chinese) checks in, treats a sheet scanned upside down without
// anchors (turns both pages, draws two masks with the mouse and removes one), records a
// hand-over to cust3 and a leader, asks for the release, and is refused when approving their own
// request; cust2 (English) confirms the hand-over and approves the release; cust1 sees the batch
// released and checks out. tests/api/pages/custody.rs prepared the desk and checks the database.

import { readFileSync } from 'node:fs';
import { run, person, open, signIn, shot, checkClean, check, fixture } from './lib.mjs';

const catalogue = (name) => JSON.parse(readFileSync(new URL(`../../web/i18n/${name}.json`, import.meta.url), 'utf8'));
const zh = catalogue('custody.zh-CN');
const problemsZh = catalogue('problems.zh-CN');

/// Does `action`, then waits for the notice line it leads to; answers {kind, text}.
async function notice(p, action) {
  await p.page.evaluate(() => {
    const n = document.querySelector('#notice');
    n.dataset.kind = 'none';
    n.textContent = '';
  });
  await action();
  const n = p.page.locator('#notice[data-kind="ok"], #notice[data-kind="error"]');
  await n.waitFor();
  return { kind: await n.getAttribute('data-kind'), text: await n.textContent() };
}

/// Answers the page's own confirmation box.
async function confirm(p) {
  await p.page.locator('.modal button.primary').click();
}

async function tab(p, name) {
  await p.page.locator(`#tab-${name}`).click();
  await p.page.waitForFunction((n) => {
    const panel = document.querySelector('#panel');
    return panel.dataset.tab === n && !panel.hasAttribute('aria-busy');
  }, name);
}

/// Waits until the editor shows page `index` (zero-based) and its image has loaded.
async function imageReady(p, index) {
  await p.page.waitForFunction((i) => {
    const shown = document.querySelector(`#page-switch button[data-page="${i}"][aria-pressed="true"]`);
    const img = document.querySelector('#page-image');
    return shown && img && img.complete && img.naturalWidth > 0;
  }, index);
}

/// Drags a rectangle on the page image between two points given in fractions of it.
async function drag(p, [x0, y0], [x1, y1]) {
  const box = await p.page.locator('#page-image').boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await p.page.mouse.move(...at(x0, y0));
  await p.page.mouse.down();
  await p.page.mouse.move(...at((x0 + x1) / 2, (y0 + y1) / 2), { steps: 4 });
  await p.page.mouse.move(...at(x1, y1), { steps: 4 });
  await p.page.mouse.up();
}

run(async (browser) => {
  const one = await person(browser, 'zh-CN');
  const page = one.page;
  await open(one, '/custody');
  check((await page.title()) === zh['custody.title'], `title in Chinese: ${await page.title()}`);
  await signIn(one, fixture.cust1);
  // The only exam is chosen by itself.
  await page.waitForFunction((code) => document.querySelector('#exam')?.value === code, fixture.exam);

  // Duty: off, then on.
  await page.locator('#check-in').waitFor();
  const checkedIn = await notice(one, () => page.locator('#check-in').click());
  check(checkedIn.kind === 'ok', `check-in: ${checkedIn.text}`);
  await page.locator('#check-out').waitFor();
  check((await page.locator('#roster tbody tr').count()) === 3, 'three custodians on duty');
  await shot(one, 'custody-duty');

  // Treatment: the sheet's two pages, both upside down; a mask on the first.
  await tab(one, 'treatment');
  check((await page.locator('#treatment tbody tr').count()) === 1, 'one sheet waits for treatment');
  await page.locator('#treatment button[data-sheet]').click();
  await imageReady(one, 0);
  check(await page.locator('#submit-treatment').isDisabled(), 'submit waits until every page was seen');
  await page.locator('#turn').click();
  check((await page.locator('#turn').getAttribute('aria-pressed')) === 'true', 'turned');
  check(await page.locator('#page-image.turned').isVisible(), 'the page is shown turned');
  // Two masks over the answer of W1 (the top part of the first page); the second is removed.
  await drag(one, [0.2, 0.14], [0.6, 0.22]);
  await drag(one, [0.3, 0.6], [0.7, 0.7]);
  check((await page.locator('#mask-surface button.mask').count()) === 2, 'two masks drawn');
  await page.locator('#mask-list button[data-remove="1"]').click();
  check((await page.locator('#mask-surface button.mask').count()) === 1, 'one mask left');
  // The kept mask moves by keyboard too (and back).
  await page.locator('#mask-surface button.mask').focus();
  await page.keyboard.press('ArrowRight');
  await page.locator('#mask-surface button.mask').focus();
  await page.keyboard.press('ArrowLeft');
  await shot(one, 'custody-treatment');
  await page.locator('#page-switch button[data-page="1"]').click();
  await imageReady(one, 1);
  await page.locator('#turn').click();
  check((await page.locator('#mask-surface button.mask').count()) === 0, 'the second page has its own masks');
  check(!(await page.locator('#submit-treatment').isDisabled()), 'every page seen');
  const treated = await notice(one, async () => {
    await page.locator('#submit-treatment').click();
    await confirm(one);
  });
  check(treated.kind === 'ok', `treatment: ${treated.text}`);
  await page.locator('p#treatment').waitFor(); // the list is empty now
  await shot(one, 'custody-treatment-done');

  // Batches: the chain, a hand-over, the release asked for.
  await tab(one, 'batches');
  await page.locator(`#batches button[data-batch="${fixture.batch}"]`).click();
  await page.locator('#chain tbody tr[data-event="opened"]').waitFor();
  await page.locator('#handover-giver').selectOption(fixture.cust2.username);
  await page.locator('#handover-to-1').fill(fixture.receivers[0]);
  await page.locator('#handover-to-2').fill(fixture.receivers[1]);
  await page.locator('#handover-note').fill('扫描室');
  const recorded = await notice(one, () => page.locator('#record-handover').click());
  check(recorded.kind === 'ok', `hand-over: ${recorded.text}`);
  await page.locator('#chain tbody tr[data-event="handover"]').waitFor();
  const asked = await notice(one, async () => {
    await page.locator('#request-release').click();
    await confirm(one);
  });
  check(asked.kind === 'ok', `release asked: ${asked.text}`);
  await shot(one, 'custody-batches');

  // Approvals: one's own request cannot be approved by oneself; the server's refusal is shown.
  await tab(one, 'approvals');
  const row = page.locator('#approvals tbody tr[data-kind="release_batch"]');
  await row.waitFor();
  const own = await notice(one, async () => {
    await row.locator('button[data-approve]').click();
    await confirm(one);
  });
  check(own.kind === 'error' && own.text === problemsZh['problem.approval_self'], `own approval refused: ${own.text}`);
  await shot(one, 'custody-approvals');

  // cust2, in English: confirms the hand-over, approves the release.
  const two = await person(browser, 'en');
  const page2 = two.page;
  await open(two, '/custody');
  check((await page2.title()) === 'Custody desk', `title in English: ${await page2.title()}`);
  await signIn(two, fixture.cust2);
  await page2.locator('#check-out').waitFor(); // cust2 is on duty
  await tab(two, 'batches');
  const waiting = page2.locator('#awaiting-list tbody tr');
  check((await waiting.count()) === 1, 'one hand-over waits for cust2');
  const confirmed = await notice(two, async () => {
    await waiting.locator('button[data-handover]').click();
    await confirm(two);
  });
  check(confirmed.kind === 'ok', `confirmed: ${confirmed.text}`);
  await page2.locator('p#awaiting-list').waitFor();
  await tab(two, 'approvals');
  const release = page2.locator('#approvals tbody tr[data-kind="release_batch"]');
  await release.waitFor();
  check((await release.textContent()).includes(fixture.batch_label), 'the request names the batch');
  await shot(two, 'custody-approvals-en');
  const approved = await notice(two, async () => {
    await release.locator('button[data-approve]').click();
    await confirm(two);
  });
  check(approved.kind === 'ok', `approved: ${approved.text}`);
  await page2.locator('p#approvals').waitFor();
  await tab(two, 'batches');
  await page2.locator(`#batches button[data-batch="${fixture.batch}"]`).click();
  await page2.locator(`#batches button[data-batch="${fixture.batch}"][aria-pressed="true"]:enabled`).waitFor();
  await page2.locator('#chain tbody tr[data-event="released"]').waitFor();
  await shot(two, 'custody-batches-en');
  await checkClean(two, 'cust2');

  // cust1 sees the release in the chain, then checks out (no batch is open any more).
  await tab(one, 'batches');
  await page.locator(`#batches button[data-batch="${fixture.batch}"]`).click();
  await page.locator(`#batches button[data-batch="${fixture.batch}"][aria-pressed="true"]:enabled`).waitFor();
  await page.locator('#chain tbody tr[data-event="released"]').waitFor();
  check((await page.locator('#batch-status').textContent()) === zh['custody.status.released'], 'released, in Chinese');
  check(!(await page.locator('#request-release').count()), 'a released batch offers no release');
  await shot(one, 'custody-batches-released');
  await tab(one, 'duty');
  const out = await notice(one, async () => {
    await page.locator('#check-out').click();
    await confirm(one);
  });
  check(out.kind === 'ok', `check-out: ${out.text}`);
  await page.locator('#check-in').waitFor();
  // The switch to English relabels the page in place, dates included.
  await page.locator('#lang').selectOption('en');
  await page.waitForFunction(() => document.querySelector('#tab-duty').textContent === 'Duty');
  check((await page.locator('#check-in').textContent()) === 'Check in', 'buttons follow the language');
  await shot(one, 'custody-duty-en');
  await checkClean(one, 'cust1');
});
