// A custodian whose account an admin just made signs in with the one-time password: the page asks
// for their own password first (a mismatch and a weak one are refused in the page's language),
// then waits for a chief leader's activation and opens after it; the old password no longer works.

import { api, check, checkClean, fixture, open, person, run, shot, step } from './lib.mjs';

const messages = (name, lang) => import(`../../web/i18n/${name}.${lang}.json`, { with: { type: 'json' } }).then((m) => m.default);

await run(async (browser) => {
  const common = await messages('common', 'zh-CN');
  const problems = await messages('problems', 'zh-CN');
  const p = await person(browser, 'zh-CN');
  const page = p.page;
  await open(p, '/custody');
  await page.locator('#login-username').fill(fixture.account.username);
  await page.locator('#login-password').fill(fixture.account.password);
  await page.locator('#login-workstation').fill(fixture.account.workstation_key);
  await page.locator('#signin button[type=submit]').click();

  await page.locator('#password-change').waitFor();
  check(await page.locator('#app').isHidden(), 'nothing opens before the change');
  check((await page.locator('#login-old').inputValue()) === fixture.account.password, 'the one-time password is carried over');
  await shot(p, 'password-change-zh');
  await page.locator('#login-new').fill('a brand new password');
  await page.locator('#login-again').fill('another new password');
  await page.locator('#password-change button[type=submit]').click();
  await page.waitForFunction((m) => document.querySelector('#password-change .form-error').textContent === m, common['password.mismatch']);

  await page.locator('#login-new').fill(fixture.account.password);
  await page.locator('#login-again').fill(fixture.account.password);
  await page.locator('#password-change button[type=submit]').click();
  await page.waitForFunction(
    (ms) => ms.includes(document.querySelector('#password-change .form-error').textContent),
    [problems['problem.password_unchanged'], problems['problem.weak_password'], problems['problem.invalid_field']],
  );

  await page.locator('#login-new').fill(fixture.new_password);
  await page.locator('#login-again').fill(fixture.new_password);
  await page.locator('#password-change button[type=submit]').click();
  // A custodian's account acts once two chief leaders have activated it: the page says so.
  await page.waitForFunction((m) => document.querySelector('#signin .form-error').textContent === m, common['password.awaiting_activation']);
  check(await page.locator('#app').isHidden(), 'nothing opens before activation');
  await shot(p, 'password-awaiting-activation-zh');
  await step('activate');
  await page.locator('#login-password').fill(fixture.new_password);
  await page.locator('#signin button[type=submit]').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await checkClean(p, 'custodian');

  const old = await api('POST', '/auth/login', {
    body: { username: fixture.account.username, password: fixture.account.password, workstation_key: fixture.account.workstation_key },
  });
  check(old.status === 401, `the one-time password is spent: ${old.status}`);
});
