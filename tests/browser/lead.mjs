// Two chief leaders at their desks. The first opens every tab (a screenshot of each, in
// Chinese), arbitrates the one open dispute by keyboard (an off-scale score refused first),
// scores the problem script, reinstates the paused marker and closes the room; the second asks for the lock at their own desk; the first approves it,
// asks for the release and is refused approving their own request; the second approves it.
// The printed report shows the dispute and who approved what; the desk is shown in English.
// The Rust test then checks in the database that all of it happened.

import { join } from 'node:path';
import { check, checkClean, fixture, open, person, run, shot, signIn } from './lib.mjs';

const catalogue = (name, lang) => import(`../../web/i18n/${name}.${lang}.json`, { with: { type: 'json' } }).then((m) => m.default);

/// The whole page, beyond the screen's height (the marker plots, the report).
async function fullShot(p, name) {
  await p.page.screenshot({ path: join(fixture.screenshots, `${name}.png`), fullPage: true });
}

async function tab(p, id) {
  await p.page.locator(`#tab-${id}`).click();
  await p.page.locator(`#panel[data-loaded="${id}"]:not([aria-busy])`).waitFor();
}

async function notice(page, kind) {
  await page.waitForFunction((k) => document.querySelector('#notice').dataset.kind === k, kind);
  return page.locator('#notice').textContent();
}

/// Answers the page's own confirmation box with the keyboard.
async function confirm(page) {
  await page.locator('.modal').waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.modal').waitFor({ state: 'detached' });
}

run(async (browser) => {
  const zh = { ...(await catalogue('lead', 'zh-CN')), ...(await catalogue('problems', 'zh-CN')) };
  const en = await catalogue('lead', 'en');
  const d = fixture.dispute;

  // The first chief: progress, then the dispute.
  const lead = await person(browser, 'zh-CN');
  const page = lead.page;
  await open(lead, '/lead');
  await signIn(lead, fixture.leader);
  await page.locator('#panel[data-loaded="progress"]').waitFor();
  await page.locator('#progress-W1').waitFor();
  check((await page.locator('h1').textContent()) === zh['lead.title'], 'the desk reads Chinese first');
  await shot(lead, 'lead-progress');

  await tab(lead, 'disputes');
  const item = page.locator(`#dispute-${d.code}`);
  await item.waitFor();
  const shown = await item.locator('.mark-score').allTextContents();
  check(shown.length === 3, `three marks side by side: ${shown}`);
  for (const m of d.marks) check(shown.includes(String(m)), `mark ${m} shown: ${shown}`);
  await page.locator(`#dispute-${d.code} img.script-image`).waitFor();
  check(await page.locator(`#dispute-${d.code} img.script-image`).evaluate((img) => img.complete && img.naturalWidth > 0),
    'the disputed script is shown');
  await shot(lead, 'lead-disputes');

  // By keyboard: an off-scale score is refused on the page, then the right one goes in.
  await page.locator('#arbitrate-score-0').focus();
  await page.keyboard.type('999');
  await page.keyboard.press('Tab');
  await page.keyboard.type(d.reason);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#arbitrate-0 .form-error').textContent !== '');
  check(await item.isVisible(), 'still open after an off-scale score');
  await page.locator('#arbitrate-score-0').focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(String(d.score));
  await page.keyboard.press('Enter');
  await item.waitFor({ state: 'detached' });
  await notice(page, 'ok');
  await page.locator('#panel .empty').waitFor();

  await tab(lead, 'backreads');
  await shot(lead, 'lead-backreads');

  // The problem script: the marker's note beside the image, scored by keyboard.
  await tab(lead, 'problems');
  const problem = page.locator(`#problem-${fixture.problem.code}`);
  await problem.waitFor();
  check((await problem.locator('.note').textContent()) === '第二行字迹模糊', 'the marker\'s note is shown');
  await shot(lead, 'lead-problems');
  await page.locator('#problem-score-0').focus();
  await page.keyboard.type(String(fixture.problem.score));
  await page.keyboard.press('Tab');
  await page.keyboard.type('字迹可辨，按细则评分');
  await page.keyboard.press('Enter');
  await problem.waitFor({ state: 'detached' });
  await notice(page, 'ok');

  // The paused marker: the leader's reason as evidence, reinstated.
  await tab(lead, 'reviews');
  const review = page.locator('#panel article.queue-item');
  await review.waitFor();
  check((await review.textContent()).includes(fixture.review.marker), 'the paused marker is named');
  check((await review.textContent()).includes('连续评分过快'), 'with the evidence');
  await shot(lead, 'lead-reviews');
  await page.locator('#review-reason-0').focus();
  await page.keyboard.type('核查无误，恢复评卷');
  await page.keyboard.press('Enter');
  await review.waitFor({ state: 'detached' });
  await notice(page, 'ok');
  check((await page.locator('#panel table.data').textContent()).includes(fixture.review.marker), 'listed as decided');
  await tab(lead, 'markers');
  await page.locator('#marker-table').waitFor();
  check((await page.locator('#marker-table tbody tr').count()) >= 3, 'a row per marker of W1');
  check((await page.locator('#panel svg.plot').count()) >= 5, 'severity, distribution and a series per marker');
  await shot(lead, 'lead-markers');
  await fullShot(lead, 'lead-markers-full');
  await page.locator('#stats-question button[data-question="S3"]').click();
  await page.locator('#stats-question button[data-question="S3"][aria-pressed="true"]').waitFor();

  // The room closes at once.
  await tab(lead, 'room');
  await page.locator('#room-state.open').waitFor();
  await page.locator('#room-toggle').click();
  await confirm(page);
  await page.locator('#room-state.closed').waitFor();
  await shot(lead, 'lead-room');

  // The second chief asks for the lock at their own desk.
  const other = await person(browser, 'zh-CN');
  await open(other, '/lead');
  await signIn(other, fixture.other);
  await tab(other, 'approvals');
  await other.page.locator('#ask-kind').selectOption('lock');
  await other.page.locator('#ask-reason').fill('阅卷结束，全部答卷已定分');
  await other.page.locator('#ask-reason').press('Enter');
  await other.page.locator('.approval[data-kind="lock"] .mine').waitFor();

  // The first approves it.
  await tab(lead, 'approvals');
  const lock = page.locator('.approval[data-kind="lock"]');
  await lock.waitFor();
  check(!(await lock.locator('.mine').count()), 'not the first chief\'s own request');
  await shot(lead, 'lead-approvals');
  await lock.locator('button[data-approve]').click();
  await confirm(page);
  await lock.waitFor({ state: 'detached' });
  await notice(page, 'ok');
  await page.waitForFunction((s) => document.querySelector('#results-state').textContent.includes(s), zh['lead.results.locked']);

  // The release: asked by the first, who cannot approve it alone.
  await page.locator('#ask-kind').selectOption('release');
  await page.locator('#ask-reason').focus();
  await page.keyboard.press('Enter');
  const release = page.locator('.approval[data-kind="release"]');
  await release.locator('.mine').waitFor();
  await release.locator('button[data-approve]').click();
  await confirm(page);
  check((await notice(page, 'error')) === zh['problem.approval_self'], 'one\'s own request is refused');
  check(await release.isVisible(), 'and stays pending');

  await other.page.locator('#refresh').click();
  const theirs = other.page.locator('.approval[data-kind="release"]');
  await theirs.waitFor();
  await theirs.locator('button[data-approve]').click();
  await confirm(other.page);
  await theirs.waitFor({ state: 'detached' });
  await notice(other.page, 'ok');

  // The printed report: the dispute as settled, who asked and who approved.
  await open(lead, `/report?exam=${fixture.exam}`);
  await page.locator('#report-disputes').waitFor();
  const disputes = await page.locator('#report-disputes').textContent();
  check(disputes.includes(d.code) && disputes.includes(d.reason), `the dispute in the report: ${disputes}`);
  const acts = await page.locator('#report-acts').textContent();
  for (const a of [fixture.leader, fixture.other]) check(acts.includes(a.username), `${a.username} in the report: ${acts}`);
  check((await page.locator('#report svg.plot').count()) >= 6, 'distributions and severity plots');
  await shot(lead, 'report');
  await fullShot(lead, 'report-full');

  // The desk in English, from the switch on the page.
  await open(lead, '/lead');
  await page.locator('#panel[data-loaded]').waitFor();
  await page.locator('#lang').selectOption('en');
  await page.waitForFunction((s) => document.querySelector('h1').textContent === s, en['lead.title']);
  await tab(lead, 'markers');
  await page.locator('#marker-table').waitFor();
  await shot(lead, 'lead-markers-en');

  await checkClean(lead, 'first chief');
  await checkClean(other, 'second chief');
  console.log(JSON.stringify({ arbitrated: d.code }));
});
