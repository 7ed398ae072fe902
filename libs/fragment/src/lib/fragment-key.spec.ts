import { buildJobId, canonicalJson, fragmentId, fragmentKey } from './fragment-key';
import { testFeedFragment, testProfileFragment } from './testing/test-fragments';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('keeps distinct values distinct, including look-alike strings and numbers', () => {
    const values = [{ a: 1 }, { a: '1' }, { a: [1] }, { 'a,"b"': 1 }, { a: 1, b: 2 }, { 'a:1': null }, {}];
    const texts = values.map((v) => canonicalJson(v));
    expect(new Set(texts).size).toBe(values.length);
  });

  it('refuses values JSON cannot represent exactly', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(TypeError);
  });
});

describe('fragmentId', () => {
  it('carries the viewer for viewer-scoped fragments', () => {
    expect(fragmentId(testFeedFragment, 7, {})).toBe('test-feed:v1:u7:{}');
    expect(fragmentId(testFeedFragment, 8, {})).not.toBe(fragmentId(testFeedFragment, 7, {}));
  });

  it('never carries a viewer for public fragments', () => {
    expect(fragmentId(testProfileFragment, null, { userId: 3 })).toBe('test-profile:v1:pub:{"userId":3}');
  });

  it('refuses a viewer-scoped id without an authenticated viewer', () => {
    expect(() => fragmentId(testFeedFragment, null, {})).toThrow(/needs an authenticated viewer/);
    expect(() => fragmentId(testFeedFragment, 0, {})).toThrow(/needs an authenticated viewer/);
  });

  it('prefixes keys and derives job ids per generation', () => {
    const key = fragmentKey('wp:', fragmentId(testFeedFragment, 7, {}));
    expect(key).toBe('wp:frag:test-feed:v1:u7:{}');
    expect(buildJobId('test-feed', key, 1)).toMatch(/^test-feed\.[0-9a-f]{40}\.1$/);
    expect(buildJobId('test-feed', key, 2)).not.toBe(buildJobId('test-feed', key, 1));
  });
});
