import { SseStream } from './support/sse';
import { Stack } from './support/stack';

type FeedEvent = { name: string; status: string; data?: { posts: Array<{ id: string }> } };

const USERS = 600;
const FANS = 12_000; // above FANOUT_CELEBRITY_FOLLOWERS' default, 10,000

describe('a post by an account too big to push to (hybrid fan-out; apps as processes)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      users: USERS,
      seedArgs: ['--celebrities', '1', '--celebrity-followers', String(FANS)],
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const feedInvalidations = async () => {
    let total = 0;
    for (const outcome of ['absent', 'stale', 'rebuild'])
      total += await stack.metric('invalidation-worker', 'fragment_invalidations_total', { fragment: 'feed', outcome });
    return total;
  };

  it("touches no follower's feed, yet reaches a follower's open dashboard", async () => {
    const fan = USERS + FANS; // the last fan: a push would reach them last
    const stream = await SseStream.open(`${stack.url()}/api/pages/dashboard/stream`, {
      authorization: `Bearer ${await stack.login(fan)}`,
    });
    try {
      expect(stream.status).toBe(200);
      const feeds = () => stream.data<FeedEvent>('fragment').filter((e) => e.name === 'feed' && e.status === 'ready');
      await stream.waitFor(() => feeds().length > 0);
      const before = {
        feeds: await feedInvalidations(),
        pulled: await stack.metric('invalidation-worker', 'write_fanout_posts_total', { mode: 'pull' }),
      };

      const celebrity = await stack.login(1);
      const response = await fetch(`${stack.url()}/api/posts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${celebrity}`, 'content-type': 'application/json' },
        body: JSON.stringify({ body: 'to 12,000 followers, pulled' }),
      });
      expect(response.status).toBe(201);
      const post = (await response.json()) as { id: string };

      await stream.waitFor(() => feeds().some((e) => e.data?.posts[0]?.id === post.id));
      const pulled = await stack.metric('invalidation-worker', 'write_fanout_posts_total', { mode: 'pull' });
      expect({ pulled: pulled - before.pulled, feeds: (await feedInvalidations()) - before.feeds }).toEqual({
        pulled: 1,
        feeds: 0,
      });
    } finally {
      stream.close();
    }
  });
});
