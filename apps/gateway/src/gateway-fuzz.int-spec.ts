import {
  hostileHeaderValue,
  hostileJson,
  hostilePathSegment,
  hostileQuery,
  hostileString,
} from '@worker-pattern/platform/testing';
import fc from 'fast-check';
import type { InjectOptions } from 'light-my-request';
import { GatewayTestApp } from './testing/gateway-test-app';
import { type TaggedFragmentData, TestWorkers } from './testing/test-workers';

// Property-based fuzzing of every route of the gateway, in-process (app.inject) against real Redis
// and Postgres, with in-process workers that build fragments at once. Whatever comes in: never a
// 5xx, never a crash, and every 4xx says what is wrong. Seeded, so a failure replays exactly
// (FUZZ_SEED=<seed> to replay, FUZZ_RUNS=<n> to scale every run count).

const SEED = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : undefined;
const SCALE = Number(process.env['FUZZ_SCALE'] ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const ADMIN_PASSWORD = 'fuzz-admin-password-0123';
// Each property runs hundreds of requests; CI's two cores take a few seconds per property.
jest.setTimeout(120_000);
const USERS = 40;

type Request = {
  method: InjectOptions['method'] & string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
};
type Answer = { status: number; contentType: string; body: string };

let gateway: GatewayTestApp;
let workers: TestWorkers;
let baseUrl: string;
const fuzzCounts: Record<string, { cases: number; ms: number }> = {};

/** The properties every answer must have. */
function expectSane(request: Request, answer: Answer): void {
  const where = `${request.method} ${request.url.slice(0, 200)}`;
  expect({ where, status: answer.status < 500 }).toEqual({ where, status: true });
  // HEAD answers carry no body by definition.
  if (answer.status < 400 || request.method === 'HEAD') return;
  expect({ where, json: answer.contentType.startsWith('application/json') }).toEqual({ where, json: true });
  const body = JSON.parse(answer.body) as { message?: unknown; status?: unknown; error?: unknown };
  // An error says what is wrong: Nest's {statusCode, error, message}, or a failed F's {status, error}.
  const message = typeof body.message === 'string' ? body.message : body.status === 'failed' ? body.error : undefined;
  expect({ where, status: answer.status, message: typeof message === 'string' && message.length > 0 }).toEqual({
    where,
    status: answer.status,
    message: true,
  });
}

async function send(request: Request): Promise<Answer> {
  const response = await gateway.app.inject({
    method: request.method,
    url: request.url,
    headers: request.headers,
    payload: request.payload,
  });
  return {
    status: response.statusCode,
    contentType: String(response.headers['content-type'] ?? ''),
    body: response.body,
  };
}

// ---- what a request is made of ----------------------------------------------------------------

const userId = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: USERS }) },
  { weight: 1, arbitrary: fc.integer({ min: USERS + 1, max: 2_147_483_647 }) },
);

/** Authorization: a valid token (existing or missing user), none, or something hostile. */
const authorization = fc.oneof(
  { weight: 6, arbitrary: userId.map((id) => ({ kind: 'token' as const, id })) },
  { weight: 1, arbitrary: userId.map((id) => ({ kind: 'ticket' as const, id })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('Bearer ', 'Basic ', 'bearer ', ''), hostileHeaderValue())
      .map(([scheme, value]) => ({ kind: 'raw' as const, value: scheme + value })),
  },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=latin1',
  '*/*',
];
const EXTRA_HEADERS = [
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'origin',
  'cookie',
  'accept',
  'accept-encoding',
  'if-none-match',
  'range',
  'referer',
  'x-http-method-override',
];

const extraHeaders = fc.dictionary(fc.constantFrom(...EXTRA_HEADERS), hostileHeaderValue(), { maxKeys: 3 });

/** A body: valid for the route, hostile JSON, broken JSON, or not JSON at all. */
function body(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 3, arbitrary: valid.map((v) => JSON.stringify(v)) },
    { weight: 3, arbitrary: hostileJson(['userId', 'body']).map((v) => JSON.stringify(v) ?? 'null') },
    {
      weight: 1,
      arbitrary: fc
        .record({ userId: hostileJson(), body: hostileJson() }, { requiredKeys: [] })
        .map((v) => JSON.stringify(v)),
    },
    { weight: 1, arbitrary: hostileString() },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '{"userId":1,"userId":2}',
        '{"__proto__":{"admin":true},"userId":1}',
        '{"constructor":{"prototype":{"x":1}}}',
        '[]',
        '"str"',
        '1e999',
        '{"userId":1e999}',
        '{"body":"\\u0000"}',
        '{"body":"\\ud800"}',
        '['.repeat(3000),
        `{"body":"${'a'.repeat(6000)}"}`,
      ),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

interface Route {
  readonly name: string;
  readonly request: fc.Arbitrary<Request>;
}

function route(
  name: string,
  method: Request['method'] | fc.Arbitrary<Request['method']>,
  path: fc.Arbitrary<string>,
  validQuery: fc.Arbitrary<Array<[string, string]>> = fc.constant([]),
  validBody?: fc.Arbitrary<unknown>,
): Route {
  const methods = typeof method === 'string' ? fc.constant(method) : method;
  return {
    name,
    request: fc
      .record({
        method: methods,
        path,
        query: hostileQuery(validQuery),
        auth: authorization,
        contentType: fc.option(
          fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
            { weight: 1, arbitrary: hostileHeaderValue() },
          ),
          { nil: undefined },
        ),
        extra: extraHeaders,
        payload: validBody ? body(validBody) : fc.option(body(fc.constant({})), { nil: undefined, freq: 4 }),
      })
      .map(({ method: m, path: p, query, auth, contentType, extra, payload }) => {
        const headers: Record<string, string> = { ...extra };
        if (auth.kind === 'token') headers['authorization'] = `Bearer ${gateway.token(auth.id)}`;
        if (auth.kind === 'ticket') headers['authorization'] = `Bearer ${gateway.ticket(auth.id)}`;
        if (auth.kind === 'raw') headers['authorization'] = auth.value;
        if (contentType !== undefined && payload !== undefined) headers['content-type'] = contentType;
        return { method: m, url: `${p}${query}`, headers, payload };
      }),
  };
}

const segment = (...valid: string[]) =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...valid) }, { weight: 2, arbitrary: hostilePathSegment() });
const idSegment = fc.oneof(
  { weight: 3, arbitrary: userId.map(String) },
  { weight: 2, arbitrary: hostilePathSegment() },
);
const waitMs = fc.constantFrom('0', '1', '20').map((v): [string, string] => ['waitMs', v]);
const validBodies = {
  login: fc.record({ userId }),
  post: fc.record({ body: fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), hostileString()) }),
  follow: fc.record({ userId }),
};

const ROUTES: Route[] = [
  route(
    'page',
    'GET',
    segment('dashboard').map((s) => `/api/pages/${s}`),
    fc.subarray([['waitMs', '20']] as Array<[string, string]>),
  ),
  route(
    'fragment',
    'GET',
    segment('profile', 'feed', 'recommendations').map((s) => `/api/fragments/${s}`),
    fc.array(
      fc.oneof(
        waitMs,
        userId.map((id): [string, string] => ['userId', String(id)]),
      ),
      { maxLength: 2 },
    ),
  ),
  route('dev-login', 'POST', fc.constant('/api/auth/dev-login'), undefined, validBodies.login),
  route('stream-ticket', 'POST', fc.constant('/api/auth/stream-ticket')),
  route('posts', 'POST', fc.constant('/api/posts'), undefined, validBodies.post),
  route('follows', 'POST', fc.constant('/api/follows'), undefined, validBodies.follow),
  route(
    'unfollow',
    'DELETE',
    idSegment.map((s) => `/api/follows/${s}`),
  ),
  route(
    'like',
    'POST',
    idSegment.map((s) => `/api/items/${s}/likes`),
  ),
  route(
    'unlike',
    'DELETE',
    idSegment.map((s) => `/api/items/${s}/likes`),
  ),
  route('demo page', 'GET', fc.constant('/'), fc.subarray([['userId', '3']] as Array<[string, string]>)),
  route('probes', 'GET', fc.constantFrom('/health/live', '/health/ready', '/metrics')),
  route(
    'admin',
    fc.constantFrom('GET', 'PUT', 'POST', 'DELETE'),
    fc.constantFrom(
      '/admin/queues',
      '/admin/queues/api/queues',
      '/admin/queues/api/queues/feed/pause',
      '/api/docs-json',
      '/api/docs',
    ),
  ),
  route(
    'anything',
    fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
    fc
      .array(
        fc.oneof(
          fc.constantFrom('api', 'pages', 'fragments', 'auth', 'admin', 'queues', 'assets', 'health'),
          hostilePathSegment(),
        ),
        { minLength: 1, maxLength: 4 },
      )
      .map((parts) => `/${parts.join('/')}`),
  ),
];

describe('fuzzing every route of the gateway (in-process, real Redis and Postgres)', () => {
  beforeAll(async () => {
    gateway = await GatewayTestApp.start({
      seed: { users: USERS, posts: 400, follows: 200, likes: 200, items: 30 },
      env: {
        ADMIN_PASSWORD,
        RATE_LIMIT_PER_MINUTE: '1000000',
        RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
        RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
      },
    });
    await gateway.app.startAllMicroservices();
    workers = await TestWorkers.start(gateway.keyPrefix, `${gateway.keyPrefix}bull`);
    // Streams never end, so they are fuzzed over a real socket the client can drop.
    await gateway.app.listen(0, '127.0.0.1');
    baseUrl = await gateway.app.getUrl();
  }, 60_000);

  afterAll(async () => {
    await workers?.close();
    await gateway?.close();
    if (Object.keys(fuzzCounts).length > 0) console.log(`fuzz cases: ${JSON.stringify(fuzzCounts)}`);
  });

  it.each(ROUTES.map((r) => [r.name, r] as const))('%s: never a 5xx, every 4xx with a message', async (name, r) => {
    const numRuns = runs(name === 'anything' ? 1200 : 700);
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(r.request, async (request) => {
        expectSane(request, await send(request));
      }),
      { numRuns, seed: SEED, endOnFailure: true },
    );
    fuzzCounts[name] = { cases: numRuns, ms: Date.now() - started };
    expect((await gateway.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });

  it('stream: never a 5xx, every 4xx with a message, and a 200 is an event stream (over a socket)', async () => {
    const stream = route(
      'stream',
      'GET',
      segment('dashboard').map((s) => `/api/pages/${s}/stream`),
      fc.subarray([['ticket', 'placeholder']] as Array<[string, string]>),
    );
    const numRuns = runs(400);
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(stream.request, userId, async (request, ticketFor) => {
        const url = request.url.replace(
          'ticket=placeholder',
          `ticket=${encodeURIComponent(gateway.ticket(ticketFor))}`,
        );
        const answer = await openStream(url, request.headers);
        expectSane({ ...request, url }, answer);
        if (answer.status === 200) expect(answer.contentType).toBe('text/event-stream; charset=utf-8');
      }),
      { numRuns, seed: SEED, endOnFailure: true },
    );
    fuzzCounts['stream'] = { cases: numRuns, ms: Date.now() - started };
  });

  it('never serves a viewer-scoped fragment to another viewer, whatever the request adds', async () => {
    const numRuns = runs(150);
    const started = Date.now();
    const viewers = fc
      .tuple(fc.integer({ min: 1, max: USERS }), fc.integer({ min: 1, max: USERS }))
      .filter(([a, b]) => a !== b);
    // What a request for viewer a might add to reach b's copy: b's id under every name, b's ticket.
    const additions = (b: number) =>
      fc.subarray([
        `viewerId=${b}`,
        `userId=${b}`,
        `sub=${b}`,
        `viewer=${b}`,
        `u=${b}`,
        `__proto__[viewerId]=${b}`,
        `constructor[prototype][viewerId]=${b}`,
        `ticket=${encodeURIComponent(gateway.ticket(b))}`,
      ]);
    await fc.assert(
      fc.asyncProperty(
        viewers,
        fc.constantFrom('feed', 'recommendations'),
        fc.gen(),
        fc.context(),
        async ([a, b], name, generate, ctx) => {
          // b's own copy is built, for b.
          const own = await gateway.app.inject({
            method: 'GET',
            url: `/api/fragments/${name}?waitMs=2000`,
            headers: { authorization: `Bearer ${gateway.token(b)}` },
          });
          expect(own.statusCode).toBe(200);
          expect((own.json() as { data: TaggedFragmentData }).data.builtForViewer).toBe(b);
          const added = generate(() => additions(b));
          ctx.log(`a=${a} b=${b} added=${added.join('&')}`);
          for (const query of [added.join('&'), '']) {
            const asA = await gateway.app.inject({
              method: 'GET',
              url: `/api/fragments/${name}?waitMs=2000${query ? `&${query}` : ''}`,
              headers: { authorization: `Bearer ${gateway.token(a)}` },
            });
            if (query) {
              expect(asA.statusCode).toBe(400);
              expect(asA.body).not.toContain('builtForViewer');
            } else {
              expect(asA.statusCode).toBe(200);
              expect((asA.json() as { data: TaggedFragmentData }).data.builtForViewer).toBe(a);
            }
          }
          // The page as a: every viewer-scoped fragment is a's.
          const page = await gateway.app.inject({
            method: 'GET',
            url: '/api/pages/dashboard?waitMs=2000',
            headers: { authorization: `Bearer ${gateway.token(a)}` },
          });
          const fragments = (
            page.json() as { fragments: Record<string, { status: string; data?: TaggedFragmentData }> }
          ).fragments;
          // Ready, or stale once its ttl passed during a long run: either way the data must be a's.
          for (const f of ['feed', 'recommendations']) {
            expect(['ready', 'stale']).toContain(fragments[f]?.status);
            expect(fragments[f]).toMatchObject({ data: { builtForViewer: a } });
          }
          // A stream opened with a's token and b's ticket is a's.
          const events = await streamEvents(
            `/api/pages/dashboard/stream?ticket=${encodeURIComponent(gateway.ticket(b))}`,
            { authorization: `Bearer ${gateway.token(a)}` },
          );
          for (const event of events.filter((e) => e.name !== 'profile' && e.data))
            expect(event.data!.builtForViewer).toBe(a);
          expect(events.filter((e) => e.name !== 'profile' && e.data).length).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns, seed: SEED, endOnFailure: true },
    );
    fuzzCounts['viewer isolation'] = { cases: numRuns, ms: Date.now() - started };
  });
});

/** Opens a stream, reads its head (and first bytes) or its whole error answer, then drops it. */
async function openStream(url: string, headers: Record<string, string>): Promise<Answer> {
  const abort = new AbortController();
  try {
    const response = await fetch(`${baseUrl}${url}`, { headers, signal: abort.signal });
    const contentType = response.headers.get('content-type') ?? '';
    if (response.status !== 200) return { status: response.status, contentType, body: await response.text() };
    const reader = response.body!.getReader();
    const first = await reader.read();
    return { status: 200, contentType, body: new TextDecoder().decode(first.value) };
  } finally {
    abort.abort();
  }
}

type StreamEvent = { name: string; status: string; data?: TaggedFragmentData };

/** The `fragment` events of a stream until every fragment is ready (or 3 s pass). */
async function streamEvents(url: string, headers: Record<string, string>): Promise<StreamEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 3000);
  const events: StreamEvent[] = [];
  try {
    const response = await fetch(`${baseUrl}${url}`, { headers, signal: abort.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let buffer = '';
    const ready = new Set<string>();
    while (ready.size < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^event: fragment\ndata: (.*)$/m.exec(block)?.[1];
        if (!data) continue;
        const event = JSON.parse(data) as StreamEvent;
        events.push(event);
        if (event.status === 'ready') ready.add(event.name);
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
