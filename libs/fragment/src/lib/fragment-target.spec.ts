import { FragmentParamsError } from './fragment-errors';
import { createFragmentTarget } from './fragment-target';
import { testFeedFragment, testProfileFragment } from './testing/test-fragments';

const ctx = { viewerId: 42 };

function paramsError(fn: () => unknown): FragmentParamsError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FragmentParamsError) return error;
    throw error;
  }
  throw new Error('expected a FragmentParamsError');
}

describe('createFragmentTarget', () => {
  it('defaults the profile to the viewer and canonicalises ids', () => {
    expect(createFragmentTarget(testProfileFragment, {}, ctx, 'p:').params).toEqual({ userId: 42 });
    const fromString = createFragmentTarget(testProfileFragment, { userId: '7' }, ctx, 'p:');
    const fromNumber = createFragmentTarget(testProfileFragment, { userId: 7 }, { viewerId: 1 }, 'p:');
    expect(fromString.key).toBe(fromNumber.key);
    expect(fromString.viewerId).toBeNull();
  });

  it.each(['007', '-1', '0', '1e3', ' 5', '5 ', 'abc', '2147483648', '99999999999999999999', '1.5', ''])(
    'rejects userId=%j naming the param',
    (userId) => {
      const error = paramsError(() => createFragmentTarget(testProfileFragment, { userId }, ctx, 'p:'));
      expect(error.param).toBe('userId');
      expect(error.message).toContain('userId');
    },
  );

  it('rejects an array of ids (a repeated query param)', () => {
    expect(paramsError(() => createFragmentTarget(testProfileFragment, { userId: ['1', '2'] }, ctx, 'p:')).param).toBe(
      'userId',
    );
  });

  it('rejects unknown params, so nothing unvalidated reaches a key', () => {
    const error = paramsError(() => createFragmentTarget(testFeedFragment, { viewerId: '7' }, ctx, 'p:'));
    expect(error.param).toBe('viewerId');
    expect(error.reason).toBe('unknown parameter');
  });

  it('treats __proto__ as an ordinary, unknown param', () => {
    const raw = JSON.parse('{"__proto__": {"userId": 1}}') as Record<string, unknown>;
    expect(paramsError(() => createFragmentTarget(testFeedFragment, raw, ctx, 'p:')).param).toBe('__proto__');
  });

  it('scopes a viewer fragment to the authenticated viewer only', () => {
    const a = createFragmentTarget(testFeedFragment, {}, { viewerId: 1 }, 'p:');
    const b = createFragmentTarget(testFeedFragment, {}, { viewerId: 2 }, 'p:');
    expect(a.key).not.toBe(b.key);
    expect(a.viewerId).toBe(1);
  });

  it('keeps hostile param names short and printable in messages', () => {
    const error = paramsError(() => createFragmentTarget(testFeedFragment, { ['x\n'.repeat(100)]: '1' }, ctx, 'p:'));
    expect(error.message).not.toContain('\n');
    expect(error.param.length).toBeLessThanOrEqual(64);
  });
});
