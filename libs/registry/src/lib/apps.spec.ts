import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_LIST, APP_NAMES, FRAGMENT_WORKERS, WORKER_NAMES, WORKER_QUEUE_NAMES } from './apps';
import { FRAGMENT_NAMES, FRAGMENTS } from './fragments';

describe('APPS', () => {
  it('is what apps.json, the launcher’s copy (tools/lib/config.mjs), says, entry for entry', () => {
    const json: unknown = JSON.parse(readFileSync(join(__dirname, '..', 'apps.json'), 'utf8'));
    expect(json).toEqual(APP_LIST);
  });

  it('gives each app a port of its own', () => {
    expect(new Set(APP_LIST.map((a) => a.port)).size).toBe(APP_LIST.length);
    expect(APP_NAMES[0]).toBe('gateway');
  });

  it('builds each registered fragment in one worker, from the fragment’s queue', () => {
    for (const name of FRAGMENT_NAMES) {
      const worker = APP_LIST.find((a) => a.name === FRAGMENT_WORKERS[name]);
      expect(worker).toMatchObject({ kind: 'fragment-worker', fragment: name, queue: FRAGMENTS[name].queue });
    }
  });

  it('lists the workers and the queues they consume', () => {
    expect(WORKER_NAMES).toEqual(['profile-worker', 'feed-worker', 'recommendations-worker', 'invalidation-worker']);
    expect(WORKER_QUEUE_NAMES).toEqual(['profile', 'feed', 'recommendations', 'invalidations']);
  });
});
