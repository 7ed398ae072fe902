import { Injectable, NotFoundException } from '@nestjs/common';
import { FragmentResolver, type FragmentTarget } from '@worker-pattern/fragment';
import { PAGES, type PageDefinition } from './page-definition';

/** The pages the gateway serves, and a page's fragments as targets for one viewer. */
@Injectable()
export class PageCatalog {
  private readonly pages = new Map<string, PageDefinition>(PAGES.map((p) => [p.name, p]));

  constructor(private readonly resolver: FragmentResolver) {}

  /** The page, or a 404 naming the unknown one. */
  get(name: string): PageDefinition {
    const page = this.pages.get(name);
    if (!page) throw new NotFoundException(`unknown page "${name.slice(0, 64)}"`);
    return page;
  }

  /** Every fragment of the page with its default params, for the authenticated viewer. */
  targets(page: PageDefinition, viewerId: number): FragmentTarget[] {
    return page.fragments.map((f) => this.resolver.target(f, {}, { viewerId }));
  }
}
