import { PAGES_OPENAPI_SCHEMAS } from './fragment.openapi';

type Schema = {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  $ref?: string;
  enum?: string[];
  const?: unknown;
};

/** Every property path a schema describes, following `$ref`s to other components. */
function fields(schema: Schema, prefix = ''): string[] {
  if (schema.$ref) return fields(PAGES_OPENAPI_SCHEMAS[schema.$ref.split('/').pop()!] as Schema, prefix);
  const parts = [...(schema.allOf ?? []), ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])];
  const own = Object.entries(schema.properties ?? {}).flatMap(([name, value]) => [
    `${prefix}${name}`,
    ...fields(value, `${prefix}${name}.`),
  ]);
  const nested = schema.items ? fields(schema.items, `${prefix}[].`) : [];
  return [...new Set([...own, ...nested, ...parts.flatMap((part) => fields(part, prefix))])].sort();
}

describe('the read API’s OpenAPI schemas, generated from the zod schemas', () => {
  const schema = (name: string) => PAGES_OPENAPI_SCHEMAS[name] as Schema;

  it('names F, each fragment’s data and F with it, the dashboard page and the stream’s event', () => {
    expect(Object.keys(PAGES_OPENAPI_SCHEMAS).sort()).toEqual(
      [
        'DashboardPage',
        'FeedData',
        'FeedFragment',
        'Fragment',
        'FragmentEvent',
        'ProfileData',
        'ProfileFragment',
        'RecommendationsData',
        'RecommendationsFragment',
      ].sort(),
    );
    expect(JSON.stringify(PAGES_OPENAPI_SCHEMAS)).not.toContain('"$id"');
  });

  it('describes F as the gateway writes it', () => {
    expect(schema('Fragment')).toMatchObject({
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ready', 'stale', 'pending', 'failed'] } },
    });
    expect(fields(schema('Fragment'))).toEqual(['builtAt', 'data', 'error', 'errorCode', 'retryAfterMs', 'status']);
    expect(fields(schema('FragmentEvent'))).toContain('name');
  });

  it('describes each fragment’s data field by field, referenced from its F and from the page', () => {
    expect(fields(schema('ProfileData'))).toEqual([
      'counts',
      'counts.followers',
      'counts.following',
      'counts.likes',
      'counts.posts',
      'user',
      'user.bio',
      'user.displayName',
      'user.handle',
      'user.id',
      'user.joinedAt',
    ]);
    expect(fields(schema('FeedData'))).toEqual([
      'posts',
      'posts.[].author',
      'posts.[].author.displayName',
      'posts.[].author.handle',
      'posts.[].author.id',
      'posts.[].body',
      'posts.[].createdAt',
      'posts.[].id',
    ]);
    expect(fields(schema('RecommendationsData'))).toEqual([
      'items',
      'items.[].category',
      'items.[].id',
      'items.[].reason',
      'items.[].reason.kind',
      'items.[].reason.likes',
      'items.[].reason.similarUsers',
      'items.[].score',
      'items.[].title',
    ]);
    expect(JSON.stringify(schema('ProfileFragment'))).toContain('"$ref":"#/components/schemas/ProfileData"');
    expect(fields(schema('DashboardPage'))).toEqual(
      expect.arrayContaining(['page', 'fragments.profile.data.user.id', 'fragments.feed.data.posts.[].body']),
    );
  });
});
