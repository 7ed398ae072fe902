import { Injectable, NotFoundException, Optional } from '@nestjs/common';
import { FragmentNearCache, FragmentResolver, type FragmentState, type FragmentTarget } from '@worker-pattern/fragment';
import { PageFrame } from './fragment-http';
import { PAGES, type PageDefinition } from './page-definition';

/** Viewers whose page targets are remembered; past it the memo starts over (a bound, not an LRU). */
const TARGETS_MEMO_LIMIT = 10_000;

/** The pages the gateway serves, and a page's fragments as targets for one viewer. */
@Injectable()
export class PageCatalog {
  private readonly pages = new Map<string, PageDefinition>(PAGES.map((p) => [p.name, p]));
  private readonly frames = new Map<PageDefinition, PageFrame>(
    PAGES.map((p) => [
      p,
      new PageFrame(
        p.name,
        p.fragments.map((f) => f.name),
      ),
    ]),
  );
  /**
   * A page's targets depend on the page and the viewer only (default params, no request input):
   * validated and keyed once per viewer, not per request. Targets are never mutated.
   */
  private readonly memo = new Map<string, FragmentTarget[]>();

  constructor(
    private readonly resolver: FragmentResolver,
    @Optional() private readonly nearCache?: FragmentNearCache,
  ) {}

  /** The page, or a 404 naming the unknown one. */
  get(name: string): PageDefinition {
    const page = this.pages.get(name);
    if (!page) throw new NotFoundException(`unknown page "${name.slice(0, 64)}"`);
    return page;
  }

  /** The page's JSON body of `states` (its fragments in order); a page of kept copies is kept with them. */
  body(page: PageDefinition, states: readonly FragmentState[]): Buffer {
    const frame = this.frames.get(page);
    if (!frame) throw new Error(`page "${page.name}" is not in the catalog`);
    return frame.body(states, this.nearCache);
  }

  /** Every fragment of the page with its default params, for the authenticated viewer. */
  targets(page: PageDefinition, viewerId: number): readonly FragmentTarget[] {
    const memoKey = `${page.name}:${viewerId}`;
    let targets = this.memo.get(memoKey);
    if (!targets) {
      targets = page.fragments.map((f) => this.resolver.target(f, {}, { viewerId }));
      if (this.memo.size >= TARGETS_MEMO_LIMIT) this.memo.clear();
      this.memo.set(memoKey, targets);
    }
    return targets;
  }
}
