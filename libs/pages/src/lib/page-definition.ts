import type { FragmentDefinition } from '@worker-pattern/fragment';
import { feedFragment } from '@worker-pattern/feed';
import { profileFragment } from '@worker-pattern/profile';
import { recommendationsFragment } from '@worker-pattern/recommendations';

/** A page is a named set of fragments, each resolved for the viewer with its default params. */
export interface PageDefinition {
  readonly name: string;
  readonly fragments: readonly FragmentDefinition[];
}

export const dashboardPage: PageDefinition = {
  name: 'dashboard',
  fragments: [profileFragment, feedFragment, recommendationsFragment] as readonly FragmentDefinition[],
};

export const PAGES: readonly PageDefinition[] = [dashboardPage];

/** Every fragment the gateway serves, each once. */
export const FRAGMENT_CATALOG_DEFINITIONS: readonly FragmentDefinition[] = [
  ...new Map(PAGES.flatMap((p) => p.fragments).map((f) => [f.name, f])).values(),
];
