import fc from 'fast-check';

/**
 * Generators of hostile HTTP input for property-based tests of any app built on the platform:
 * strings that break parsers, keys that poison objects, numbers that overflow, ids in every wrong
 * spelling. Each also yields plain valid-looking values, so requests get past early checks and
 * reach deeper code.
 */

/** Property names with a meaning to JavaScript objects, and names our own code gives meaning to. */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
] as const;

/** Strings that are each a known way to trip something: separators, escapes, encodings, ids. */
export const NASTY_STRINGS = [
  '',
  ' ',
  ':',
  '::',
  '*',
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  'a\u0000b',
  '%00',
  '%',
  '%zz',
  '%E0%A4%A',
  '../',
  '..%2f..%2f',
  '/',
  '?',
  '#',
  '&',
  '=',
  '{',
  '}',
  '[]',
  '{}',
  '"',
  "'",
  '\\',
  '<script>alert(1)</script>',
  '${7*7}',
  '{{7*7}}',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-Infinity',
  '0',
  '-0',
  '-1',
  '007',
  '1.5',
  '1e3',
  ' 5',
  '5 ',
  '0x10',
  '2147483647',
  '2147483648',
  '9007199254740993',
  '99999999999999999999',
  '1'.repeat(400),
  '\ud800',
  '\udfff',
  '\u202e',
  '\u200b',
  '😀',
  'ß',
  'İ',
  'ǅ',
  'pub',
  'u1',
  'frag:profile:v1:pub:{}',
  'e2e:*',
  ...PROTOTYPE_KEYS,
] as const;

/** A string: nasty, random unicode, very long, a number spelled as a string, or a mix of these. */
export function hostileString(): fc.Arbitrary<string> {
  const base = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 2, arbitrary: fc.integer({ min: -5, max: 3_000_000_000 }).map(String) },
    { weight: 1, arbitrary: fc.double().map(String) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('a', '1', ':', '%', '😀', '\n'), fc.integer({ min: 100, max: 5000 }))
        .map(([c, n]) => c.repeat(n)),
    },
  );
  return fc.oneof(
    { weight: 5, arbitrary: base },
    { weight: 1, arbitrary: fc.tuple(base, base).map(([a, b]) => a + b) },
  );
}

/** A property or parameter name: prototype keys, names our APIs use, and anything else. */
export function hostileKey(knownNames: readonly string[] = []): fc.Arbitrary<string> {
  const known = ['userId', 'viewerId', 'waitMs', 'ticket', 'sub', 'id', 'body', 'page', 'name', ...knownNames];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
    { weight: 2, arbitrary: hostileString() },
  );
}

/** A JSON value built from hostile parts: nested objects with poisoned keys, arrays, huge numbers. */
export function hostileJson(knownNames: readonly string[] = []): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    hostileString(),
    fc.integer(),
    fc.constantFrom(
      0,
      -0,
      1,
      -1,
      2_147_483_647,
      2_147_483_648,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 2,
      1e308,
      -1e308,
      5e-324,
      0.5,
    ),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(hostileKey(knownNames), tie('value'), { maxKeys: 4 }),
    ),
  }));
  return value;
}

/**
 * Percent-encodes any string for a URL. `encodeURIComponent` throws on a lone surrogate; here it is
 * sent as the three bytes a WTF-8 encoder would write, which is invalid UTF-8 for the server to cope with.
 */
export function encodeHostile(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0xd800 || code > 0xdfff) {
      out += encodeURIComponent(char);
      continue;
    }
    for (const byte of [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)])
      out += `%${byte.toString(16).toUpperCase()}`;
  }
  return out;
}

/**
 * A query string: hostile keys and values, repeated keys (arrays), odd encodings, optionally with
 * some well-formed parameters mixed in so requests reach the code behind the first check.
 */
export function hostileQuery(valid: fc.Arbitrary<Array<[string, string]>> = fc.constant([])): fc.Arbitrary<string> {
  const pair = fc.tuple(hostileKey(), hostileString());
  const encoded = fc
    .array(pair, { maxLength: 4 })
    .map((pairs) => pairs.map(([k, v]) => `${encodeHostile(k)}=${encodeHostile(v)}`));
  // Raw, unencoded text as a client might send it (only what a URL can carry at all).
  const raw = fc.array(
    fc.constantFrom(
      'a=1',
      'a',
      '=',
      '&&',
      'a[b]=1',
      'a[]=1&a[]=2',
      'userId=1&userId=2',
      '%',
      '%zz=1',
      'x=%00',
      '__proto__[x]=1',
      'constructor.prototype=1',
    ),
    { maxLength: 3 },
  );
  return fc.tuple(valid, encoded, raw, fc.boolean()).map(([good, bad, rawParts, shuffle]) => {
    const parts = [...good.map(([k, v]) => `${encodeHostile(k)}=${encodeHostile(v)}`), ...bad, ...rawParts];
    if (shuffle) parts.reverse();
    return parts.length === 0 ? '' : `?${parts.join('&')}`;
  });
}

/** A path segment, percent-encoded the way a client would put a hostile value into a URL. */
export function hostilePathSegment(): fc.Arbitrary<string> {
  return fc.oneof(
    hostileString().map(encodeHostile),
    fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%2e%2e', '%2F', ';', '%00'),
  );
}

/** Header values that HTTP can carry (visible ASCII, spaces and tabs), hostile in content. */
export function hostileHeaderValue(): fc.Arbitrary<string> {
  return hostileString().map((value) => value.replace(/[^\t\x20-\x7e]/g, '').slice(0, 2000));
}
