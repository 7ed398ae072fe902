import type { JobOptions } from 'bull';
import { z } from 'zod';
import type { FragmentDefinition } from './fragment-definition';
import { buildJobId } from './fragment-key';
import type { FragmentTarget } from './fragment-target';

/** The payload of a build job: plain data, so the harness can be tested without Bull. */
export interface FragmentJobData {
  readonly fragment: string;
  readonly key: string;
  readonly generation: number;
  readonly viewerId: number | null;
  readonly params: Record<string, unknown>;
  /** The id of the request that caused the build, carried into the worker's log lines. */
  readonly requestId?: string;
  readonly enqueuedAt: number;
  /** Who waits: a client (`interactive`), or nobody yet (a `background` rebuild after a write). */
  readonly lane?: BuildLane;
}

export const fragmentJobSchema = z
  .object({
    fragment: z.string().min(1).max(40),
    key: z.string().min(1).max(4096),
    generation: z.number().int().positive(),
    viewerId: z.number().int().positive().nullable(),
    params: z.record(z.string(), z.unknown()),
    requestId: z.string().max(128).optional(),
    enqueuedAt: z.number().int().nonnegative(),
    lane: z.enum(['interactive', 'background']).optional(),
  })
  .strict();

export function createJobData(
  target: Pick<FragmentTarget, 'definition' | 'key' | 'viewerId' | 'params'>,
  generation: number,
  requestId?: string,
  lane: BuildLane = 'interactive',
): FragmentJobData {
  return {
    fragment: target.definition.name,
    key: target.key,
    generation,
    viewerId: target.viewerId,
    params: target.params,
    requestId,
    enqueuedAt: Date.now(),
    lane,
  };
}

/**
 * `interactive`: someone is waiting for it (a request found the fragment missing or stale).
 * `background`: a rebuild after a write, for a copy read recently; it yields to interactive builds.
 */
export type BuildLane = 'interactive' | 'background';

/** Bull priorities: lower runs first. */
const LANE_PRIORITY: Record<BuildLane, number> = { interactive: 1, background: 10 };

/**
 * Bull options of one build: retries with exponential backoff, bounded history, a per-generation
 * and per-lane id (a background rebuild promoted to interactive is a second job of the same
 * generation; whichever claims first builds, the other is superseded).
 */
export function createJobOptions(
  definition: FragmentDefinition,
  key: string,
  generation: number,
  lane: BuildLane = 'interactive',
  delayMs = 0,
): JobOptions {
  return {
    jobId: `${buildJobId(definition.name, key, generation)}.${lane === 'interactive' ? 'i' : 'b'}`,
    priority: LANE_PRIORITY[lane],
    delay: delayMs > 0 ? delayMs : undefined,
    attempts: definition.attempts,
    backoff: { type: JITTERED_BACKOFF, options: { delay: definition.backoffMs } },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 5000 },
  };
}

/** Bull's name of the retry delay strategy workers register (`jitteredBackoff`). */
export const JITTERED_BACKOFF = 'jittered-exponential';

/**
 * The delay before retry `attemptsMade + 1`: exponential (delay × 2^(n-1) … delay × 2^n), spread at
 * random over that range, so the retries of many builds that failed together (a database restart)
 * do not all come back at the same instant. Never above delay × 2^n, which `retryLeaseMs` covers.
 */
export function jitteredBackoff(attemptsMade: number, _error?: Error, options?: { delay?: number }): number {
  const base = (options?.delay ?? 1000) * 2 ** Math.max(0, attemptsMade - 1);
  return Math.round(base * (1 + Math.random()));
}

/** How long a lease must last to cover the wait before attempt `attempt + 1` and that attempt itself. */
export function retryLeaseMs(definition: FragmentDefinition, attempt: number): number {
  const backoff = definition.backoffMs * 2 ** Math.max(0, attempt - 1);
  return Math.max(definition.leaseMs, backoff + definition.buildTimeoutMs * 2);
}
