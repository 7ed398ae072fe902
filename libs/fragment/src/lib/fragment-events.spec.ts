import { FragmentEvents, parseFragmentEvent } from './fragment-events';

describe('parseFragmentEvent', () => {
  it('parses status, generation (sent as a string) and a key that contains spaces', () => {
    expect(
      parseFragmentEvent({ status: 'ready', generation: '1764280000001', key: 'wp:frag:x:v1:pub:{"q":"a b"}' }),
    ).toEqual({
      status: 'ready',
      generation: 1764280000001,
      key: 'wp:frag:x:v1:pub:{"q":"a b"}',
    });
  });

  it('keeps the copy a ready event carries, and only a ready event’s whole copy', () => {
    const copy = { dataJson: '{"a":"\\u00e9"}', builtAt: '2026-12-05T00:00:00.000Z', freshMs: 60_000 };
    expect(parseFragmentEvent({ status: 'ready', generation: '5', key: 'k', ...copy })).toEqual({
      status: 'ready',
      generation: 5,
      key: 'k',
      copy,
    });
    expect(parseFragmentEvent({ status: 'failed', generation: '5', key: 'k', ...copy })?.copy).toBeUndefined();
    expect(parseFragmentEvent({ status: 'ready', generation: '5', key: 'k', dataJson: '{}' })?.copy).toBeUndefined();
    // A malformed copy leaves the event bare, not lost.
    expect(parseFragmentEvent({ status: 'ready', generation: '5', key: 'k', ...copy, freshMs: -1 })).toEqual({
      status: 'ready',
      generation: 5,
      key: 'k',
    });
  });

  it.each([
    null,
    'ready 1 k',
    {},
    { status: 'done', generation: '1', key: 'k' },
    { status: 'ready', generation: 'x', key: 'k' },
    { status: 'ready', generation: '1', key: '' },
  ])('ignores malformed %j', (data) => {
    expect(parseFragmentEvent(data)).toBeNull();
  });
});

describe('FragmentEvents', () => {
  it('fans an event out to the listeners of its key only, until they unsubscribe', () => {
    const events = new FragmentEvents();
    const seen: string[] = [];
    const { off: offA } = events.on('a', (e) => seen.push(`a1:${e.status}`));
    events.on('a', (e) => seen.push(`a2:${e.status}`));
    events.on('b', () => seen.push('b'));
    events.dispatch({ status: 'ready', generation: 1, key: 'a' });
    expect(seen).toEqual(['a1:ready', 'a2:ready']);
    offA();
    offA();
    events.dispatch({ status: 'failed', generation: 2, key: 'a' });
    expect(seen).toEqual(['a1:ready', 'a2:ready', 'a2:failed']);
    expect(events.listenerCount()).toBe(2);
  });

  it('keeps delivering when one listener throws', () => {
    const events = new FragmentEvents();
    const seen: number[] = [];
    events.on('k', () => {
      throw new Error('bad listener');
    });
    events.on('k', (e) => seen.push(e.generation));
    events.dispatch({ status: 'ready', generation: 7, key: 'k' });
    expect(seen).toEqual([7]);
  });
});

describe('FragmentEvents subscriptions', () => {
  function subscriber() {
    const calls: string[] = [];
    let resubscribed: () => void = () => undefined;
    return {
      calls,
      reconnect: () => resubscribed(),
      subscribe: jest.fn(async (channel: string) => void calls.push(`+${channel}`)),
      unsubscribe: jest.fn(async (channel: string) => void calls.push(`-${channel}`)),
      onResubscribed: (callback: () => void) => (resubscribed = callback),
    };
  }

  it('subscribes to a copy’s channel while at least one listener watches it, and to nothing else', async () => {
    const transport = subscriber();
    const events = new FragmentEvents(transport);
    const first = events.on('k', () => undefined);
    const second = events.on('k', () => undefined);
    await Promise.all([first.ready, second.ready]);
    expect(transport.calls).toEqual(['+k']);
    first.off();
    expect(transport.calls).toEqual(['+k']);
    second.off();
    expect(transport.calls).toEqual(['+k', '-k']);
    expect(events.watchedKeys()).toEqual([]);
  });

  it('tells every listener to read again after the transport reconnected', () => {
    const transport = subscriber();
    const events = new FragmentEvents(transport);
    const seen: string[] = [];
    events.on('a', (e) => seen.push(`a:${e.status}`));
    events.on('b', (e) => seen.push(`b:${e.status}`));
    transport.reconnect();
    expect(seen).toEqual(['a:resync', 'b:resync']);
  });

  it('still lets a watcher go on when a subscription fails (the reconnect resubscribes)', async () => {
    const transport = subscriber();
    transport.subscribe.mockRejectedValueOnce(new Error('Connection is closed.'));
    const events = new FragmentEvents(transport);
    await expect(events.on('k', () => undefined).ready).resolves.toBeUndefined();
  });
});
