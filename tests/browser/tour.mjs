// Every page, signed in as the person it is for, in Chinese and in English, with the network
// restricted to markroom's origin: any request elsewhere, any script error, any message key
// missing from a catalogue fails the run. Each tab of each page is photographed in Chinese.

import { check, checkClean, fixture, open, person, run, shot, signIn } from './lib.mjs';

const visits = [
  { page: '/mark', who: fixture.marker, name: 'mark' },
  { page: '/lead', who: fixture.chief, name: 'lead' },
  { page: '/custody', who: fixture.custodian, name: 'custody' },
  { page: `/report?exam=${fixture.exam}`, who: fixture.chief, name: 'report' },
];

await run(async (browser) => {
  // The guard itself: a page that asks another origin for anything is caught (the policy blocks
  // it and the browser reports it, or the request reaches the route and is refused).
  const probe = await person(browser, 'zh-CN');
  await open(probe, '/mark');
  await probe.page.evaluate(() => {
    fetch('http://203.0.113.9/leak').catch(() => {});
    const img = new Image();
    img.src = 'https://fonts.example.com/font.png';
    document.body.append(img);
  });
  await probe.page.waitForTimeout(1000);
  const noticed = [...probe.foreign, ...probe.errors].join('\n');
  check(/203\.0\.113\.9/.test(noticed) && /fonts\.example\.com/.test(noticed), `both foreign requests noticed: ${noticed}`);
  let caught = false;
  try {
    await checkClean(probe, 'probe');
  } catch {
    caught = true;
  }
  check(caught, 'a request to another origin fails the check');
  await probe.context.close();

  for (const lang of ['zh-CN', 'en']) {
    for (const v of visits) {
      const p = await person(browser, lang);
      await open(p, v.page);
      check((await p.page.evaluate(() => document.documentElement.lang)) === lang, `${v.name}: ${lang} chosen from Accept-Language`);
      await signIn(p, v.who);
      await p.page.waitForLoadState('networkidle');
      const tabs = p.page.locator('.tabs button');
      const n = await tabs.count();
      if (lang === 'zh-CN') {
        await shot(p, `tour-${v.name}-zh`);
        for (let i = 0; i < n; i += 1) {
          await tabs.nth(i).click();
          await p.page.waitForLoadState('networkidle');
          await shot(p, `tour-${v.name}-${i}-zh`);
        }
      } else {
        for (let i = 0; i < n; i += 1) {
          await tabs.nth(i).click();
          await p.page.waitForLoadState('networkidle');
        }
        await shot(p, `tour-${v.name}-en`);
      }
      await checkClean(p, `${v.name} (${lang})`);
      await p.context.close();
    }
  }
});
