import type { WriteEventOf, WriteEventType } from './write-events';

/** One cached copy of a fragment: its raw params, and the viewer it is resolved for. */
export interface FragmentCopy<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly params: P;
  readonly viewerId: number;
}

/** The copies one write changes, named from the event (a handful: a profile, the writer's feed). */
export type CopiesRule<E, P extends Record<string, unknown>> = (event: E) => ReadonlyArray<FragmentCopy<P>>;

/**
 * Every follower's own copy (default params, the follower as viewer) of the author `followersOf`
 * names: too many to list at once, so the invalidation worker walks the followers a page at a time,
 * and skips authors with more followers than the push threshold, whose followers' builds pull
 * instead (libs/feed/src/lib/feed-fanout.ts).
 */
export interface FollowersRule<E> {
  readonly followersOf: (event: E) => number;
}

/** The write does not change any copy of the fragment: a decision, stated, not an omission. */
export const UNAFFECTED = 'unaffected';

export type InvalidationRule<E, P extends Record<string, unknown>> =
  CopiesRule<E, P> | FollowersRule<E> | typeof UNAFFECTED;

/**
 * Which copies of one fragment each write kind invalidates. Every kind needs an entry, so a new
 * kind of write is a type error in each fragment's rules until each states what it changes.
 */
export type InvalidationRules<P extends Record<string, unknown> = Record<string, unknown>> = {
  readonly [T in WriteEventType]: InvalidationRule<WriteEventOf<T>, P>;
};

export function isFollowersRule(rule: unknown): rule is FollowersRule<never> {
  return typeof rule === 'object' && rule !== null && 'followersOf' in rule;
}
