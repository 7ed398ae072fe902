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
    const offA = events.on('a', (e) => seen.push(`a1:${e.status}`));
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
