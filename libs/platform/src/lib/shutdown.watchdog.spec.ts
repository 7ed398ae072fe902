import { EventEmitter } from 'node:events';
import { installGracefulShutdown, installShutdownWatchdog } from './shutdown.watchdog';

describe('installShutdownWatchdog', () => {
  let source: EventEmitter;
  let onTimeout: jest.Mock;

  beforeEach(() => {
    jest.useFakeTimers();
    source = new EventEmitter();
    onTimeout = jest.fn();
  });
  afterEach(() => jest.useRealTimers());

  it('does nothing until a signal arrives', () => {
    installShutdownWatchdog({ timeoutMs: 1000, onTimeout, source });
    jest.advanceTimersByTime(10_000);
    expect(onTimeout).not.toHaveBeenCalled();
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('fires timeoutMs after %s, not before', (signal) => {
    installShutdownWatchdog({ timeoutMs: 1000, onTimeout, source });
    source.emit(signal, signal);
    jest.advanceTimersByTime(999);
    expect(onTimeout).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(onTimeout).toHaveBeenCalledWith(signal, 1000);
  });

  it('arms once and then stops listening, leaving signals to their default action', () => {
    installShutdownWatchdog({ timeoutMs: 1000, onTimeout, source });
    source.emit('SIGTERM', 'SIGTERM');
    expect(source.listenerCount('SIGTERM')).toBe(0);
    expect(source.listenerCount('SIGINT')).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  it('can be disarmed', () => {
    const disarm = installShutdownWatchdog({ timeoutMs: 1000, onTimeout, source });
    source.emit('SIGTERM', 'SIGTERM');
    disarm();
    jest.advanceTimersByTime(5000);
    expect(onTimeout).not.toHaveBeenCalled();
  });
});

describe('installGracefulShutdown', () => {
  it('closes the app on SIGTERM and exits 0 once it closed', async () => {
    const source = new EventEmitter();
    const exit = jest.fn();
    let finish: () => void = () => undefined;
    const close = jest.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    installGracefulShutdown({ close, exit, timeoutMs: 1000, onTimeout: jest.fn(), source });
    source.emit('SIGTERM', 'SIGTERM');
    expect(close).toHaveBeenCalledTimes(1);
    expect(exit).not.toHaveBeenCalled();
    finish();
    await new Promise((r) => setImmediate(r));
    expect(exit).toHaveBeenCalledWith(0);
    expect(source.listenerCount('SIGTERM')).toBe(0);
  });

  it('exits 1 when the close fails', async () => {
    const source = new EventEmitter();
    const exit = jest.fn();
    const onCloseError = jest.fn();
    installGracefulShutdown({
      close: () => Promise.reject(new Error('stuck queue')),
      exit,
      onCloseError,
      timeoutMs: 1000,
      onTimeout: jest.fn(),
      source,
    });
    source.emit('SIGINT', 'SIGINT');
    await new Promise((r) => setImmediate(r));
    expect(exit).toHaveBeenCalledWith(1);
    expect(onCloseError).toHaveBeenCalledWith(expect.objectContaining({ message: 'stuck queue' }));
  });

  it('leaves an overrunning close to the watchdog', () => {
    jest.useFakeTimers();
    try {
      const source = new EventEmitter();
      const onTimeout = jest.fn();
      const exit = jest.fn();
      installGracefulShutdown({
        close: () => new Promise<void>(() => undefined),
        exit,
        timeoutMs: 500,
        onTimeout,
        source,
      });
      source.emit('SIGTERM', 'SIGTERM');
      jest.advanceTimersByTime(500);
      expect(onTimeout).toHaveBeenCalledWith('SIGTERM', 500);
      expect(exit).not.toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
    }
  });
});
