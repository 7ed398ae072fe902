import type { SchemaObject } from '@nestjs/swagger';
import { MAX_WAIT_MS } from './request-query';

/**
 * OpenAPI schemas of the read API: the contract's `F`, each fragment's data, the dashboard page
 * and the stream's events. Named components, referenced by the controllers' decorators; the app
 * that serves docs adds `PAGES_OPENAPI_SCHEMAS` to its document.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** `F` whose `data` has the given fragment's shape. */
const fragmentOf = (data: string): SchemaObject => ({
  allOf: [ref('Fragment'), { type: 'object', properties: { data: ref(data) } }],
});

const user = (extra: Record<string, SchemaObject> = {}): SchemaObject => ({
  type: 'object',
  required: ['id', 'handle', 'displayName'],
  properties: {
    id: { type: 'integer', minimum: 1 },
    handle: { type: 'string' },
    displayName: { type: 'string' },
    ...extra,
  },
});

export const PAGES_OPENAPI_SCHEMAS: Record<string, SchemaObject> = {
  Fragment: {
    type: 'object',
    description:
      'F: one fragment as a client sees it. `ready`: fresh data; `stale`: data past its ttl, a rebuild is under way; `pending`: no data yet, a build is queued or running (ask again after `retryAfterMs`); `failed`: the last build failed (`errorCode` says why), remembered briefly, then retried.',
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ready', 'stale', 'pending', 'failed'] },
      data: { description: 'The fragment’s data, exactly as its worker built it (present when ready or stale)' },
      builtAt: { type: 'string', format: 'date-time' },
      retryAfterMs: {
        type: 'integer',
        minimum: 0,
        description: 'For pending and failed: when asking again is worthwhile',
      },
      error: { type: 'string', example: 'user 999999 not found' },
      errorCode: { type: 'string', example: 'not_found', description: '`not_found`, `build_failed`, `timeout`, …' },
    },
  },
  ProfileData: {
    type: 'object',
    required: ['user', 'counts'],
    properties: {
      user: user({ bio: { type: 'string' }, joinedAt: { type: 'string', format: 'date-time' } }),
      counts: {
        type: 'object',
        properties: {
          followers: { type: 'integer' },
          following: { type: 'integer' },
          posts: { type: 'integer' },
          likes: { type: 'integer' },
        },
      },
    },
  },
  FeedData: {
    type: 'object',
    required: ['posts'],
    properties: {
      posts: {
        type: 'array',
        description: 'Newest first: the latest posts of the people the viewer follows',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string', description: 'A bigint id, as a string' },
            body: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
            author: user(),
          },
        },
      },
    },
  },
  RecommendationsData: {
    type: 'object',
    required: ['items'],
    properties: {
      items: {
        type: 'array',
        description: 'Best first; never an item the viewer already likes',
        items: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            title: { type: 'string' },
            category: { type: 'string' },
            score: { type: 'number' },
            reason: {
              type: 'object',
              properties: {
                kind: { type: 'string', enum: ['similar-users', 'popular'] },
                similarUsers: { type: 'integer' },
                likes: { type: 'integer' },
              },
            },
          },
        },
      },
    },
  },
  ProfileFragment: fragmentOf('ProfileData'),
  FeedFragment: fragmentOf('FeedData'),
  RecommendationsFragment: fragmentOf('RecommendationsData'),
  DashboardPage: {
    type: 'object',
    required: ['page', 'fragments'],
    properties: {
      page: { type: 'string', enum: ['dashboard'] },
      fragments: {
        type: 'object',
        required: ['profile', 'feed', 'recommendations'],
        properties: {
          profile: ref('ProfileFragment'),
          feed: ref('FeedFragment'),
          recommendations: ref('RecommendationsFragment'),
        },
      },
    },
  },
  FragmentEvent: {
    description: 'The `data:` of an `event: fragment` line on the stream: F plus the fragment’s name',
    allOf: [
      ref('Fragment'),
      {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', enum: ['profile', 'feed', 'recommendations'] } },
      },
    ],
  },
};

export const fragmentSchemaRef = ref;

export const API_WAIT_MS_QUERY = {
  name: 'waitMs',
  required: false,
  schema: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS, default: 0 },
  description: 'Wait up to this long for pending fragments before answering',
} as const;

export const API_RETRY_AFTER_HEADER = {
  'Retry-After': { description: 'Seconds until asking again is worthwhile', schema: { type: 'integer', minimum: 1 } },
};
