import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { z } from 'zod';
import { registerListenerGauge } from './fragment-metrics';
import { FRAGMENT_EVENT_SUBSCRIBER } from './fragment.tokens';

export interface FragmentEvent {
  /**
   * `ready`/`failed`: a build settled; `invalidated`: a write made the copy stale (a rebuild follows);
   * `resync`: the event transport reconnected and events may have been missed: read the copy again.
   */
  readonly status: 'ready' | 'failed' | 'invalidated' | 'resync';
  readonly generation: number;
  readonly key: string;
  /** A fresh copy's content, when it traveled with its `ready` event (small enough, written fresh). */
  readonly copy?: EventCopy;
}

/** What a `ready` event may carry: the copy as a read would return it. */
export interface EventCopy {
  readonly dataJson: string;
  readonly builtAt: string;
  /** How long it stays fresh, counted from when the event was published. */
  readonly freshMs: number;
}

export type FragmentEventListener = (event: FragmentEvent) => void;

/** A listener's registration: events flow once `ready` resolves (Redis confirmed the subscription). */
export interface FragmentEventSubscription {
  /** Resolves when events of the key can no longer be missed; reads made after it see every later change. */
  readonly ready: Promise<void>;
  readonly off: () => void;
}

/**
 * Where subscriptions go: one sharded pub/sub channel per watched copy (its key). Implemented by the
 * event transport (`FragmentEventsServer`); absent, events are delivered only by `dispatch`.
 */
export interface FragmentEventSubscriber {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Called after the transport reconnected and resubscribed every channel it was asked for. */
  onResubscribed(callback: () => void): void;
}

const eventSchema = z.object({
  status: z.enum(['ready', 'failed', 'invalidated']),
  generation: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/)
    .transform(Number),
  key: z.string().min(1).max(4096),
});

const copySchema = z.object({
  dataJson: z.string(),
  builtAt: z.string().max(64),
  freshMs: z.number().int().positive(),
});

/**
 * Validates an event's payload as the workers' scripts publish it; anything else is ignored. A copy
 * it carries is kept only on a `ready` event and only whole: a malformed one leaves the event bare
 * (its listeners read the copy), never lost.
 */
export function parseFragmentEvent(data: unknown): FragmentEvent | null {
  const parsed = eventSchema.safeParse(data);
  if (!parsed.success) return null;
  const event = parsed.data;
  if (event.status !== 'ready') return event;
  const copy = copySchema.safeParse(data);
  return copy.success ? { ...event, copy: copy.data } : event;
}

interface Watched {
  readonly listeners: Set<FragmentEventListener>;
  readonly subscribed: Promise<void>;
}

/**
 * Readiness events, fanned out in memory to whoever waits for a key (waitMs, SSE streams). A gateway
 * subscribes to the sharded channel of a copy while at least one listener watches it, and to nothing
 * else: its event traffic grows with what it watches, not with every build of the system. Listeners
 * are plain callbacks and must be removed by the caller.
 */
@Injectable()
export class FragmentEvents {
  private readonly logger = new Logger(FragmentEvents.name);
  private readonly watched = new Map<string, Watched>();

  constructor(@Optional() @Inject(FRAGMENT_EVENT_SUBSCRIBER) private readonly subscriber?: FragmentEventSubscriber) {
    registerListenerGauge(() => this.listenerCount());
    subscriber?.onResubscribed(() => this.resync());
  }

  /** Calls `listener` for every event of `key` until `off()` is called. */
  on(key: string, listener: FragmentEventListener): FragmentEventSubscription {
    let entry = this.watched.get(key);
    if (!entry) {
      entry = { listeners: new Set(), subscribed: this.subscribe(key) };
      this.watched.set(key, entry);
    }
    entry.listeners.add(listener);
    let removed = false;
    return {
      ready: entry.subscribed,
      off: () => {
        if (removed) return;
        removed = true;
        const current = this.watched.get(key);
        if (!current) return;
        current.listeners.delete(listener);
        if (current.listeners.size > 0) return;
        this.watched.delete(key);
        // Commands of one channel go out in order on one connection, so a later subscribe wins.
        this.subscriber?.unsubscribe(key).catch(() => undefined);
      },
    };
  }

  /** Live listener count: a leak shows here first. */
  listenerCount(): number {
    let count = 0;
    for (const entry of this.watched.values()) count += entry.listeners.size;
    return count;
  }

  /** Copies watched right now (each one subscribed channel). */
  watchedKeys(): string[] {
    return [...this.watched.keys()];
  }

  dispatch(event: FragmentEvent): void {
    const entry = this.watched.get(event.key);
    if (!entry) return;
    for (const listener of [...entry.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error(`listener for ${event.key} threw: ${(error as Error).message}`);
      }
    }
  }

  /** The transport came back: events of any watched copy may have been missed, so every listener reads again. */
  resync(): void {
    for (const key of this.watchedKeys()) this.dispatch({ status: 'resync', generation: 0, key });
  }

  private async subscribe(key: string): Promise<void> {
    if (!this.subscriber) return;
    try {
      await this.subscriber.subscribe(key);
    } catch (error) {
      // Redis is away: the transport resubscribes when it is back, and `resync` makes everyone read again.
      this.logger.warn(`could not subscribe to events of ${key}: ${(error as Error).message}`);
    }
  }
}
