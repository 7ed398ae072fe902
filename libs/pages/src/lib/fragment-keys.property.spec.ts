import {
  canonicalJson,
  createFragmentTarget,
  defineFragment,
  type FragmentDefinition,
  FragmentParamsError,
  fragmentId,
} from '@worker-pattern/fragment';
import { hostileJson, hostileKey, hostileString } from '@worker-pattern/platform/testing';
import fc from 'fast-check';
import { z } from 'zod';
import { FRAGMENT_CATALOG_DEFINITIONS } from './page-definition';

// Properties of the keys the gateway derives for the fragments it serves, over random and hostile
// input: the key is a function of (fragment, version, viewer for viewer-scoped ones, canonical
// params) and of nothing else, and no two different such identities ever share a key.

const PREFIX = 'wp:';
const viewerId = fc.integer({ min: 1, max: 2_147_483_647 });

/** Raw params as a query string could deliver them: strings or repeated strings, under any name. */
const rawParams = fc.dictionary(
  fc.oneof({ weight: 3, arbitrary: fc.constant('userId') }, { weight: 1, arbitrary: hostileKey() }),
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -3, max: 40 }).map(String) },
    { weight: 2, arbitrary: hostileString() },
    { weight: 1, arbitrary: fc.array(fc.integer({ min: 1, max: 40 }).map(String), { minLength: 2, maxLength: 3 }) },
  ),
  { maxKeys: 3, noNullPrototype: false },
);

type Target = { key: string; identity: string };

/** The target for a request, or null when the request is refused (a 400 naming the param). */
function targetOf(definition: FragmentDefinition, raw: Record<string, unknown>, viewer: number): Target | null {
  try {
    const target = createFragmentTarget(definition, raw, { viewerId: viewer }, PREFIX);
    const identity = JSON.stringify([
      definition.name,
      definition.version,
      definition.scope === 'viewer' ? viewer : null,
      canonicalJson(target.params),
    ]);
    return { key: target.key, identity };
  } catch (error) {
    if (error instanceof FragmentParamsError) return null;
    throw error;
  }
}

describe('fragment keys of the served catalog (property-based)', () => {
  it('maps distinct (fragment, viewer, canonical params) to distinct keys, and equal ones to one key', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom(...FRAGMENT_CATALOG_DEFINITIONS), rawParams, fc.integer({ min: 1, max: 30 })),
          { minLength: 2, maxLength: 30 },
        ),
        (requests) => {
          const identityOfKey = new Map<string, string>();
          const keyOfIdentity = new Map<string, string>();
          for (const [definition, raw, viewer] of requests) {
            const target = targetOf(definition, raw, viewer);
            if (!target) continue;
            // Keys equal ⟹ identities equal, and identities equal ⟹ keys equal.
            expect(identityOfKey.get(target.key) ?? target.identity).toBe(target.identity);
            expect(keyOfIdentity.get(target.identity) ?? target.key).toBe(target.key);
            identityOfKey.set(target.key, target.identity);
            keyOfIdentity.set(target.identity, target.key);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('keys a viewer-scoped fragment by the authenticated viewer only, whatever the params say', () => {
    const viewerScoped = FRAGMENT_CATALOG_DEFINITIONS.filter((f) => f.scope === 'viewer');
    expect(viewerScoped.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.constantFrom(...viewerScoped), rawParams, viewerId, viewerId, (definition, raw, a, b) => {
        fc.pre(a !== b);
        // Whatever the request adds (say viewerId=b), it is refused or it is a's copy.
        const target = targetOf(definition, { ...raw, viewerId: String(b) }, a) ?? targetOf(definition, raw, a);
        if (!target) return;
        expect(target.key.startsWith(`${PREFIX}frag:{u${a}}:${definition.name}:v${definition.version}:u${a}:`)).toBe(
          true,
        );
        expect(target.key).toBe(targetOf(definition, {}, a)!.key);
        expect(target.key).not.toBe(targetOf(definition, {}, b)!.key);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses every param a viewer-scoped fragment does not declare, so none reaches a key', () => {
    const viewerScoped = FRAGMENT_CATALOG_DEFINITIONS.filter((f) => f.scope === 'viewer');
    fc.assert(
      fc.property(fc.constantFrom(...viewerScoped), rawParams, viewerId, (definition, raw, viewer) => {
        fc.pre(Object.keys(raw).length > 0);
        expect(targetOf(definition, raw, viewer)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });
});

describe('fragment ids of any definition (property-based)', () => {
  // Definitions richer than the served ones: free-form string, array and nested params, so the
  // canonical encoding itself is tested against hostile values (':' '*' newlines, key order, …).
  const loose = z
    .object({
      q: z.string().optional(),
      tags: z.array(z.string()).optional(),
      n: z.number().optional(),
      extra: z.unknown().optional(),
    })
    .strict();
  const definitions = [
    defineFragment({ name: 'search', queue: 'search', scope: 'public', version: 1, params: loose, ttlMs: 1000 }),
    defineFragment({ name: 'search', queue: 'search', scope: 'public', version: 2, params: loose, ttlMs: 1000 }),
    defineFragment({ name: 'search', queue: 'search', scope: 'viewer', version: 1, params: loose, ttlMs: 1000 }),
    defineFragment({ name: 'search-v1', queue: 'search', scope: 'public', version: 1, params: loose, ttlMs: 1000 }),
  ] as FragmentDefinition[];
  const params = fc.record(
    {
      q: hostileString(),
      tags: fc.array(hostileString(), { maxLength: 3 }),
      n: fc.double({ noNaN: true, noDefaultInfinity: true }),
      extra: hostileJson(),
    },
    { requiredKeys: [] },
  );
  const normalised = (value: unknown) => canonicalJson(JSON.parse(JSON.stringify(value)) as unknown);
  // Pairs that are often the same identity, spelled differently (key order), so both directions of
  // "same id ⟺ same identity" get exercised, not only "different ⟹ different".
  const smallViewer = fc.integer({ min: 1, max: 3 });
  const paramPair = fc.oneof(
    fc.tuple(params, params),
    params.map((p) => [p, Object.fromEntries(Object.entries(p).reverse())] as const),
    fc.tuple(params, hostileString()).map(([p, s]) => [p, { ...p, q: `${p.q ?? ''}${s}` }] as const),
  );

  type IdFunction = (definition: FragmentDefinition, viewer: number | null, params: object) => string;
  const injectivity = (id: IdFunction) =>
    fc.property(
      fc.constantFrom(...definitions),
      fc.constantFrom(...definitions),
      smallViewer,
      smallViewer,
      paramPair,
      (d1, d2, v1, v2, [p1, p2]) => {
        const same = id(d1, v1, p1) === id(d2, v2, p2);
        const identical =
          d1.name === d2.name &&
          d1.version === d2.version &&
          d1.scope === d2.scope &&
          (d1.scope === 'public' || v1 === v2) &&
          normalised(p1) === normalised(p2);
        expect(same).toBe(identical);
      },
    );

  it('gives two ids only when definition, viewer and canonical params are the same', () => {
    fc.assert(injectivity(fragmentId), { numRuns: 1500 });
  });

  // The property above would catch a broken key: each of these plausible mistakes fails it.
  it.each<[string, IdFunction]>([
    [
      'params not canonical (key order kept)',
      (d, v, p) => `${d.name}:v${d.version}:${d.scope === 'viewer' ? `u${v}` : 'pub'}:${JSON.stringify(p)}`,
    ],
    ['no version', (d, v, p) => `${d.name}:${d.scope === 'viewer' ? `u${v}` : 'pub'}:${canonicalJson(p)}`],
    ['the viewer left out', (d, _v, p) => `${d.name}:v${d.version}:${canonicalJson(p)}`],
    [
      'values joined without encoding',
      (d, v, p) => `${d.name}:v${d.version}:${d.scope === 'viewer' ? `u${v}` : 'pub'}:${Object.values(p).join(':')}`,
    ],
  ])('fails for a key with %s', (_mistake, broken) => {
    expect(fc.check(injectivity(broken), { numRuns: 1500 }).failed).toBe(true);
  });

  it('gives the same id for the same params in any key order (canonical), and another for any change', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...definitions),
        viewerId,
        params,
        hostileString(),
        (definition, viewer, p, change) => {
          const reordered = Object.fromEntries(Object.entries(p).reverse());
          expect(fragmentId(definition, viewer, reordered)).toBe(fragmentId(definition, viewer, p));
          const changed = { ...p, q: `${p.q ?? ''}${change}` };
          if (change !== '')
            expect(fragmentId(definition, viewer, changed)).not.toBe(fragmentId(definition, viewer, p));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
