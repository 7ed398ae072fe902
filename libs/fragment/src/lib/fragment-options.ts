/** Engine settings, read once from validated config by the app that imports `FragmentModule`. */
export interface FragmentModuleOptions {
  readonly redisUrl: string;
  /** Prefix of every engine key and channel, e.g. `wp:`. Test runs use their own. */
  readonly keyPrefix: string;
  /** Bull's key prefix (`bull` by default, so queues live at `bull:<queue>:…`). */
  readonly bullPrefix: string;
  /** Short name of this process for Redis CLIENT LIST and logs, e.g. `feed-worker`. */
  readonly connectionName?: string;
  readonly worker?: FragmentWorkerOptions;
}

export interface FragmentWorkerOptions {
  /** Builds run at once by this process (per pod). */
  readonly concurrency: number;
  /** Bull lock: must exceed the longest time the event loop may be blocked, or a job runs twice. */
  readonly lockDurationMs: number;
  /** How often Bull looks for jobs whose worker died (stalled-job recovery). */
  readonly stalledIntervalMs: number;
}
