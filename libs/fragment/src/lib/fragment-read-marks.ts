import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ACTIVE_READ_WINDOW_MS } from './fragment-definition';
import { FragmentEvents } from './fragment-events';
import { FragmentStore } from './fragment-store';

/** Well inside the active window, so a watched copy never drops out of it between two marks. */
export const READ_MARK_INTERVAL_MS = Math.min(60_000, ACTIVE_READ_WINDOW_MS / 4);

/**
 * A copy watched by an open stream counts as read: every minute the gateway marks every copy it
 * watches (one script call per slot), so a write rebuilds it at once however long the tab has
 * been open — instead of leaving it stale until someone reloads.
 */
@Injectable()
export class FragmentReadMarks implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(FragmentReadMarks.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly events: FragmentEvents,
    private readonly store: FragmentStore,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.mark(), READ_MARK_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Marks every watched copy read now; returns how many existed. */
  async mark(): Promise<number> {
    const keys = this.events.watchedKeys();
    if (keys.length === 0) return 0;
    try {
      return await this.store.markRead(keys);
    } catch (error) {
      // Redis is away: the next round marks them (the window is ten rounds long).
      this.logger.warn(`could not mark ${keys.length} watched copies read: ${(error as Error).message}`);
      return 0;
    }
  }
}
