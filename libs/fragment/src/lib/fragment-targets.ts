import { Inject, Injectable } from '@nestjs/common';
import type { FragmentDefinition, FragmentRequestContext, RawFragmentParams } from './fragment-definition';
import type { FragmentModuleOptions } from './fragment-options';
import { createFragmentTarget, type FragmentTarget } from './fragment-target';
import { FRAGMENT_OPTIONS } from './fragment.tokens';

/** Makes targets (validated params and key) under this deployment's key prefix. */
@Injectable()
export class FragmentTargets {
  constructor(@Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions) {}

  /** Throws `FragmentParamsError` naming the param when raw params do not validate. */
  of<P extends Record<string, unknown>>(
    definition: FragmentDefinition<P>,
    raw: RawFragmentParams,
    ctx: FragmentRequestContext,
  ): FragmentTarget<P> {
    return createFragmentTarget(definition, raw, ctx, this.options.keyPrefix);
  }
}
