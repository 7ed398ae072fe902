import { followerPageParams, toFollowerPage } from './follower-pages';

describe('follower pages (keyset pagination)', () => {
  const rows = (...ids: number[]) => ids.map((id) => ({ id }));

  it('asks for one row more than a page, after the cursor', () => {
    expect(followerPageParams(7, 0, 1000)).toEqual([7, 0, 1001]);
    expect(followerPageParams(7, 4242, 3)).toEqual([7, 4242, 4]);
  });

  it('a full page with more behind it: the next cursor is its last id, the extra row is left for the next page', () => {
    expect(toFollowerPage(rows(3, 5, 9, 12), 3)).toEqual({ ids: [3, 5, 9], next: 9 });
  });

  it('a page exactly full with nothing behind it is the last one (no empty page after it)', () => {
    expect(toFollowerPage(rows(3, 5, 9), 3)).toEqual({ ids: [3, 5, 9], next: null });
  });

  it('a short or empty page is the last one', () => {
    expect(toFollowerPage(rows(3), 3)).toEqual({ ids: [3], next: null });
    expect(toFollowerPage([], 3)).toEqual({ ids: [], next: null });
  });

  it('walking the pages visits every follower once, in order, whatever the page size', () => {
    const followers = Array.from({ length: 2_345 }, (_, i) => 10 + i * 3);
    for (const size of [1, 7, 1000, 2_345, 5_000]) {
      const seen: number[] = [];
      let cursor: number | null = 0;
      let pages = 0;
      while (cursor !== null) {
        const [, after, limit] = followerPageParams(1, cursor, size);
        const page = toFollowerPage(rows(...followers.filter((id) => id > after).slice(0, limit)), size);
        seen.push(...page.ids);
        cursor = page.next;
        pages += 1;
      }
      expect(seen).toEqual(followers);
      expect(pages).toBe(Math.ceil(followers.length / size));
    }
  });

  it('refuses a cursor or page size that would skip or repeat followers', () => {
    expect(() => followerPageParams(1, -1, 10)).toThrow(/cursor/);
    expect(() => followerPageParams(1, 1.5, 10)).toThrow(/cursor/);
    expect(() => followerPageParams(1, 0, 0)).toThrow(/page size/);
  });
});
