import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { registerListenerGauge } from './fragment-metrics';

export interface FragmentEvent {
  /** `invalidated`: a write made the copy stale; a rebuild may follow. */
  readonly status: 'ready' | 'failed' | 'invalidated';
  readonly generation: number;
  readonly key: string;
}

export type FragmentEventListener = (event: FragmentEvent) => void;

const eventSchema = z.object({
  status: z.enum(['ready', 'failed', 'invalidated']),
  generation: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/)
    .transform(Number),
  key: z.string().min(1).max(4096),
});

/** Validates an event's payload as the workers' scripts publish it; anything else is ignored. */
export function parseFragmentEvent(data: unknown): FragmentEvent | null {
  const parsed = eventSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}

/**
 * Readiness events of the whole system, fanned out in memory to whoever waits for a key (waitMs,
 * SSE streams). Events arrive once per gateway process over the Nest Redis transport (one
 * subscription, see `FragmentEventsController`); nothing per request touches Redis. Listeners are
 * plain callbacks and must be removed by the caller.
 */
@Injectable()
export class FragmentEvents {
  private readonly logger = new Logger(FragmentEvents.name);
  private readonly listeners = new Map<string, Set<FragmentEventListener>>();

  constructor() {
    registerListenerGauge(() => this.listenerCount());
  }

  /** Calls `listener` for every event of `key` until the returned function is called. */
  on(key: string, listener: FragmentEventListener): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
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

  dispatch(event: FragmentEvent): void {
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
