import { buildJobId, canonicalJson, fragmentId, fragmentLocation, fragmentTag, hashTagOf } from './fragment-key';
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

  it('prefixes keys with a hash tag per user, and derives job ids per generation', () => {
    const key = fragmentLocation('wp:', testFeedFragment, 7, {}).key;
    expect(key).toBe('wp:frag:{u7}:test-feed:v1:u7:{}');
    expect(hashTagOf(key)).toBe('u7');
    // A public copy about one user lives in that user's slot; it still names no viewer.
    expect(fragmentLocation('wp:', testProfileFragment, null, { userId: 7 }).key).toBe(
      'wp:frag:{u7}:test-profile:v1:pub:{"userId":7}',
    );
    expect(buildJobId('test-feed', key, 1)).toMatch(/^test-feed\.[0-9a-f]{40}\.1$/);
    expect(buildJobId('test-feed', key, 2)).not.toBe(buildJobId('test-feed', key, 1));
  });
});

describe('hash tags', () => {
  it('gives a public copy about no one user a tag of its own, derived from its id', () => {
    const definition = { ...testProfileFragment, locality: undefined };
    const tag = fragmentTag(definition, null, { userId: 7 }, 'test-profile:v1:pub:{"userId":7}');
    expect(tag).toMatch(/^test-profile:[0-9a-f]{16}$/);
    expect(fragmentTag(definition, null, { userId: 8 }, 'test-profile:v1:pub:{"userId":8}')).not.toBe(tag);
  });

  it('reads the first {…} of a key, which is what decides its Cluster slot', () => {
    expect(hashTagOf('wp:frag:{u1}:feed:v1:u1:{}')).toBe('u1');
    expect(hashTagOf('bull:{feed}:feed:wait')).toBe('feed');
    expect(hashTagOf('plain:key')).toBeUndefined();
    expect(hashTagOf('empty:{}:tag')).toBeUndefined();
  });
});
