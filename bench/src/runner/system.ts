import {
  bullQueuePrefix,
  createFragmentTarget,
  type FragmentDefinition,
  type RedisClient,
} from '@worker-pattern/fragment';
import { dashboardPage } from '@worker-pattern/pages';
import { type BenchContext, ViewerPool } from './context';
import { mapPool } from './load';
import type { Pids } from './cpu-time';
import { FRAGMENT_WORKERS, JWT_SECRET, type RunningApp, type StackApp, STACK_APPS } from './stack';
import { signViewerToken } from './tokens';

/** The dashboard's fragments, in the page's order: the gateway's own page definition. */
export const DASHBOARD_FRAGMENTS: readonly FragmentDefinition[] = dashboardPage.fragments;
export const DASHBOARD_NAMES = DASHBOARD_FRAGMENTS.map((f) => f.name);
const QUEUES = [...new Set(DASHBOARD_FRAGMENTS.map((f) => f.queue))];

interface DashboardPage {
  readonly fragments: Record<string, { status: string }>;
}

/**
 * The whole system as `npm start` runs it (gateway, three fragment workers, invalidation worker)
 * on the stack's own database, started once for the scenarios that need it.
 */
export class BenchSystem {
  readonly viewers: ViewerPool;
  private readonly tokens = new Map<number, string>();

  private constructor(
    private readonly ctx: BenchContext,
    readonly apps: Readonly<Record<StackApp, RunningApp>>,
  ) {
    this.viewers = new ViewerPool(ctx.sizes.users);
  }

  static async start(ctx: BenchContext): Promise<BenchSystem> {
    ctx.log(`seeding ${ctx.stack.databaseName} (db-cli seed ${ctx.sizes.seedArgs.join(' ')})`);
    await ctx.stack.seed(ctx.sizes.seedArgs);
    const unknown = Object.keys(ctx.appEnv).filter((app) => !(STACK_APPS as readonly string[]).includes(app));
    if (unknown.length > 0) throw new Error(`--app-env: no app ${unknown.join(', ')} (apps: ${STACK_APPS.join(', ')})`);
    const started = await Promise.all(
      STACK_APPS.map((name) => ctx.stack.startApp(name, { env: { ...ctx.appEnv[name] } })),
    );
    ctx.log(`started ${started.map((a) => `${a.name} :${a.port}`).join(', ')}`);
    return new BenchSystem(ctx, Object.fromEntries(started.map((a) => [a.name, a])) as Record<StackApp, RunningApp>);
  }

  get gateway(): RunningApp {
    return this.apps.gateway;
  }

  /**
   * The processes whose CPU a scenario splits its work over: the gateway, each fragment's worker (by
   * fragment name), the invalidation worker, Redis (when local) and this run's Postgres backends
   * (those alive when asked: a backend that exits between two snapshots takes its CPU with it).
   */
  async cpuPids(): Promise<Pids> {
    const redisPid = await this.ctx.stack.redisPid();
    return {
      gateway: [this.gateway.proc.pid ?? -1],
      redis: redisPid ? [redisPid] : [],
      postgres: await this.ctx.stack.postgresBackendPids(),
      ...Object.fromEntries(FRAGMENT_WORKERS.map((w, i) => [DASHBOARD_NAMES[i], [this.apps[w].proc.pid ?? -1]])),
      invalidation: [this.apps['invalidation-worker'].proc.pid ?? -1],
    };
  }

  private warm?: number[];

  /** The viewers of the warm-page runs (scenarios 1, 2 and 7), the same set throughout. */
  warmViewers(): number[] {
    this.warm ??= this.viewers.take(this.ctx.sizes.warmViewers);
    return this.warm;
  }

  token(viewerId: number): string {
    let token = this.tokens.get(viewerId);
    if (!token) this.tokens.set(viewerId, (token = signViewerToken(JWT_SECRET, viewerId)));
    return token;
  }

  tokensOf(viewers: readonly number[]): string[] {
    return viewers.map((v) => this.token(v));
  }

  /** Every Redis key of the dashboard's fragments for these viewers. */
  dashboardKeys(viewers: readonly number[]): string[] {
    return viewers.flatMap((viewerId) =>
      DASHBOARD_FRAGMENTS.map((f) => createFragmentTarget(f, {}, { viewerId }, this.ctx.stack.keyPrefix).key),
    );
  }

  async page(url: string, viewerId: number, query = ''): Promise<{ status: number; body: string }> {
    const response = await fetch(`${url}/api/pages/dashboard${query}`, {
      headers: { authorization: `Bearer ${this.token(viewerId)}` },
    });
    return { status: response.status, body: await response.text() };
  }

  /**
   * Makes every viewer's dashboard fresh (all three fragments `ready`, with a full ttl ahead): drops
   * their copies, then asks for each page with waitMs until all are built. Warm runs start right
   * after, so no copy turns stale (and triggers a rebuild) during the run. `on`: another gateway and
   * its Redis (same key prefix) instead of the system's.
   */
  async rewarm(
    viewers: readonly number[],
    on: { readonly gatewayUrl: string; readonly redis: RedisClient } = {
      gatewayUrl: this.gateway.url,
      redis: this.ctx.stack.redis,
    },
  ): Promise<void> {
    // One viewer's copies share a hash slot: one UNLINK each, which a Redis Cluster accepts too.
    await mapPool(viewers, 50, (viewer) => on.redis.unlink(...this.dashboardKeys([viewer])));
    let missing = [...viewers];
    for (let attempt = 1; missing.length > 0; attempt++) {
      if (attempt > 20) throw new Error(`${missing.length} dashboards still not ready after 20 passes`);
      const ready = await mapPool(missing, 20, async (viewer) => {
        const { status, body } = await this.page(on.gatewayUrl, viewer, '?waitMs=2000');
        if (status !== 200) throw new Error(`dashboard of ${viewer}: ${status} ${body.slice(0, 200)}`);
        return Object.values((JSON.parse(body) as DashboardPage).fragments).every((f) => f.status === 'ready');
      });
      missing = missing.filter((_, i) => !ready[i]);
    }
  }

  /** Waits until the fragment queues hold nothing waiting, active or delayed (every build done). */
  waitForIdleQueues(timeoutMs = 300_000, redis: RedisClient = this.ctx.stack.redis): Promise<number> {
    return waitForIdleQueues(redis, this.ctx.stack.bullPrefix, timeoutMs);
  }
}

/**
 * Waits until the dashboard's fragment queues under `bullPrefix` hold nothing waiting, active or
 * delayed (every build done); resolves with how long that took.
 */
export async function waitForIdleQueues(redis: RedisClient, bullPrefix: string, timeoutMs = 300_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    // One pipeline per queue: each queue's keys share a hash slot (a Redis Cluster needs that).
    const replies = await Promise.all(
      QUEUES.map(async (q) => {
        const base = `${bullQueuePrefix(bullPrefix, q)}:${q}`;
        return (
          (await redis.pipeline().llen(`${base}:wait`).llen(`${base}:active`).zcard(`${base}:delayed`).exec()) ?? []
        );
      }),
    );
    if (replies.flat().every(([, n]) => n === 0)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`fragment queues not idle after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
