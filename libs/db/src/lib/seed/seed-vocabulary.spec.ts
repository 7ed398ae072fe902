import { SEED_VOCABULARY } from './seed-vocabulary';

describe('SEED_VOCABULARY', () => {
  it('only has names that make valid handles once lower-cased', () => {
    for (const name of [...SEED_VOCABULARY.firstNames, ...SEED_VOCABULARY.lastNames]) {
      expect(name.toLowerCase()).toMatch(/^[a-z]+$/);
    }
  });

  it('has no empty or duplicate words in any list', () => {
    for (const [list, words] of Object.entries(SEED_VOCABULARY)) {
      expect([list, words.every((word) => word.trim().length > 0)]).toEqual([list, true]);
      expect([list, new Set(words).size]).toEqual([list, words.length]);
    }
  });
});
