import { DEFAULT_SEED_SIZES, parseSeedOptions, resolveSeedPlan, SeedOptionsError } from './seed-options';

describe('resolveSeedPlan', () => {
  const now = new Date('2025-01-01T00:00:00Z');

  it('defaults to the demo size', () => {
    expect(resolveSeedPlan({ now })).toEqual({
      ...DEFAULT_SEED_SIZES,
      randomSeed: 1,
      now,
      celebrities: 0,
      celebrityFollowers: 0,
    });
    expect(DEFAULT_SEED_SIZES).toEqual({
      users: 10_000,
      posts: 200_000,
      follows: 100_000,
      likes: 200_000,
      items: 2_000,
    });
  });

  it('scales every default not given explicitly', () => {
    expect(resolveSeedPlan({ scale: 0.1, items: 500, now })).toMatchObject({
      users: 1_000,
      posts: 20_000,
      follows: 10_000,
      likes: 20_000,
      items: 500,
    });
    expect(resolveSeedPlan({ scale: 2.5, now })).toMatchObject({ users: 25_000, posts: 500_000, items: 5_000 });
  });

  it('accepts the tightest sizes that still meet every guarantee', () => {
    expect(resolveSeedPlan({ users: 6, posts: 6, follows: 30, likes: 30, items: 7 })).toMatchObject({
      users: 6,
      follows: 30,
    });
  });

  it.each([
    [{ users: 0 }, /users must be a positive integer/],
    [{ posts: 1.5 }, /posts must be a positive integer/],
    [{ scale: 0 }, /scale must be a positive number/],
    [{ scale: Number.NaN }, /scale must be a positive number/],
    [{ randomSeed: -1 }, /randomSeed must be an integer/],
    [{ now: new Date('nope') }, /now must be a valid date/],
    [{ users: 5, follows: 25, likes: 25 }, /users must be at least 6/],
    [{ users: 100, posts: 99 }, /posts \(99\) must be at least users \(100\)/],
    [{ users: 100, follows: 499 }, /follows \(499\) must be at least 5 × users = 500/],
    [
      { users: 6, follows: 31, posts: 6, likes: 30, items: 7 },
      /follows \(31\) must be at most users × \(users − 1\) = 30/,
    ],
    [{ users: 100, likes: 499 }, /likes \(499\) must be at least 5 × users = 500/],
    [{ users: 100, follows: 500, likes: 600, items: 7 }, /likes \(600\) must be at most users × \(items − 2\) = 500/],
    [{ items: 6 }, /items must be at least 7/],
    [
      { users: 3_000_000_000, posts: 3_000_000_000, follows: 15_000_000_000, likes: 15_000_000_000 },
      /users must be at most 2147483647/,
    ],
  ])('rejects %p', (options, message) => {
    expect(() => resolveSeedPlan(options)).toThrow(SeedOptionsError);
    expect(() => resolveSeedPlan(options)).toThrow(message);
  });

  it('adds big accounts only when asked: K of the users, each with N fans', () => {
    expect(resolveSeedPlan({ celebrities: 2, celebrityFollowers: 1_000_000 })).toMatchObject({
      users: 10_000,
      celebrities: 2,
      celebrityFollowers: 1_000_000,
    });
  });

  it.each([
    [{ celebrities: 2 }, /celebrityFollowers must be a positive integer, got 0/],
    [{ celebrities: 20_000, celebrityFollowers: 10 }, /celebrities \(20000\) must be at most users \(10000\)/],
    [{ celebrities: 11, celebrityFollowers: 1_000_000 }, /must be at most 10000000/],
  ])('rejects big accounts %p', (options, message) => {
    expect(() => resolveSeedPlan(options)).toThrow(message);
  });

  it('lists every problem at once', () => {
    try {
      resolveSeedPlan({ users: 100, posts: 10, follows: 10, likes: 10 });
      throw new Error('expected a SeedOptionsError');
    } catch (error) {
      expect(error).toBeInstanceOf(SeedOptionsError);
      expect((error as SeedOptionsError).problems).toHaveLength(3);
    }
  });
});

describe('parseSeedOptions', () => {
  it('parses counts and scale from strings', () => {
    expect(parseSeedOptions({ users: '1000', posts: '20000', follows: '10000', likes: '20000', items: '200' })).toEqual(
      {
        users: 1_000,
        posts: 20_000,
        follows: 10_000,
        likes: 20_000,
        items: 200,
      },
    );
    expect(parseSeedOptions({ scale: '0.5', 'random-seed': '7' })).toEqual({ scale: 0.5, randomSeed: 7 });
    expect(parseSeedOptions({ scale: '.5' })).toEqual({ scale: 0.5 });
    expect(parseSeedOptions({})).toEqual({});
    expect(parseSeedOptions({ celebrities: '1', 'celebrity-followers': '1000000' })).toEqual({
      celebrities: 1,
      celebrityFollowers: 1_000_000,
    });
  });

  it('wants celebrities and their follower count together', () => {
    expect(() => parseSeedOptions({ celebrities: '1' })).toThrow(/give both or neither/);
    expect(() => parseSeedOptions({ 'celebrity-followers': '5' })).toThrow(/give both or neither/);
    expect(() => parseSeedOptions({ celebrities: '1', 'celebrity-followers': 'many' })).toThrow(
      /celebrity-followers: must be a positive integer/,
    );
  });

  it.each([
    [{ users: 'ten' }, /users: must be a positive integer \(got "ten"\)/],
    [{ users: '1e3' }, /users: must be a positive integer/],
    [{ users: '-5' }, /users: must be a positive integer/],
    [{ users: '007' }, /users: must be a positive integer/],
    [{ posts: '' }, /posts: must be a positive integer/],
    [{ scale: '0' }, /scale: must be a positive number/],
    [{ scale: 'abc' }, /scale: must be a positive number/],
    [{ users: '99999999999999999999' }, /users: is too large/],
    [
      { users: '10', follows: '91', posts: '10', likes: '50', items: '10' },
      /follows \(91\) must be at most users × \(users − 1\) = 90/,
    ],
  ])('rejects %p with a message naming the option', (raw, message) => {
    expect(() => parseSeedOptions(raw)).toThrow(message);
  });

  it('rejects unknown options', () => {
    expect(() => parseSeedOptions({ userz: '5' } as never)).toThrow(/unknown option\(s\): userz/);
  });
});
