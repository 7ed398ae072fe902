import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { fragmentEventsChannel } from './fragment-key';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_OPTIONS, FRAGMENT_REDIS } from './fragment.tokens';

export interface FragmentEvent {
  readonly status: 'ready' | 'failed';
  readonly generation: number;
  readonly key: string;
}

export type FragmentEventListener = (event: FragmentEvent) => void;

/** Parses `<status> <generation> <key>`; the key comes last because it may contain spaces. */
export function parseFragmentEvent(message: string): FragmentEvent | null {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  if (first < 0 || second < 0) return null;
  const status = message.slice(0, first);
  const generation = Number(message.slice(first + 1, second));
  if ((status !== 'ready' && status !== 'failed') || !Number.isSafeInteger(generation)) return null;
  return { status, generation, key: message.slice(second + 1) };
}

/**
 * Readiness events of the whole system, received once per gateway process over one Redis
 * subscription and fanned out in memory to whoever waits for a key (waitMs, SSE streams): nothing
 * per request touches Redis. Listeners are plain callbacks and must be removed by the caller.
 */
@Injectable()
export class FragmentEvents implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(FragmentEvents.name);
  private readonly listeners = new Map<string, Set<FragmentEventListener>>();
  private readonly channel: string;
  private subscriber?: Redis;

  constructor(
    @Inject(FRAGMENT_REDIS) private readonly redis: Redis,
    @Inject(FRAGMENT_OPTIONS) options: FragmentModuleOptions,
  ) {
    this.channel = fragmentEventsChannel(options.keyPrefix);
  }

  async onModuleInit(): Promise<void> {
    // A subscriber may queue commands while reconnecting: ioredis re-subscribes by itself.
    const subscriber = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false });
    subscriber.on('error', (error: Error) => this.logger.warn(`events subscriber: ${error.message}`));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const event = parseFragmentEvent(message);
      if (event) this.emit(event);
    });
    await subscriber.subscribe(this.channel);
    this.subscriber = subscriber;
  }

  async onApplicationShutdown(): Promise<void> {
    this.listeners.clear();
    await this.subscriber?.quit().catch(() => undefined);
  }

  /** Calls `listener` for every event of `key` until the returned function is called. */
  on(key: string, listener: FragmentEventListener): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(key);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(key);
    };
  }

  /** Live listener count: a leak shows here first. */
  listenerCount(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }

  private emit(event: FragmentEvent): void {
    const set = this.listeners.get(event.key);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error(`listener for ${event.key} threw: ${(error as Error).message}`);
      }
    }
  }
}
