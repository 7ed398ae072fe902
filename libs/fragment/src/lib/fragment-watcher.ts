import { Injectable } from '@nestjs/common';
import { FragmentEvents } from './fragment-events';
import { FragmentResolver } from './fragment-resolver';
import type { FragmentState } from './fragment-state';
import type { FragmentTarget } from './fragment-target';

export interface WatchOptions {
  readonly requestId?: string;
  /** Called with every fragment's current state first, then again each time one changes. */
  readonly onState: (index: number, state: FragmentState) => void;
}

/**
 * Follows a page's fragments as they settle: the current state of each (leasing and enqueueing
 * what is missing, like any page request), then each change announced by a readiness event. It
 * listens before it reads, so a build that finishes in between is never missed; it reports a
 * fragment again only when its status or build time changed.
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
    let started = false;
    let closed = false;
    const early = new Set<number>();

    const report = (index: number, state: FragmentState): void => {
      const signature = `${state.status}|${state.builtAt ?? ''}`;
      if (closed || seen[index] === signature) return;
      seen[index] = signature;
      options.onState(index, state);
    };
    const refresh = (index: number): void => {
      this.resolver.readSettled(targets[index]).then(
        (state) => report(index, state),
        () => undefined, // Redis blipped: the next event, or the client's reconnect, catches up.
      );
    };

    const offs = targets.map((target, index) =>
      this.events.on(target.key, () => {
        if (started) refresh(index);
        else early.add(index);
      }),
    );
    const close = (): void => {
      closed = true;
      for (const off of offs) off();
    };

    try {
      const states = await this.resolver.resolve(targets, { requestId: options.requestId });
      states.forEach((state, index) => report(index, state));
    } catch (error) {
      close();
      throw error;
    }
    started = true;
    for (const index of early) refresh(index);
    return close;
  }
}
