import { Injectable } from '@nestjs/common';
import { FragmentEvents, type FragmentEvent } from './fragment-events';
import { FragmentResolver } from './fragment-resolver';
import type { FragmentState } from './fragment-state';
import type { FragmentTarget } from './fragment-target';

export interface WatchOptions {
  readonly requestId?: string;
  /** Called with every fragment's current state first, then again each time one changes. */
  readonly onState: (index: number, state: FragmentState) => void;
}

/** Asking the same fragment again sooner than this after an answer would only spin. */
const MIN_ASK_INTERVAL_MS = 250;
/** After a failed ask (Redis away), try again this much later (the transport's resync may come first). */
const RETRY_AFTER_ERROR_MS = 2000;
/** Asking just after a lease or ttl ends, not just before. */
const RECHECK_SLACK_MS = 25;

/**
 * Follows a page's fragments for as long as a stream stays open: the current state of each
 * (leasing and enqueueing what is missing, like any page request), then every change.
 *
 * It never waits on something that will not happen:
 * - it listens (and Redis confirmed it) before it reads, so a build finishing in between is seen;
 * - a build settling (`ready`, `failed`) is read, unless the event carries the fresh copy, no read
 *   or ask of that fragment is in flight (its answer could be older than the event) and the copy is
 *   newer (its generation) than any data already reported (an answer can overtake an older event:
 *   they come on different connections); a read settles it otherwise, as it did before; a write
 *   (`invalidated`) is answered with a resolve that leases, so a rebuild is under way (and promoted:
 *   someone is looking) whatever the write did;
 * - when the lease of the build it waits for ends (a lost job), a ready copy's ttl runs out, or a
 *   failure expires, it asks again with leasing;
 * - after the event transport reconnects (`resync`) it reads everything again;
 * - an event arriving while a read is in flight gets a read of its own (`readSettled`).
 * It reports a fragment again only when its status or build time changed.
 */
@Injectable()
export class FragmentWatcher {
  constructor(
    private readonly resolver: FragmentResolver,
    private readonly events: FragmentEvents,
  ) {}

  /** Resolves once the initial states are out; the returned function stops the watch. */
  async watch(targets: readonly FragmentTarget[], options: WatchOptions): Promise<() => void> {
    const seen: Array<string | undefined> = targets.map(() => undefined);
    const timers: Array<NodeJS.Timeout | undefined> = targets.map(() => undefined);
    const askedAt: number[] = targets.map(() => 0);
    /** Reads and asks of each fragment sent and not yet answered. */
    const inFlight: number[] = targets.map(() => 0);
    /** The newest data generation reported per fragment: an event's copy must be newer to be used. */
    const newest: number[] = targets.map(() => 0);
    let started = false;
    let closed = false;
    const early = new Map<number, FragmentEvent['status']>();

    const report = (index: number, state: FragmentState): void => {
      const signature = `${state.status}|${state.builtAt ?? ''}`;
      if (closed || seen[index] === signature) return;
      seen[index] = signature;
      options.onState(index, state);
    };
    const later = (index: number, ms: number, what: () => void): void => {
      clearTimeout(timers[index]);
      if (closed) return;
      const timer = setTimeout(what, ms);
      timer.unref();
      timers[index] = timer;
    };
    /** A resolve with leasing: whatever is missing, stale or lost gets a build. */
    const ask = (index: number): void => {
      if (closed) return;
      const wait = askedAt[index] + MIN_ASK_INTERVAL_MS - Date.now();
      if (wait > 0) return later(index, wait, () => ask(index));
      askedAt[index] = Date.now();
      const answer = this.resolver.resolve([targets[index]], { requestId: options.requestId });
      follow(
        index,
        answer.then(([state]) => state),
        false,
      );
    };
    /** Counts the answer in flight until it comes, then settles it (or asks again later after an error). */
    const follow = (index: number, answer: Promise<FragmentState>, fromRead: boolean): void => {
      inFlight[index] += 1;
      answer.then(
        (state) => {
          inFlight[index] -= 1;
          settle(index, state, fromRead);
        },
        () => {
          inFlight[index] -= 1;
          later(index, RETRY_AFTER_ERROR_MS, () => ask(index));
        },
      );
    };
    /** After a plain read: report, then decide when to look again. */
    const settle = (index: number, state: FragmentState, fromRead: boolean): void => {
      newest[index] = Math.max(newest[index], state.generation ?? 0);
      report(index, state);
      const recheck = state.recheckInMs ?? 0;
      // A ttl running out is no event: spread the watchers of one copy a little so they do not all ask at once.
      const spread = state.status === 'ready' ? Math.random() * recheck * 0.1 : 0;
      if (recheck > 0) later(index, recheck + RECHECK_SLACK_MS + spread, () => ask(index));
      // Not fresh and nothing under way (a read cannot lease): ask, which leases.
      else if (state.status !== 'ready' && fromRead) ask(index);
      else if (state.status !== 'ready') later(index, RETRY_AFTER_ERROR_MS, () => ask(index));
    };
    const read = (index: number): void => follow(index, this.resolver.readSettled(targets[index]), true);
    const onEvent = (index: number, event: FragmentEvent): void => {
      if (closed) return;
      const { copy } = event;
      if (event.status === 'invalidated') ask(index);
      else if (copy && inFlight[index] === 0 && event.generation > newest[index]) {
        const { dataJson, builtAt, freshMs } = copy;
        settle(index, { status: 'ready', dataJson, builtAt, generation: event.generation, recheckInMs: freshMs }, true);
      } else read(index);
    };

    const subscriptions = targets.map((target, index) =>
      this.events.on(target.key, (event) => {
        if (started) onEvent(index, event);
        // Came before the first states: read after them (the event may be older than what they saw).
        else early.set(index, event.status);
      }),
    );
    const close = (): void => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const subscription of subscriptions) subscription.off();
    };

    try {
      await Promise.all(subscriptions.map((s) => s.ready));
      const states = await this.resolver.resolve(targets, { requestId: options.requestId });
      states.forEach((state, index) => {
        askedAt[index] = Date.now();
        settle(index, state, false);
      });
    } catch (error) {
      close();
      throw error;
    }
    started = true;
    for (const [index, status] of early) onEvent(index, { status, generation: 0, key: targets[index].key });
    return close;
  }
}
