import { feedFragment } from '@worker-pattern/feed';
import type { FragmentContract, FragmentDefinition } from '@worker-pattern/fragment';
import { profileFragment } from '@worker-pattern/profile';
import { recommendationsFragment } from '@worker-pattern/recommendations';

/**
 * A fragment the system serves: its definition with what the registry requires beyond the engine's
 * needs, the data schema (the OpenAPI document) and a title (the demo page).
 */
export type RegisteredFragment = FragmentDefinition & FragmentContract;

/**
 * Every fragment the system serves, by name: the one list the pages, the OpenAPI schemas, the demo
 * page, the invalidation worker, the app registry and the stacks derive theirs from. A contract
 * without a data schema or a title does not fit `RegisteredFragment`, so it fails to compile here.
 */
export const FRAGMENTS = {
  profile: profileFragment,
  feed: feedFragment,
  recommendations: recommendationsFragment,
} as const satisfies Record<string, FragmentContract & { readonly name: string }>;

export type FragmentName = keyof typeof FRAGMENTS;

/** The registry's fragments in its order (the dashboard's order). */
export const FRAGMENT_LIST = Object.values(FRAGMENTS) as unknown as readonly RegisteredFragment[];

export const FRAGMENT_NAMES = Object.keys(FRAGMENTS) as FragmentName[];

export function isFragmentName(name: string): name is FragmentName {
  return Object.hasOwn(FRAGMENTS, name);
}

/** The registered fragment of that name (typed: an unknown name does not compile). */
export function registeredFragment(name: FragmentName): RegisteredFragment {
  return FRAGMENTS[name] as unknown as RegisteredFragment;
}

// A key that is not its definition's name would serve one fragment under another's name.
for (const [key, definition] of Object.entries(FRAGMENTS)) {
  if (definition.name !== key) throw new Error(`FRAGMENTS.${key} is the definition of "${definition.name}"`);
}
