import type { z } from 'zod';
import type { FragmentDefinition, FragmentRequestContext, RawFragmentParams } from './fragment-definition';
import { FragmentParamsError } from './fragment-errors';
import { fragmentLocation } from './fragment-key';

/** One fragment copy to resolve or build: validated params and the key derived from them. */
export interface FragmentTarget<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly definition: FragmentDefinition<P>;
  readonly params: P;
  /** Set for viewer-scoped fragments only. */
  readonly viewerId: number | null;
  readonly id: string;
  readonly key: string;
}

/**
 * Validates raw params against the definition and derives the key. The viewer comes from the
 * authenticated context only; raw params are layered over the definition's viewer-derived defaults
 * and must pass the strict schema, so an extra `viewerId=…` in a query string is an error.
 */
export function createFragmentTarget<P extends Record<string, unknown>>(
  definition: FragmentDefinition<P>,
  raw: RawFragmentParams,
  ctx: FragmentRequestContext,
  keyPrefix: string,
): FragmentTarget<P> {
  const input: Record<string, unknown> = { ...definition.defaults?.(ctx) };
  for (const name of Object.keys(raw)) {
    // Define, never assign: a `__proto__` param must stay an ordinary (and rejected) key.
    Object.defineProperty(input, name, { value: raw[name], enumerable: true, writable: true, configurable: true });
  }
  const parsed = definition.params.safeParse(input);
  if (!parsed.success) throw toParamsError(definition.name, parsed.error);
  const viewerId = definition.scope === 'viewer' ? ctx.viewerId : null;
  const { id, key } = fragmentLocation(keyPrefix, definition, viewerId, parsed.data);
  return { definition, params: parsed.data, viewerId, id, key };
}

function toParamsError(fragment: string, error: z.ZodError): FragmentParamsError {
  const issue = error.issues[0];
  if (!issue) return new FragmentParamsError(fragment, '', 'invalid');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    return new FragmentParamsError(fragment, printable(key), 'unknown parameter');
  }
  const param = issue.path.map(String).join('.');
  return new FragmentParamsError(fragment, printable(param), issue.message);
}

/** Error messages echo the param name; keep hostile names short and single-line. */
function printable(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean;
}
