#!/usr/bin/env node
// Screenshot of the demo dashboard, filled, for docs/: `node tools/screenshot.mjs` with the system
// running (npm start). Drives Debian's Chromium through playwright-core, like the browser tests.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000/?userId=55' },
    out: { type: 'string', default: 'docs/dashboard.png' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  },
});

const browser = await chromium.launch({
  executablePath: values.chromium,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(values.url);
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-fragment]')].every((n) => n.getAttribute('data-status') === 'ready'),
    null,
    {
      timeout: 30_000,
    },
  );
  await page.screenshot({ path: values.out });
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
}
