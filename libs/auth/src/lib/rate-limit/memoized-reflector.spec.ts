import { SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { MemoizedReflector } from './memoized-reflector';

@SetMetadata('scope', 'class')
class Routes {
  @SetMetadata('scope', 'route')
  own(): string {
    return 'own';
  }
  inherits(): string {
    return 'inherits';
  }
}

describe('MemoizedReflector', () => {
  const targets = (handler: keyof Routes) => [Routes.prototype[handler], Routes];

  it('answers as Reflector does: the route over its class, absent keys too', () => {
    const plain = new Reflector();
    const memo = new MemoizedReflector();
    for (const handler of ['own', 'inherits', 'own'] as const) {
      for (const key of ['scope', 'absent']) {
        expect(memo.getAllAndOverride(key, targets(handler))).toBe(plain.getAllAndOverride(key, targets(handler)));
        expect(memo.get(key, Routes.prototype[handler])).toBe(plain.get(key, Routes.prototype[handler]));
      }
    }
    expect(memo.getAllAndOverride('scope', targets('own'))).toBe('route');
    expect(memo.getAllAndOverride('scope', targets('inherits'))).toBe('class');
  });

  it('reads each entry of the metadata once, however often it is asked', () => {
    const memo = new MemoizedReflector();
    const read = jest.spyOn(Reflect, 'getMetadata');
    try {
      for (let i = 0; i < 10; i++) {
        memo.getAllAndOverride('scope', targets('inherits'));
        memo.getAllAndOverride('absent', targets('inherits'));
      }
      // Each key: the route, then its class (the route has neither); then nothing more.
      expect(read).toHaveBeenCalledTimes(4);
    } finally {
      read.mockRestore();
    }
  });
});
