/** What a builder gets besides its canonical params. */
export interface FragmentBuildContext {
  /** The viewer for `viewer`-scoped fragments; `null` for `public` ones, which must not depend on who asks. */
  readonly viewerId: number | null;
  /** Aborted when the build times out or the worker shuts down; pass it on to cancellable I/O. */
  readonly signal: AbortSignal;
  /** 1 for the first try. */
  readonly attempt: number;
  /**
   * The WAL position (Postgres text form `X/Y`) of the newest write this copy was invalidated by:
   * the build must read data at or after it (a replica that has not replayed that far must not be
   * read). Undefined when no write is pending.
   */
  readonly minLsn?: string;
  /**
   * Keeps this copy fresh for at most `ttlMs` (never longer than the definition's ttl), for data no
   * write invalidates, such as posts a feed pulls at build time. Absent outside the engine's worker.
   */
  readonly limitTtl?: (ttlMs: number) => void;
}

/**
 * A builder turns canonical params into the fragment's data (any JSON-serialisable value). It is a
 * plain Nest provider of the worker app; it knows nothing about Redis, Bull or keys.
 * Throw `FragmentNotFoundError` / `PermanentFragmentError` for failures no retry can fix.
 */
export interface FragmentBuilder<P = Record<string, unknown>, D = unknown> {
  build(params: P, ctx: FragmentBuildContext): Promise<D>;
}
