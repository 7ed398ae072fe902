import { parseFragmentEvent } from './fragment-events';

describe('parseFragmentEvent', () => {
  it('parses status, generation and a key that contains spaces', () => {
    expect(parseFragmentEvent('ready 1764280000001 wp:frag:x:v1:pub:{"q":"a b"}')).toEqual({
      status: 'ready',
      generation: 1764280000001,
      key: 'wp:frag:x:v1:pub:{"q":"a b"}',
    });
  });

  it.each(['', 'ready', 'ready 1', 'done 1 k', 'ready x k'])('ignores malformed %j', (message) => {
    expect(parseFragmentEvent(message)).toBeNull();
  });
});
