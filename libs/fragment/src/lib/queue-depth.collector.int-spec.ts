import Bull from 'bull';
import { Redis } from 'ioredis';
import { register } from 'prom-client';
import { QueueDepthCollector } from './queue-depth.collector';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';

/** The queue metrics a scrape reads, against a real Redis (its own key prefix). */

const prefix = uniqueTestPrefix('depth');
const redis = new Redis(TEST_REDIS_URL);
let queue: Bull.Queue;
let collector: QueueDepthCollector;

async function scraped(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = register.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

beforeAll(() => {
  queue = new Bull('depth-test', TEST_REDIS_URL, { prefix });
  collector = new QueueDepthCollector();
  collector.track(queue);
});

afterAll(async () => {
  collector.onModuleDestroy();
  await queue.close();
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
});

it('reports 0 for the oldest waiting job while none waits', async () => {
  expect(await scraped('bull_queue_oldest_waiting_seconds', { queue: 'depth-test' })).toBe(0);
});

it('reports the age of the oldest waiting job, not the newest', async () => {
  const now = Date.now();
  // Bull reads opts.timestamp as the creation time; its typings leave it out.
  const createdAt = (timestamp: number) => ({ timestamp }) as Bull.JobOptions;
  await queue.add({ n: 1 }, createdAt(now - 300_000));
  await queue.add({ n: 2 }, createdAt(now - 60_000));
  await queue.add({ n: 3 });
  const age = await scraped('bull_queue_oldest_waiting_seconds', { queue: 'depth-test' });
  // Created 300 s before `now`; the scrape runs after it, so at least that old.
  expect(age).toBeGreaterThanOrEqual(300);
  expect(age).toBeLessThan(360);
  expect(await scraped('bull_queue_jobs', { queue: 'depth-test', state: 'waiting' })).toBe(3);
});
