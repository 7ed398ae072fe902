import { FragmentEvents } from './fragment-events';
import type { FragmentResolver } from './fragment-resolver';
import type { FragmentState } from './fragment-state';
import type { FragmentTarget } from './fragment-target';
import { FragmentWatcher } from './fragment-watcher';

/** The watcher's choice between an event's copy and a read, against a resolver the test answers by hand. */

const target = { key: 'k1' } as FragmentTarget;
const pending: FragmentState = { status: 'pending', recheckInMs: 30_000 };
const copy = { dataJson: '{"v":2}', builtAt: '2026-12-05T00:00:00.000Z', freshMs: 60_000 };

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function setUp() {
  const events = new FragmentEvents();
  const resolves: Array<ReturnType<typeof deferred<FragmentState[]>>> = [];
  const reads: Array<ReturnType<typeof deferred<FragmentState>>> = [];
  const resolver = {
    resolve: jest.fn(() => {
      const answer = deferred<FragmentState[]>();
      resolves.push(answer);
      return answer.promise;
    }),
    readSettled: jest.fn(() => {
      const answer = deferred<FragmentState>();
      reads.push(answer);
      return answer.promise;
    }),
  };
  const states: FragmentState[] = [];
  const watcher = new FragmentWatcher(resolver as unknown as FragmentResolver, events);
  const watch = () => watcher.watch([target], { onState: (_i, state) => states.push(state) });
  return { events, resolver, resolves, reads, states, watch };
}

const flush = () => new Promise((r) => setImmediate(r));

afterEach(() => jest.useRealTimers());

describe('FragmentWatcher and the copy a ready event carries', () => {
  it('reports the copy at once, without a read, when nothing of that fragment is in flight', async () => {
    const { events, resolver, resolves, states, watch } = setUp();
    const started = watch();
    await flush();
    resolves[0]!.resolve([pending]);
    const stop = await started;
    events.dispatch({ status: 'ready', generation: 2, key: 'k1', copy });
    expect(states).toEqual([
      pending,
      { status: 'ready', dataJson: copy.dataJson, builtAt: copy.builtAt, generation: 2, recheckInMs: 60_000 },
    ]);
    expect(resolver.readSettled).not.toHaveBeenCalled();
    stop();
  });

  it('reads instead while an ask is in flight, so the older answer never comes after the copy', async () => {
    const { events, resolver, resolves, reads, states, watch } = setUp();
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const started = watch();
    await flush();
    resolves[0]!.resolve([pending]);
    const stop = await started;
    jest.advanceTimersByTime(300); // past the shortest interval between two asks
    expect(resolver.resolve).toHaveBeenCalledTimes(1);
    events.dispatch({ status: 'invalidated', generation: 3, key: 'k1' }); // an ask goes out
    expect(resolver.resolve).toHaveBeenCalledTimes(2);
    events.dispatch({ status: 'ready', generation: 4, key: 'k1', copy });
    expect(resolver.readSettled).toHaveBeenCalledTimes(1);
    resolves[1]!.resolve([{ status: 'stale', dataJson: '{"v":1}', builtAt: 'old', recheckInMs: 1000 }]);
    await flush();
    reads[0]!.resolve({ status: 'ready', dataJson: copy.dataJson, builtAt: copy.builtAt, recheckInMs: 59_000 });
    await flush();
    expect(states.map((s) => `${s.status}:${s.dataJson ?? ''}`)).toEqual([
      'pending:',
      'stale:{"v":1}',
      'ready:{"v":2}',
    ]);
    // Nothing in flight any more, and a newer copy: used without a read (no count left behind).
    events.dispatch({
      status: 'ready',
      generation: 5,
      key: 'k1',
      copy: { ...copy, dataJson: '{"v":3}', builtAt: 'b5' },
    });
    expect(resolver.readSettled).toHaveBeenCalledTimes(1);
    expect(states.at(-1)?.dataJson).toBe('{"v":3}');
    stop();
  });

  it('reads instead of using a copy no newer than the data already reported (an answer overtook it)', async () => {
    const { events, resolver, resolves, reads, states, watch } = setUp();
    const started = watch();
    await flush();
    // The answer ran in Redis after build 7 was written and invalidated: it came before 7's event.
    resolves[0]!.resolve([{ status: 'stale', dataJson: '{"v":7}', builtAt: 'b7', generation: 7, recheckInMs: 900 }]);
    const stop = await started;
    events.dispatch({ status: 'ready', generation: 7, key: 'k1', copy: { ...copy, dataJson: '{"v":7}' } });
    expect(resolver.readSettled).toHaveBeenCalledTimes(1);
    reads[0]!.resolve({ status: 'stale', dataJson: '{"v":7}', builtAt: 'b7', generation: 7, recheckInMs: 800 });
    await flush();
    expect(states.map((s) => s.status)).toEqual(['stale']);
    stop();
  });

  it('reads for an event without a copy, and for one that came before the first states', async () => {
    const { events, resolver, resolves, reads, watch } = setUp();
    const started = watch();
    await flush();
    events.dispatch({ status: 'ready', generation: 2, key: 'k1', copy }); // before the first states
    resolves[0]!.resolve([pending]);
    const stop = await started;
    expect(resolver.readSettled).toHaveBeenCalledTimes(1);
    reads[0]!.resolve({ status: 'ready', dataJson: '{}', builtAt: 'b', recheckInMs: 1000 });
    await flush();
    events.dispatch({ status: 'ready', generation: 3, key: 'k1' }); // a large or stale copy travels bare
    expect(resolver.readSettled).toHaveBeenCalledTimes(2);
    stop();
  });
});
