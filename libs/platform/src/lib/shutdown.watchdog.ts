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

export interface GracefulShutdownOptions extends ShutdownWatchdogOptions {
  /** Closes the app: every Nest shutdown hook runs (queues stop taking jobs and drain). */
  close: () => Promise<void>;
  /** `process.exit` in an app. */
  exit: (code: number) => void;
  onCloseError?: (error: unknown) => void;
}

/**
 * On SIGTERM/SIGINT: close the app, then exit 0 — or 1 if the close fails or overruns the
 * watchdog's budget. Used instead of Nest's `enableShutdownHooks`, which re-raises the signal after
 * closing: as PID 1 in a container a re-raised SIGTERM is ignored, and the process would hang until
 * the orchestrator's SIGKILL. A second signal finds no listener and takes its default action.
 * Returns a function that uninstalls it.
 */
export function installGracefulShutdown({
  close,
  exit,
  onCloseError,
  signals = ['SIGTERM', 'SIGINT'],
  source = process,
  ...watchdog
}: GracefulShutdownOptions): () => void {
  const disarmWatchdog = installShutdownWatchdog({ ...watchdog, signals, source });
  const remove = () => signals.forEach((signal) => source.removeListener(signal, onSignal));
  function onSignal(): void {
    remove();
    close().then(
      () => {
        disarmWatchdog();
        exit(0);
      },
      (error: unknown) => {
        disarmWatchdog();
        onCloseError?.(error);
        exit(1);
      },
    );
  }
  signals.forEach((signal) => source.once(signal, onSignal));
  return () => {
    remove();
    disarmWatchdog();
  };
}
