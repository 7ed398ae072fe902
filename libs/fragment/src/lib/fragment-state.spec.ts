import { renderFragmentJson } from './fragment-state';

describe('renderFragmentJson', () => {
  it('splices stored data verbatim and escapes strings', () => {
    const json = renderFragmentJson({ status: 'ready', dataJson: '{"a":[1,2]}', builtAt: '2026-01-01T00:00:00.000Z' });
    expect(JSON.parse(json)).toEqual({ status: 'ready', data: { a: [1, 2] }, builtAt: '2026-01-01T00:00:00.000Z' });
  });

  it('renders failures with an escaped message', () => {
    const json = renderFragmentJson({
      status: 'failed',
      error: 'user "9" \n not found',
      errorCode: 'not_found',
      retryAfterMs: 5,
    });
    expect(JSON.parse(json)).toEqual({
      status: 'failed',
      error: 'user "9" \n not found',
      errorCode: 'not_found',
      retryAfterMs: 5,
    });
  });

  it('adds an extra member when given one', () => {
    expect(JSON.parse(renderFragmentJson({ status: 'pending', retryAfterMs: 500 }, '"name":"feed"'))).toEqual({
      status: 'pending',
      name: 'feed',
      retryAfterMs: 500,
    });
  });
});
