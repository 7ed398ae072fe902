import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser';
import { Stack } from './support/stack';

const FRAGMENTS = ['profile', 'feed', 'recommendations'];

describe('the demo page in real Chromium', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    // Both at once, but whichever started is kept for afterAll even if the other failed: a stack
    // left running would keep Jest from exiting.
    const [started, launched] = await Promise.allSettled([Stack.start({ users: 600 }), launchChromium()]);
    if (started.status === 'fulfilled') stack = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    for (const result of [started, launched]) if (result.status === 'rejected') throw result.reason;
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function open(path: string, prepare?: (page: Page) => Promise<void>): Promise<Page> {
    const page = await browser.newPage();
    await prepare?.(page);
    await page.goto(`${stack.url()}${path}`);
    return page;
  }

  const statuses = (page: Page) =>
    page.$$eval('[data-fragment]', (nodes) =>
      Object.fromEntries(nodes.map((n) => [n.getAttribute('data-fragment'), n.getAttribute('data-status')])),
    );

  async function waitForStatuses(page: Page, status: string): Promise<void> {
    await page.waitForFunction(
      ([names, wanted]) =>
        (names as string[]).every(
          (n) => document.querySelector(`[data-fragment="${n}"]`)?.getAttribute('data-status') === wanted,
        ),
      [FRAGMENTS, status] as const,
      { timeout: 20_000 },
    );
  }

  it('renders the shell at once and fills a cold user’s three fragments from the stream', async () => {
    const page = await open('/?userId=41');
    // The shell is server-rendered: every container is there before any fragment is.
    expect(Object.keys(await statuses(page)).sort()).toEqual([...FRAGMENTS].sort());
    await waitForStatuses(page, 'ready');
    expect(await page.textContent('#mode')).toContain('live');
    expect(await page.textContent('[data-fragment="profile"] .handle')).toMatch(/^@/);
    expect(await page.$$eval('[data-fragment="feed"] li', (items) => items.length)).toBeGreaterThan(0);
    expect(await page.$$eval('[data-fragment="recommendations"] li', (items) => items.length)).toBeGreaterThan(0);
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    console.log(`shell first contentful paint: ${Math.round(paint)} ms`);
    await page.close();
  });

  it('completes the page by polling when the stream is blocked', async () => {
    let blocked = 0;
    const page = await open('/?userId=42', async (p) => {
      await p.route('**/api/pages/*/stream**', (route) => {
        blocked += 1;
        return route.abort();
      });
    });
    await waitForStatuses(page, 'ready');
    expect(blocked).toBeGreaterThanOrEqual(1);
    expect(await page.getAttribute('#mode', 'data-mode')).toBe('polling');
    await page.close();
  });

  it('shows a failed fragment’s error instead of hiding it', async () => {
    const page = await open('/?userId=999999');
    await waitForStatuses(page, 'failed');
    expect(await page.textContent('[data-fragment="profile"] .error')).toContain('user 999999 not found');
    await page.close();
  });

  it('switches the viewer with the user switcher', async () => {
    const page = await open('/?userId=43');
    await waitForStatuses(page, 'ready');
    await page.fill('#user-id', '44');
    await Promise.all([page.waitForURL(/userId=44/), page.click('header button')]);
    await waitForStatuses(page, 'ready');
    expect(await page.textContent('[data-fragment="profile"] .handle')).toContain('44');
    await page.close();
  });
});
