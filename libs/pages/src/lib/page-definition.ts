import {
  FRAGMENT_LIST,
  type FragmentName,
  registeredFragment,
  type RegisteredFragment,
} from '@worker-pattern/registry';

/** A page is a named set of fragments, each resolved for the viewer with its default params. */
export interface PageDefinition {
  readonly name: string;
  readonly fragments: readonly RegisteredFragment[];
}

/** A page of registered fragments, named: a name the registry (libs/registry) lacks does not compile. */
export function definePage(name: string, fragments: readonly FragmentName[]): PageDefinition {
  return { name, fragments: fragments.map(registeredFragment) };
}

export const dashboardPage: PageDefinition = definePage('dashboard', ['profile', 'feed', 'recommendations']);

export const PAGES: readonly PageDefinition[] = [dashboardPage];

/** Every fragment the gateway serves, each once: the registry's (a fragment may be on no page yet). */
export const FRAGMENT_CATALOG_DEFINITIONS: readonly RegisteredFragment[] = FRAGMENT_LIST;
