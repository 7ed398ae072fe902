import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { buildStatsKey } from './fragment-build-stats';
import type { FragmentDefinition } from './fragment-definition';
import { FragmentEnqueuer } from './fragment-enqueuer';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_CATALOG, FRAGMENT_OPTIONS, FRAGMENT_REDIS } from './fragment.tokens';

const REFRESH_MS = 2000;
const MIN_MS = 100;
const MAX_MS = 30_000;
const DEFAULT_BUILD_MS = 250;

interface QueueLoad {
  waiting: number;
  active: number;
}

/**
 * When is asking again about a pending fragment worth it? From the fragment's recent build time
 * (published by its workers) and its queue's backlog: with `waiting` jobs ahead and `active` of
 * them building at once, a new job is done after about (waiting / active + 1) build times.
 * Refreshed every 2 s in the background, so answering costs nothing on the request path.
 */
@Injectable()
export class FragmentRetryAdvisor implements OnModuleInit, OnApplicationShutdown {
  private readonly buildMs = new Map<string, number>();
  private readonly load = new Map<string, QueueLoad>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(FRAGMENT_REDIS) private readonly redis: Redis,
    @Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions,
    @Inject(FRAGMENT_CATALOG) private readonly catalog: readonly FragmentDefinition[],
    private readonly enqueuer: FragmentEnqueuer,
  ) {}

  onModuleInit(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Milliseconds until a pending build of `definition` is likely done. */
  retryAfterMs(definition: FragmentDefinition): number {
    const build = this.buildMs.get(definition.name) ?? DEFAULT_BUILD_MS;
    const load = this.load.get(definition.queue) ?? { waiting: 0, active: 0 };
    const rounds = load.waiting / Math.max(load.active, 1) + 1;
    return Math.round(Math.min(MAX_MS, Math.max(MIN_MS, rounds * build)));
  }

  /** Test seam and manual refresh; errors leave the previous figures in place. */
  async refresh(): Promise<void> {
    try {
      const stats = await this.redis.hgetall(buildStatsKey(this.options.keyPrefix));
      for (const [name, ms] of Object.entries(stats)) {
        const value = Number(ms);
        if (Number.isFinite(value) && value >= 0) this.buildMs.set(name, value);
      }
      const queues = [...new Set(this.catalog.map((d) => d.queue))];
      await Promise.all(
        queues.map(async (name) => {
          const counts = (await this.enqueuer.queueByName(name).getJobCounts()) as unknown as Record<string, number>;
          this.load.set(name, {
            waiting: (counts['waiting'] ?? 0) + (counts['delayed'] ?? 0),
            active: counts['active'] ?? 0,
          });
        }),
      );
    } catch {
      // Redis is down: requests fail with 503 anyway, and the next refresh catches up.
    }
  }
}
