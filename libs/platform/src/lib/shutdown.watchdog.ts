/** The part of `process` the watchdog uses, so a test can hand it an EventEmitter. */
export interface SignalSource {
  once(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownWatchdogOptions {
  timeoutMs: number;
  /** Called when shutdown overran; in an app it logs and exits with 1. */
  onTimeout: (signal: NodeJS.Signals, timeoutMs: number) => void;
  signals?: readonly NodeJS.Signals[];
  source?: SignalSource;
}

/**
 * Nest's shutdown hooks close the app on SIGTERM/SIGINT (Bull waits there for active jobs); this only
 * bounds how long that may take, so a stuck close ends in a clear exit(1) before the orchestrator's
 * SIGKILL. The timer keeps the process alive on purpose: a close stuck on a promise that nothing will
 * settle would otherwise let the event loop drain and the process exit 0 as if all went well. A close
 * that completes ends the process itself (Nest re-raises the signal), timer or not.
 * Returns a function that disarms the watchdog.
 */
export function installShutdownWatchdog({
  timeoutMs,
  onTimeout,
  signals = ['SIGTERM', 'SIGINT'],
  source = process,
}: ShutdownWatchdogOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  const disarmListeners = () => signals.forEach((signal) => source.removeListener(signal, arm));
  function arm(signal: NodeJS.Signals): void {
    // One shutdown, one deadline: once armed, stop listening so that we never stand in the way of the
    // default action of a signal Nest re-raises after closing.
    disarmListeners();
    timer = setTimeout(() => onTimeout(signal, timeoutMs), timeoutMs);
  }
  signals.forEach((signal) => source.once(signal, arm));
  return () => {
    disarmListeners();
    clearTimeout(timer);
  };
}
