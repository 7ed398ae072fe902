import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_OPTIONS, FRAGMENT_REDIS } from './fragment.tokens';

/** The hash where workers publish each fragment's recent build time, for the gateway's hints. */
export function buildStatsKey(keyPrefix: string): string {
  return `${keyPrefix}fragment-build-ms`;
}

const ALPHA = 0.2;
const PUBLISH_EVERY_MS = 1000;

/**
 * A worker's moving average of its build time per fragment, written to Redis at most once a second
 * (last writer wins across replicas: it is a hint, not an accounting).
 */
@Injectable()
export class FragmentBuildStats {
  private readonly averages = new Map<string, number>();
  private readonly publishedAt = new Map<string, number>();
  private readonly key: string;

  constructor(
    @Inject(FRAGMENT_REDIS) private readonly redis: Redis,
    @Inject(FRAGMENT_OPTIONS) options: FragmentModuleOptions,
  ) {
    this.key = buildStatsKey(options.keyPrefix);
  }

  record(fragment: string, ms: number): void {
    const previous = this.averages.get(fragment);
    const average = previous === undefined ? ms : previous + ALPHA * (ms - previous);
    this.averages.set(fragment, average);
    const now = Date.now();
    if (now - (this.publishedAt.get(fragment) ?? 0) < PUBLISH_EVERY_MS) return;
    this.publishedAt.set(fragment, now);
    this.redis.hset(this.key, fragment, Math.round(average)).catch(() => undefined);
  }
}
