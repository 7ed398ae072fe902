import autocannon from 'autocannon';
import { Client } from 'pg';
import type { BenchContext } from '../context';
import { scrape } from '../prometheus';
import { num, type ScenarioResult, table } from '../report';
import { JWT_SECRET, BenchStack, type RunningApp } from '../stack';
import { maxOf, percentile } from '../stats';
import { signViewerToken } from '../tokens';

/** The bounds: the served profile at most this old during the storm, and ready this soon after. */
const MAX_AGE_MS = 2_000;
const SETTLE_WITHIN_MS = 2_000;
/** Users who follow and unfollow the target; the target of each variant comes after them. */
const FOLLOWERS = 400;
const WATCHER = FOLLOWERS + 1;
/** How often the reader asks for the profile during the storm (each answer is one sample). */
const READ_GAP_MS = 50;

type Variant = 'real' | 'slow';
const SLOW_BUILD_MS = 200;

interface StormSample {
  readonly variant: Variant;
  readonly target: number;
  readonly writes: number;
  readonly seconds: number;
  readonly writesPerSecond: number;
  readonly writeP50Ms: number;
  readonly writeP99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Every status the reader was served during the storm, with how often. */
  readonly served: Record<string, number>;
  readonly reads: number;
  /** Age (now − builtAt) of every copy served during the storm. */
  readonly ageP50Ms: number;
  readonly oldestMs: number;
  /** From the last write's answer until the profile is `ready` with the follower count in Postgres. */
  readonly settleMs: number;
  readonly followers: number;
  /** Profile builds during the storm by outcome (fragment_builds_total: built, stale, superseded, …). */
  readonly builds: Record<string, number>;
}

/**
 * Scenario 13 (issue 12): a storm of follows and unfollows on one user for `stormSeconds`, as fast
 * as `stormConnections` keep-alive connections get them answered, while a reader keeps asking for
 * that user's profile. The served copy must stay at most 2 s old throughout (ready, or stale while
 * it rebuilds — never pending or failed), and be ready with the true follower count within 2 s of
 * the storm's end. Twice: the real profile worker, and the real builder slowed by 200 ms a build
 * (bench/src/slow-profile-worker), where a build is always overtaken by newer writes while it runs.
 */
export async function storm(ctx: BenchContext): Promise<ScenarioResult> {
  const stack = new BenchStack();
  const samples: StormSample[] = [];
  try {
    ctx.log('  seeding (db-cli seed --scale 0.1)');
    await stack.seed(['--scale', '0.1']);
    const [gateway] = await Promise.all([stack.startApp('gateway'), stack.startApp('invalidation-worker')]);
    // Untimed writes on another user first: the gateway's first storm would otherwise also measure its JIT.
    const tokens = followerTokens();
    await followStorm(gateway.url, tokens, WATCHER + 10, ctx.sizes.stormConnections, ctx.sizes.warmupSeconds);
    const variants: Array<[Variant, () => Promise<RunningApp>]> = [
      ['real', () => stack.startApp('profile-worker')],
      [
        'slow',
        () =>
          stack.startBenchApp('slow-profile-worker', {
            env: { SLOW_BUILD_MS: String(SLOW_BUILD_MS) },
            healthPath: '/health/ready',
          }),
      ],
    ];
    for (const [i, [variant, start]] of variants.entries()) {
      const worker = await start();
      try {
        const sample = await oneStorm(ctx, stack, gateway, worker, variant, WATCHER + 1 + i);
        samples.push(sample);
        ctx.log(
          `  ${variant}: ${num(sample.writesPerSecond)} writes/s, served ${Object.keys(sample.served).join('/')}, oldest ${num(sample.oldestMs)} ms, settled ${num(sample.settleMs)} ms, builds ${JSON.stringify(sample.builds)}`,
        );
      } finally {
        await stack.stop(worker);
      }
    }
  } finally {
    await stack.cleanup();
  }

  const failures = samples.flatMap((s) => {
    const label = s.variant === 'real' ? 'real profile worker' : `builds slowed by ${SLOW_BUILD_MS} ms`;
    const found: string[] = [];
    const unserved = Object.keys(s.served).filter((status) => status !== 'ready' && status !== 'stale');
    if (unserved.length > 0) found.push(`${label}: the profile was served ${unserved.join(', ')} during the storm`);
    if (s.oldestMs > MAX_AGE_MS)
      found.push(`${label}: a served copy was ${num(s.oldestMs)} ms old (bound ${MAX_AGE_MS})`);
    if (s.settleMs > SETTLE_WITHIN_MS)
      found.push(`${label}: ready ${num(s.settleMs)} ms after the storm (bound ${SETTLE_WITHIN_MS})`);
    if (s.errors > 0 || s.non2xx > 0) found.push(`${label}: ${s.non2xx} non-2xx writes, ${s.errors} errors`);
    return found;
  });
  const { stormSeconds, stormConnections } = ctx.sizes;
  const markdown = [
    `${stormSeconds} s of follows and unfollows of one user by ${FOLLOWERS} followers (each write a random follower, follow or unfollow at even odds), sent as fast as they are answered over ${stormConnections} keep-alive connections (autocannon), while one reader asks for that user's profile (\`GET /api/fragments/profile?userId=…\`) every ${READ_GAP_MS} ms. Age: now minus the served copy's \`builtAt\` (the storm starts on a freshly built copy). Settled: from the last write's answer to the profile being \`ready\` with the follower count Postgres holds. Gateway, invalidation worker and profile worker as processes on their own database (\`db-cli seed --scale 0.1\`); twice: the real profile worker, and the real ProfileBuilder behind a ${SLOW_BUILD_MS} ms wait per build (bench/src/slow-profile-worker).`,
    '',
    table(
      [
        'profile builder',
        'writes/s',
        'write p50 / p99',
        'non-2xx / errors',
        'served during the storm',
        'copy age p50 / oldest',
        'settled after',
        'profile builds by outcome',
      ],
      samples.map((s) => [
        s.variant === 'real' ? 'real' : `slowed by ${SLOW_BUILD_MS} ms`,
        `**${num(s.writesPerSecond)}** (${num(s.writes)} in ${num(s.seconds, 1)} s)`,
        `${num(s.writeP50Ms, 1)} / ${num(s.writeP99Ms, 1)} ms`,
        `${num(s.non2xx)} / ${num(s.errors)}`,
        Object.entries(s.served)
          .map(([status, n]) => `${status} ${num(n)}`)
          .join(', '),
        `${num(s.ageP50Ms)} / **${num(s.oldestMs)} ms**`,
        `**${num(s.settleMs)} ms** (${num(s.followers)} followers)`,
        Object.entries(s.builds)
          .map(([outcome, n]) => `${outcome} ${num(n)}`)
          .join(', '),
      ]),
    ),
    '',
    failures.length === 0
      ? `**Both within the bounds:** every served copy at most ${MAX_AGE_MS / 1000} s old, ready ${SETTLE_WITHIN_MS / 1000} s after the storm.`
      : `**FAILED:** ${failures.join('; ')}.`,
  ].join('\n');
  const of = (v: Variant) => samples.find((s) => s.variant === v);
  return {
    id: 'storm',
    title: '13. A storm of follows on one user',
    headline: {
      realWritesPerSecond: of('real')?.writesPerSecond ?? Number.NaN,
      realOldestMs: of('real')?.oldestMs ?? Number.NaN,
      realSettleMs: of('real')?.settleMs ?? Number.NaN,
      slowWritesPerSecond: of('slow')?.writesPerSecond ?? Number.NaN,
      slowOldestMs: of('slow')?.oldestMs ?? Number.NaN,
      slowSettleMs: of('slow')?.settleMs ?? Number.NaN,
    },
    markdown,
    figures: samples,
    failures,
    runs: 1,
  };
}

async function oneStorm(
  ctx: BenchContext,
  stack: BenchStack,
  gateway: RunningApp,
  worker: RunningApp,
  variant: Variant,
  target: number,
): Promise<StormSample> {
  const { stormSeconds, stormConnections } = ctx.sizes;
  const tokens = followerTokens();
  const watcher = signViewerToken(JWT_SECRET, WATCHER);
  const read = async () => {
    const response = await fetch(`${gateway.url}/api/fragments/profile?userId=${target}&waitMs=2000`, {
      headers: { authorization: `Bearer ${watcher}` },
    });
    return (await response.json()) as { status: string; builtAt?: string; data?: { counts: { followers: number } } };
  };
  const db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    const followersInDb = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM follows WHERE followee_id = $1', [target])).rows[0]
        .n;
    const settled = async (timeoutMs: number): Promise<number> => {
      const started = performance.now();
      for (;;) {
        // Postgres asked each time: a write answered as the storm ended may commit a moment later.
        const [n, copy] = await Promise.all([followersInDb(), read()]);
        if (copy.status === 'ready' && copy.data?.counts.followers === n) return performance.now() - started;
        if (performance.now() - started > timeoutMs) return Number.POSITIVE_INFINITY;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Start on a fresh copy: one follow, then wait until the profile shows it.
    await writeOnce(gateway.url, tokens[0], target);
    if (!Number.isFinite(await settled(30_000))) throw new Error(`profile ${target} never became ready`);
    const buildsBefore = await buildCounts(worker);

    const served: Record<string, number> = {};
    const ages: number[] = [];
    let storming = true;
    const reader = (async () => {
      while (storming) {
        const copy = await read();
        served[copy.status] = (served[copy.status] ?? 0) + 1;
        if (copy.builtAt) ages.push(Date.now() - Date.parse(copy.builtAt));
        await new Promise((r) => setTimeout(r, READ_GAP_MS));
      }
    })();
    const { result, ok, latencies } = await followStorm(gateway.url, tokens, target, stormConnections, stormSeconds);
    storming = false;
    // The storm is over once its last write is answered: from here the profile must settle.
    const settleMs = await settled(30_000);
    await reader;
    const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
    return {
      variant,
      target,
      writes: ok,
      seconds,
      writesPerSecond: ok / seconds,
      writeP50Ms: percentile(latencies, 50),
      writeP99Ms: percentile(latencies, 99),
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      served,
      reads: ages.length,
      ageP50Ms: percentile(ages, 50),
      oldestMs: maxOf(ages),
      settleMs,
      followers: await followersInDb(),
      builds: minus(await buildCounts(worker), buildsBefore),
    };
  } finally {
    await db.end();
  }
}

/**
 * Follows and unfollows of `target` by random followers, as fast as `connections` keep-alive
 * connections get them answered, for `seconds`.
 */
async function followStorm(
  gatewayUrl: string,
  tokens: readonly string[],
  target: number,
  connections: number,
  seconds: number,
): Promise<{ result: autocannon.Result; ok: number; latencies: number[] }> {
  const latencies: number[] = [];
  let ok = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: gatewayUrl,
        connections,
        duration: seconds,
        timeout: 30,
        requests: [
          {
            setupRequest: (req): autocannon.RequestParams => {
              const token = tokens[Math.floor(Math.random() * tokens.length)];
              return Math.random() < 0.5
                ? {
                    ...req,
                    method: 'POST',
                    path: '/api/follows',
                    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
                    body: JSON.stringify({ userId: target }),
                  }
                : {
                    ...req,
                    method: 'DELETE',
                    path: `/api/follows/${target}`,
                    headers: { authorization: `Bearer ${token}` },
                    body: undefined,
                  };
            },
          },
        ],
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      latencies.push(ms);
      if (status >= 200 && status < 300) ok++;
    });
  });
  return { result, ok, latencies };
}

function followerTokens(): string[] {
  return Array.from({ length: FOLLOWERS }, (_, i) => signViewerToken(JWT_SECRET, i + 1));
}

async function writeOnce(gatewayUrl: string, token: string, target: number): Promise<void> {
  const response = await fetch(`${gatewayUrl}/api/follows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId: target }),
  });
  if (response.status !== 200 && response.status !== 201) throw new Error(`follow: ${response.status}`);
}

async function buildCounts(worker: RunningApp): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const s of await scrape(worker.url)) {
    if (s.name === 'fragment_builds_total') counts[s.labels['outcome']] = (counts[s.labels['outcome']] ?? 0) + s.value;
  }
  return counts;
}

function minus(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
}
