import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { dashboardPage, FRAGMENT_CATALOG_DEFINITIONS } from './page-definition';
import { MAX_WAIT_MS } from './request-query';

/**
 * OpenAPI schemas of the read API: the contract's `F`, each fragment's data, the dashboard page and
 * the stream's events. Generated from zod schemas (zod's JSON Schema output, OpenAPI 3.0 dialect):
 * each fragment's data from the schema its definition carries (libs/registry), so the document cannot drift
 * from the types the builders return. Named components, referenced by the controllers' decorators;
 * the app that serves docs adds `PAGES_OPENAPI_SCHEMAS` to its document.
 */
const SCHEMAS_URI = '#/components/schemas/';

/** F: the fields `renderFragmentJson` (libs/fragment/src/lib/fragment-state.ts) writes. */
const fragment = z
  .object({
    status: z.enum(['ready', 'stale', 'pending', 'failed']),
    data: z
      .unknown()
      .optional()
      .describe('The fragment’s data, exactly as its worker built it (present when ready or stale)'),
    builtAt: z.iso.datetime().optional(),
    retryAfterMs: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('For pending and failed: when asking again is worthwhile'),
    error: z.string().optional().meta({ example: 'user 999999 not found' }),
    errorCode: z
      .string()
      .optional()
      .meta({ example: 'not_found', description: '`not_found`, `build_failed`, `timeout`, …' }),
  })
  .describe(
    'F: one fragment as a client sees it. `ready`: fresh data; `stale`: data past its ttl, a rebuild is under way; `pending`: no data yet, a build is queued or running (ask again after `retryAfterMs`); `failed`: the last build failed (`errorCode` says why), remembered briefly, then retried.',
  );

const pascal = (name: string) => name.replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase());

/** The named components, related as the document shows them (`$ref`s between them). */
function openApiRegistry() {
  const registry = z.registry<{ id: string }>();
  registry.add(fragment, { id: 'Fragment' });
  const fragmentOf = new Map<string, z.ZodType>();
  // Each served fragment's data schema comes with its definition (the registry requires it).
  for (const { name, data } of FRAGMENT_CATALOG_DEFINITIONS) {
    registry.add(data, { id: `${pascal(name)}Data` });
    const withData = fragment.extend({ data: data.optional() }).describe(`F whose \`data\` is a ${name} fragment’s`);
    registry.add(withData, { id: `${pascal(name)}Fragment` });
    fragmentOf.set(name, withData);
  }
  registry.add(
    z.object({
      page: z.literal(dashboardPage.name),
      fragments: z.object(Object.fromEntries(dashboardPage.fragments.map((f) => [f.name, fragmentOf.get(f.name)!]))),
    }),
    { id: 'DashboardPage' },
  );
  registry.add(
    fragment
      .extend({ name: z.enum(FRAGMENT_CATALOG_DEFINITIONS.map((f) => f.name)) })
      .describe('The `data:` of an `event: fragment` line on the stream: F plus the fragment’s name'),
    { id: 'FragmentEvent' },
  );
  return registry;
}

function generate(): Record<string, SchemaObject> {
  const { schemas } = z.toJSONSchema(openApiRegistry(), {
    target: 'openapi-3.0',
    uri: (id) => `${SCHEMAS_URI}${id}`,
  });
  // `$id` is JSON Schema's, not OpenAPI 3.0's: the component's name already identifies it.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $id: _id, ...schema }]) => [id, schema as SchemaObject]),
  );
}

export const PAGES_OPENAPI_SCHEMAS: Record<string, SchemaObject> = generate();

export const fragmentSchemaRef = (name: string) => ({ $ref: `${SCHEMAS_URI}${name}` });

export const API_WAIT_MS_QUERY = {
  name: 'waitMs',
  required: false,
  schema: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS, default: 0 },
  description: 'Wait up to this long for pending fragments before answering',
} as const;

export const API_RETRY_AFTER_HEADER = {
  'Retry-After': { description: 'Seconds until asking again is worthwhile', schema: { type: 'integer', minimum: 1 } },
};
