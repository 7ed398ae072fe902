import { z } from 'zod';

/**
 * A fragment definition is the contract shared by the gateway (which resolves and enqueues) and the
 * worker (which builds). It carries no domain code: builders live in the domain libs.
 */

/** `public`: one copy for everyone (a user's public profile); `viewer`: one copy per viewer (a feed). */
export type FragmentScope = 'public' | 'viewer';

/** What the gateway knows about the request when it turns raw query params into canonical params. */
export interface FragmentRequestContext {
  /** The authenticated viewer (the JWT's `sub`), never a value taken from the query string. */
  readonly viewerId: number;
}

/** Raw params as they arrive from a query string or a job payload. */
export type RawFragmentParams = Readonly<Record<string, unknown>>;

export interface FragmentSpec<P extends Record<string, unknown>> {
  /** Lower-case name used in URLs, keys, metrics and queue job names: `^[a-z][a-z0-9-]{0,39}$`. */
  readonly name: string;
  /** The Bull queue whose workers build this fragment. */
  readonly queue: string;
  readonly scope: FragmentScope;
  /** Schema version; part of the key, so a new shape never reads an old cached copy. */
  readonly version: number;
  /**
   * Validates and canonicalises raw params (strings from a query string, or values from a job).
   * Must be a strict object schema: an unknown param is an error, never silently part of a key.
   */
  readonly params: z.ZodType<P>;
  /**
   * What the worker builds, as the zod schema the contract states it with. Optional here (engine
   * tests define bare fragments); the registry of served fragments (libs/registry) requires it, and
   * the OpenAPI document is generated from it.
   */
  readonly data?: z.ZodType;
  /** The heading a page shows above the fragment (the demo page); required by the registry too. */
  readonly title?: string;
  /**
   * For a public fragment about one user (a profile): that user's id. The copy then lives in the
   * user's Redis Cluster slot, beside the user's own fragments, so their page resolves in one call.
   */
  // Method syntax on purpose: a definition of specific params still counts as a FragmentDefinition.
  locality?(params: P): number;
  /** Raw defaults derived from the viewer, applied under the request's own params (profile: `userId`). */
  readonly defaults?: (ctx: FragmentRequestContext) => Record<string, string>;
  /** How long a built copy is fresh. */
  readonly ttlMs: number;
  /** How long past its ttl a copy is still served (as `stale`) while a rebuild runs. */
  readonly staleMs?: number;
  /** How long a pending marker (lease) lives before another request may enqueue again. */
  readonly leaseMs?: number;
  /** A build running longer than this is aborted and counts as a failed attempt. */
  readonly buildTimeoutMs?: number;
  /** Total build attempts (first try included) before the fragment is marked `failed`. */
  readonly attempts?: number;
  /** Base delay of the exponential backoff between attempts. */
  readonly backoffMs?: number;
  /**
   * How long a failure is served as `failed` before a request may try again; it doubles with each
   * consecutive failure of the copy, up to `failedTtlCapMs`, so a failing database is not stormed.
   */
  readonly failedTtlMs?: number;
  readonly failedTtlCapMs?: number;
}

/**
 * A copy read (or watched by an open stream) within this window is rebuilt right after a write; the
 * rest are rebuilt when next asked for.
 */
export const ACTIVE_READ_WINDOW_MS = 10 * 60_000;

export type FragmentDefinition<P extends Record<string, unknown> = Record<string, unknown>> = Required<
  Omit<FragmentSpec<P>, 'defaults' | 'locality' | 'data' | 'title'>
> &
  Pick<FragmentSpec<P>, 'defaults' | 'locality' | 'data' | 'title'>;

/**
 * What a served fragment's definition states beyond the engine's needs (libs/registry requires it):
 * the schema of the data its builder returns (`D`, so a builder can be typed by its fragment) and a title.
 */
export interface FragmentContract<D = unknown> {
  readonly data: z.ZodType<D>;
  readonly title: string;
}

/** The params type of a definition. */
export type FragmentParamsOf<F> = F extends FragmentDefinition<infer P> ? P : never;

/** The data type of a definition: its data schema's output (`unknown` without a schema, or an untyped one). */
export type FragmentDataOf<F> = F extends { readonly data: z.ZodType } ? z.output<F['data']> : unknown;

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

const specSchema = z.object({
  name: z.string().regex(NAME, 'must match ^[a-z][a-z0-9-]{0,39}$'),
  queue: z.string().regex(NAME, 'must match ^[a-z][a-z0-9-]{0,39}$'),
  scope: z.enum(['public', 'viewer']),
  version: z.number().int().positive(),
  ttlMs: z.number().int().positive(),
  staleMs: z.number().int().nonnegative(),
  leaseMs: z.number().int().positive(),
  buildTimeoutMs: z.number().int().positive(),
  attempts: z.number().int().min(1).max(20),
  backoffMs: z.number().int().nonnegative(),
  failedTtlMs: z.number().int().positive(),
  failedTtlCapMs: z.number().int().positive(),
});

/**
 * Fills the defaults and checks the numbers once, at import time, so a bad definition fails at
 * start-up rather than on the first request. The lease must outlive a build plus its retries, or a
 * slow build would let a second request enqueue a duplicate.
 */
export function defineFragment<P extends Record<string, unknown>, D = unknown>(
  spec: FragmentSpec<P> & FragmentContract<D>,
): FragmentDefinition<P> & FragmentContract<D>;
export function defineFragment<P extends Record<string, unknown>>(spec: FragmentSpec<P>): FragmentDefinition<P>;
export function defineFragment<P extends Record<string, unknown>>(spec: FragmentSpec<P>): FragmentDefinition<P> {
  const buildTimeoutMs = spec.buildTimeoutMs ?? 10_000;
  const definition: FragmentDefinition<P> = {
    staleMs: spec.ttlMs * 10,
    leaseMs: Math.max(30_000, buildTimeoutMs * 3),
    buildTimeoutMs,
    // 1 + 2 + 4 + 8 s of backoff: a build outlives a database restart rather than failing it.
    attempts: 5,
    backoffMs: 1000,
    failedTtlMs: 5_000,
    ...spec,
    failedTtlCapMs: spec.failedTtlCapMs ?? Math.max(60_000, spec.failedTtlMs ?? 5_000),
  };
  const checked = specSchema.safeParse(definition);
  if (!checked.success) {
    throw new Error(`Invalid fragment definition "${spec.name}": ${z.prettifyError(checked.error)}`);
  }
  if (definition.failedTtlCapMs < definition.failedTtlMs) {
    throw new Error(`Invalid fragment definition "${spec.name}": failedTtlCapMs must be at least failedTtlMs`);
  }
  if (definition.leaseMs <= definition.buildTimeoutMs) {
    throw new Error(`Invalid fragment definition "${spec.name}": leaseMs must exceed buildTimeoutMs`);
  }
  return Object.freeze(definition);
}
