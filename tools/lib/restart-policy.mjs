// When to restart a process that exited on its own, and when to give up on it. Pure.
//
// Like Kubernetes' restartPolicy: Always with its crash-loop back-off: restart at once-ish, wait
// twice as long after each further crash, forget the crashes once the process has stayed up for
// a while. Unlike Kubernetes, give up after a few crashes in a row that each came right after
// the start: that is a bug or a bad config, and the person at the terminal should hear about it
// instead of watching it loop.

export const DEFAULT_RESTART_POLICY = Object.freeze({
  /** Delay before the first restart of a crash streak. */
  initialDelayMs: 500,
  /** Ceiling of the doubling delay. */
  maxDelayMs: 15_000,
  /** A run at least this long ends a crash streak: the next crash starts over at initialDelayMs. */
  stableAfterMs: 60_000,
  /** A run shorter than this is a "fast" crash ... */
  fastCrashMs: 10_000,
  /** ... and this many fast crashes in a row make the supervisor give up. */
  maxFastCrashes: 5,
});

/** @returns {{ crashes: number, fastCrashes: number }} the state before any crash */
export function initialCrashState() {
  return { crashes: 0, fastCrashes: 0 };
}

/**
 * Decides what to do after a process exited on its own after `uptimeMs`.
 * @returns {{ state, giveUp: boolean, delayMs: number, reason?: string }} the new state, and
 *   either a restart delay or, when giving up, why (for the person reading the log).
 */
export function decideRestart(state, uptimeMs, policy = DEFAULT_RESTART_POLICY) {
  const streakOver = uptimeMs >= policy.stableAfterMs;
  const crashes = (streakOver ? 0 : state.crashes) + 1;
  const fast = uptimeMs < policy.fastCrashMs;
  const fastCrashes = fast ? state.fastCrashes + 1 : 0;
  const next = { crashes, fastCrashes };
  if (fastCrashes >= policy.maxFastCrashes) {
    return {
      state: next,
      giveUp: true,
      delayMs: 0,
      reason: `it stopped ${fastCrashes} times in a row, each time within ${Math.round(policy.fastCrashMs / 1000)} s of starting`,
    };
  }
  const delayMs = Math.min(policy.initialDelayMs * 2 ** (crashes - 1), policy.maxDelayMs);
  return { state: next, giveUp: false, delayMs };
}
