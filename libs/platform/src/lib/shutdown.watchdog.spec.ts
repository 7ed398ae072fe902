import { EventEmitter } from 'node:events';
import { installShutdownWatchdog } from './shutdown.watchdog';

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
