import { feedData } from '@worker-pattern/feed';
import { FRAGMENT_LIST, FRAGMENT_NAMES, FRAGMENTS, isFragmentName, registeredFragment } from './fragments';

describe('FRAGMENTS', () => {
  it('lists each served fragment under its own name, in the dashboard’s order', () => {
    expect(FRAGMENT_NAMES).toEqual(['profile', 'feed', 'recommendations']);
    for (const name of FRAGMENT_NAMES) expect(FRAGMENTS[name].name).toBe(name);
    expect(FRAGMENT_LIST.map((f) => f.name)).toEqual(FRAGMENT_NAMES);
  });

  it('carries each fragment’s data schema and title', () => {
    expect(registeredFragment('feed').data).toBe(feedData);
    for (const f of FRAGMENT_LIST) expect(f.title).toMatch(/\S/);
  });

  it('tells a registered name from an unknown one', () => {
    expect(isFragmentName('feed')).toBe(true);
    expect(isFragmentName('no-such-fragment')).toBe(false);
    expect(isFragmentName('toString')).toBe(false);
  });
});
