// The demo page's script: signs in as the page's demo user (dev login), then fills every
// `[data-fragment]` container from the stream, falling back to polling.
import './dashboard.css';
import { followFragments } from '../lib/fragment-feed';
import { renderFragment } from '../lib/fragment-views';

interface PageConfig {
  readonly page: string;
  readonly userId: number;
  readonly devLogin: boolean;
}

function config(): PageConfig {
  const { page, userId, devLogin } = document.body.dataset;
  return { page: page ?? 'dashboard', userId: Number(userId ?? '1'), devLogin: devLogin === 'true' };
}

async function devLogin(userId: number): Promise<string> {
  const response = await fetch('/api/auth/dev-login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!response.ok) throw new Error(`dev login failed: HTTP ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

function showNotice(text: string): void {
  const notice = document.getElementById('notice');
  if (!notice) return;
  notice.textContent = text;
  notice.hidden = false;
}

async function main(): Promise<void> {
  const { page, userId, devLogin: devLoginEnabled } = config();
  const containers = new Map<string, HTMLElement>();
  for (const node of document.querySelectorAll<HTMLElement>('[data-fragment]'))
    containers.set(node.dataset['fragment'] ?? '', node);
  if (!devLoginEnabled) {
    showNotice('Dev login is disabled on this server: the demo page needs it to sign in.');
    return;
  }
  const token = await devLogin(userId);
  const mode = document.getElementById('mode');
  followFragments({
    page,
    fragments: [...containers.keys()],
    token,
    renewToken: () => devLogin(userId),
    onView: (name, view) => {
      const container = containers.get(name);
      if (container) renderFragment(container, name, view);
    },
    onMode: (current) => {
      if (mode) {
        mode.textContent = current === 'stream' ? 'live (server-sent events)' : 'polling';
        mode.dataset['mode'] = current;
      }
    },
  });
}

main().catch((error: unknown) => showNotice(error instanceof Error ? error.message : String(error)));
