import { Injectable } from '@nestjs/common';
import { DbReader } from '@worker-pattern/db';
import type { FragmentBuildContext } from '@worker-pattern/fragment';
import { type ProfileData, type ProfileParams } from '@worker-pattern/profile';
import { ProfileBuilder } from '@worker-pattern/profile/builder';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long each build waits before the real one runs: `SLOW_BUILD_MS`, 200 ms by default. */
export function slowBuildMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['SLOW_BUILD_MS'] ?? '200';
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) {
    throw new Error(`SLOW_BUILD_MS must be an integer from 0 to 60000, not "${raw}"`);
  }
  return ms;
}

/**
 * The real ProfileBuilder behind a wait (scenario 13): a build that takes `SLOW_BUILD_MS` longer,
 * so under a write storm every build is overtaken by newer writes while it runs. The wait honours
 * the build's abort signal like any I/O would.
 */
@Injectable()
export class SlowProfileBuilder extends ProfileBuilder {
  private readonly ms = slowBuildMs();

  constructor(db: DbReader) {
    super(db);
  }

  override async build(params: ProfileParams, ctx: FragmentBuildContext): Promise<ProfileData> {
    await sleep(this.ms, undefined, { signal: ctx.signal });
    return super.build(params, ctx);
  }
}
