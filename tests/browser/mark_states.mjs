// What a marker is told, in English this time: the countdown follows the server's clock and warns
// before the lease ends; an ended lease is said plainly and the next script comes; a pause stops
// marking with its reason. The Rust test moves the server's clock and pauses the marker between
// the steps.

import { check, checkClean, fixture, open, person, run, shot, signIn, step } from './lib.mjs';

const messages = (name) => import(`../../web/i18n/${name}.en.json`, { with: { type: 'json' } }).then((m) => m.default);

await run(async (browser) => {
  const problems = await messages('problems');
  const mark = await messages('mark');
  const p = await person(browser, 'en-GB');
  const page = p.page;
  await open(p, '/mark');
  await signIn(p, fixture.marker);
  await page.waitForFunction(() => !['', '–'].includes(document.querySelector('#lease-code').textContent));
  const first = await page.locator('#lease-code').textContent();
  check(!(await page.locator('#countdown').getAttribute('class')).includes('warn'), 'no warning with ten minutes left');

  // Nine of the ten minutes pass on the server; the page learns it at its next call (a poll).
  await step('nine-minutes');
  await page.waitForFunction(() => document.querySelector('#countdown').classList.contains('warn'), null, { timeout: 30000 });
  await page.waitForFunction((m) => document.querySelector('#notice').textContent === m, mark['mark.lease_warning']);
  await shot(p, 'mark-lease-warning-en');

  // The lease ends: a mark typed now is refused as late, and the next script comes.
  await step('lease-over');
  await typeOnes(page);
  await page.keyboard.press('Enter');
  await page.waitForFunction((m) => document.querySelector('#notice').textContent === m, problems['problem.lease_expired']);
  await page.waitForFunction((b) => !['', '–', b].includes(document.querySelector('#lease-code').textContent), first);
  const second = await page.locator('#lease-code').textContent();

  // A leader pauses the marker; the page stops at once with the reason.
  await step('paused');
  await typeOnes(page);
  await page.keyboard.press('Enter');
  await page.waitForFunction((m) => document.querySelector('#viewer-message').textContent === m, problems['problem.marker_paused']);
  check(await page.locator('#submit').isDisabled(), 'a paused marker cannot submit');
  await shot(p, 'mark-paused-en');
  await checkClean(p, 'marker');
  console.log(JSON.stringify({ first, second }));
});

/// A one in the score, or in each criterion.
async function typeOnes(page) {
  const inputs = page.locator('#score:visible, #criteria input:visible');
  for (let i = 0; i < (await inputs.count()); i += 1) {
    await inputs.nth(i).click();
    await page.keyboard.type('1');
  }
}
