import type { Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

type Target = Type<unknown> | Function; // eslint-disable-line @typescript-eslint/no-unsafe-function-type

/**
 * A `Reflector` that remembers what it read. Route and controller metadata is set by decorators
 * when the classes are defined and never changes after; the rate-limit guard (with
 * `@nestjs/throttler`'s base class) reads about twenty entries of it on every request, each a walk
 * of `reflect-metadata`'s maps.
 */
export class MemoizedReflector extends Reflector {
  // Reflector's getAllAndOverride, getAll and getAllAndMerge read through `get`: remembered here.
  private readonly own = new WeakMap<Target, Map<unknown, unknown>>();

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override get(metadataKey: any, target: Target): any {
    let values = this.own.get(target);
    if (!values) this.own.set(target, (values = new Map()));
    if (!values.has(metadataKey)) values.set(metadataKey, super.get(metadataKey, target));
    return values.get(metadataKey);
  }
}
