import { feedInvalidation } from '@worker-pattern/feed';
import { profileInvalidation } from '@worker-pattern/profile';
import { recommendationsInvalidation } from '@worker-pattern/recommendations';
import {
  type CopiesRule,
  type InvalidationRules,
  isFollowersRule,
  UNAFFECTED,
  type WriteEvent,
  type WriteEventType,
} from '@worker-pattern/write-events';
import { FRAGMENT_NAMES, type FragmentName, registeredFragment, type RegisteredFragment } from './fragments';

/**
 * Each registered fragment's invalidation rules (in its contract folder, `<name>.invalidation.ts`):
 * a fragment of the registry without rules here does not compile.
 */
export const INVALIDATION_RULES: { readonly [N in FragmentName]: InvalidationRules } = {
  profile: profileInvalidation,
  feed: feedInvalidation,
  recommendations: recommendationsInvalidation,
};

/** One copy a write invalidates at once: which fragment, with which raw params, for which viewer. */
export interface PlannedCopy {
  readonly fragment: RegisteredFragment;
  readonly params: Readonly<Record<string, unknown>>;
  readonly viewerId: number;
}

export interface InvalidationPlan {
  /** Copies the write itself changes, invalidated at once (a handful), in the registry's order. */
  readonly copies: readonly PlannedCopy[];
  /** Fragments whose every follower's copy of `authorId` the write changes, walked page by page. */
  readonly followers?: { readonly authorId: number; readonly fragments: readonly RegisteredFragment[] };
}

/** The fragments that invalidate each follower's copy on writes of this kind (the feed on a post). */
export function followerFragments(type: WriteEventType): RegisteredFragment[] {
  return FRAGMENT_NAMES.filter((name) => isFollowersRule(INVALIDATION_RULES[name][type])).map(registeredFragment);
}

/** What a write invalidates, from each registered fragment's rules: pure, no I/O. */
export function invalidationPlan(event: WriteEvent): InvalidationPlan {
  const copies: PlannedCopy[] = [];
  let followers: { authorId: number; fragments: RegisteredFragment[] } | undefined;
  for (const name of FRAGMENT_NAMES) {
    const rule = INVALIDATION_RULES[name][event.type];
    if (rule === UNAFFECTED) continue;
    const fragment = registeredFragment(name);
    if (isFollowersRule(rule)) {
      // A job walks one author's followers: rules naming two different authors cannot share it.
      const authorId = (rule.followersOf as (e: WriteEvent) => number)(event);
      if (followers && followers.authorId !== authorId)
        throw new Error(
          `"${event.type}": fragments walk the followers of two authors (${followers.authorId}, ${authorId})`,
        );
      followers = { authorId, fragments: [...(followers?.fragments ?? []), fragment] };
      continue;
    }
    for (const copy of (rule as CopiesRule<WriteEvent, Record<string, unknown>>)(event))
      copies.push({ fragment, params: copy.params, viewerId: copy.viewerId });
  }
  return followers ? { copies, followers } : { copies };
}
