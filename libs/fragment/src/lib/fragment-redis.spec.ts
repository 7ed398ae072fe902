import { isRedisConnectionError } from './fragment-redis';

describe('isRedisConnectionError', () => {
  it.each([
    'Connection is closed.',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'connect ECONNREFUSED 127.0.0.1:6379',
    'read ECONNRESET',
  ])('counts %j as Redis being unreachable', (message) => {
    expect(isRedisConnectionError(new Error(message))).toBe(true);
  });

  it('does not hide bugs', () => {
    expect(isRedisConnectionError(new TypeError("Cannot read properties of undefined (reading 'key')"))).toBe(false);
    expect(
      isRedisConnectionError(
        new Error('ERR Error running script (call to f_1): user_script:1: attempt to compare nil'),
      ),
    ).toBe(false);
    expect(isRedisConnectionError('Connection is closed.')).toBe(false);
  });
});
