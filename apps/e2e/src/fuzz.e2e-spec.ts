import { connect } from 'node:net';
import {
  encodeHostile,
  hostileHeaderValue,
  hostileJson,
  hostilePathSegment,
  hostileQuery,
  hostileString,
} from '@worker-pattern/platform/testing';
import fc from 'fast-check';
import { Stack } from './support/stack';

// Fuzzing the built gateway over real HTTP: the bulk of the cases runs in-process (apps/gateway,
// gateway-fuzz.int-spec.ts); this run covers what only a real socket has — Node's HTTP parser,
// URL and header handling, connection reuse and close — and checks the process survives it all.
// Properties: never a 5xx, every 4xx says what is wrong, and the gateway is alive at the end.

// A failure's report gives its seed and path: FUZZ_SEED=… FUZZ_PATH=… replays that case first.
const SEED = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : undefined;
const REPLAY = process.env['FUZZ_PATH'] ? { path: process.env['FUZZ_PATH'] } : {};
const USERS = 600;

type Answer = { status: number; contentType: string; body: string };

function expectSane(what: string, method: string, answer: Answer): void {
  const where = `${method} ${what.slice(0, 200)}`;
  expect({ where, status: answer.status > 0 && answer.status < 500 }).toEqual({ where, status: true });
  if (answer.status < 400 || method === 'HEAD') return;
  expect({ where, json: answer.contentType.startsWith('application/json') }).toEqual({ where, json: true });
  const body = JSON.parse(answer.body) as { message?: unknown; status?: unknown; error?: unknown };
  const message = typeof body.message === 'string' ? body.message : body.status === 'failed' ? body.error : undefined;
  expect({ where, status: answer.status, message: typeof message === 'string' && message.length > 0 }).toEqual({
    where,
    status: answer.status,
    message: true,
  });
}

describe('fuzzing the gateway over real HTTP', () => {
  let stack: Stack;
  let tokens: string[];
  const counts: Record<string, number> = {};
  // Status 0: Node's parser closed a connection it could not frame at all, without an answer.
  let rawStatuses: Record<number, number> = {};

  beforeAll(async () => {
    // The gateway alone (writes need only Postgres, reads only Redis); limits out of the way.
    stack = await Stack.start({
      users: USERS,
      apps: ['gateway'],
      env: {
        RATE_LIMIT_PER_MINUTE: '1000000',
        RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
        RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
      },
    });
    tokens = await Promise.all([1, 2, 3, USERS + 5].map((id) => stack.login(id)));
  });

  afterAll(async () => {
    console.log(`fuzz cases over HTTP: ${JSON.stringify(counts)}; raw socket statuses: ${JSON.stringify(rawStatuses)}`);
    await stack?.stop();
  });

  afterEach(async () => {
    // Whatever came in, the process is up and answers.
    expect(stack.app('gateway').running).toBe(true);
    expect((await stack.get('/health/live')).status).toBe(200);
  });

  const idOrHostile = fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: 1, max: USERS + 10 }).map(String) },
    { weight: 3, arbitrary: hostilePathSegment() },
  );
  const target = fc.oneof(
    fc.constantFrom(
      '/api/pages/dashboard',
      '/api/fragments/profile',
      '/api/fragments/feed',
      '/api/fragments/recommendations',
      '/',
      '/health/ready',
      '/metrics',
      '/api/docs-json',
      '/admin/queues',
    ),
    hostilePathSegment().map((s) => `/api/pages/${s}`),
    hostilePathSegment().map((s) => `/api/fragments/${s}`),
    idOrHostile.map((s) => `/api/follows/${s}`),
    idOrHostile.map((s) => `/api/items/${s}/likes`),
    fc.array(hostilePathSegment(), { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
  );
  const writeTarget = fc.constantFrom(
    '/api/auth/dev-login',
    '/api/auth/stream-ticket',
    '/api/posts',
    '/api/follows',
    '/api/items/3/likes',
  );
  const bodyText = fc.oneof(
    hostileJson(['userId', 'body']).map((v) => JSON.stringify(v) ?? 'null'),
    fc.integer({ min: 1, max: USERS + 10 }).map((userId) => JSON.stringify({ userId })),
    hostileString().map((body) => JSON.stringify({ body })),
    hostileString(),
  );
  const auth = fc.oneof(
    fc.integer({ min: 0, max: 3 }).map((i) => (): string => `Bearer ${tokens[i]}`),
    hostileHeaderValue().map((v) => (): string => `Bearer ${v}`),
    fc.constant(() => ''),
  );

  it('answers every hostile request through fetch sanely: URLs, queries, headers, bodies', async () => {
    const numRuns = 1200;
    // The last answers, for a request that fails on a connection an earlier answer left closing.
    const recent: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
        fc.oneof(target, writeTarget),
        hostileQuery(),
        auth,
        fc.option(bodyText, { nil: undefined }),
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/octet-stream',
        ),
        fc.dictionary(
          fc.constantFrom('x-request-id', 'x-forwarded-for', 'origin', 'cookie', 'accept', 'range', 'if-none-match'),
          hostileHeaderValue(),
          { maxKeys: 3 },
        ),
        async (method, path, query, authorization, body, contentType, extra) => {
          const headers: Record<string, string> = { ...extra };
          const credential = authorization();
          if (credential) headers['authorization'] = credential;
          const sendsBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
          if (sendsBody) headers['content-type'] = contentType;
          const response = await fetch(`${stack.url()}${path}${query}`, {
            method,
            headers,
            body: sendsBody ? body : undefined,
            redirect: 'manual',
          }).catch((error: Error) => {
            // undici says only "fetch failed"; what the socket saw is in its cause.
            const cause = error.cause as { code?: string; message?: string } | undefined;
            throw new Error(
              `${error.message} (${cause?.code} ${cause?.message}); the answers before: ${recent.join(', ')}`,
            );
          });
          recent.push(`${method} ${response.status} connection: ${response.headers.get('connection')}`);
          if (recent.length > 5) recent.shift();
          const answer = {
            status: response.status,
            contentType: response.headers.get('content-type') ?? '',
            body: await response.text(),
          };
          expectSane(`${path}${query}`, method, answer);
        },
      ),
      { numRuns, seed: SEED, endOnFailure: true, ...REPLAY },
    );
    counts['fetch'] = numRuns;
  });

  /** One request written byte for byte on a fresh socket; the status and body of the answer, if any. */
  function raw(request: string): Promise<Answer & { closed: boolean }> {
    return new Promise((resolve, reject) => {
      const url = new URL(stack.url());
      const socket = connect(Number(url.port), url.hostname);
      let data = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer within 15 s to ${JSON.stringify(request.slice(0, 200))}`));
        // A request that never finishes arriving (a chunked body without its end) is cut off with
        // a 408 after the gateway's 10 s request timeout.
      }, 15_000);
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        // One answer is all we wait for; the server may keep the connection open.
        const head = data.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length: (\d+)/i.exec(data)?.[1];
        if (head >= 0 && length !== undefined && data.length >= head + 4 + Number(length)) socket.end();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        // The first answer only: bytes a request could not frame may get an answer of their own.
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
        const headEnd = data.indexOf('\r\n\r\n');
        const head = headEnd >= 0 ? data.slice(0, headEnd) : data;
        const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1] ?? '';
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? data.length);
        const body =
          headEnd >= 0 ? Buffer.from(data.slice(headEnd + 4, headEnd + 4 + length), 'latin1').toString('utf8') : '';
        resolve({ status, contentType, body, closed: true });
      });
      socket.write(Buffer.from(request, 'latin1'));
    });
  }

  it('answers malformed HTTP on a raw socket with a 4xx and a message, never a hang or a crash', async () => {
    const numRuns = 300;
    const statuses: Record<number, number> = {};
    const token = () => tokens[0] ?? '';
    // Bytes a well-behaved client library would never send.
    const rawPath = fc.oneof(
      hostileString().map((s) => `/api/fragments/${encodeHostile(s)}`),
      fc.constantFrom(
        '/api/pages/dashboard?x=%ZZ',
        '/api/fragments/%',
        '/api/fragments/%E0%A4%A',
        '/api/pages/dashboard?userId=%00',
        '//api//pages//dashboard',
        '/api/../api/pages/dashboard',
        '*',
        'http://evil.example/api/pages/dashboard',
        '/api/pages/dashboard#frag',
      ),
      fc
        .string({ unit: 'binary-ascii', minLength: 1, maxLength: 30 })
        .map((s) => `/api/fragments/${s.replace(/[\r\n ]/g, '')}`),
    );
    const headerLine = fc.oneof(
      fc.constant(`Authorization: Bearer ${'x'.repeat(20)}`),
      fc.constant('Authorization: Bearer'),
      fc.constant('Authorization:'),
      fc.constant('Content-Length: -1'),
      fc.constant('Content-Length: 99999999999999999999'),
      fc.constant('Transfer-Encoding: chunked'),
      fc.constant('X-Request-Id: \x01\x02'),
      fc.constant(`X-Long: ${'a'.repeat(20_000)}`),
      fc.constant('Bad Header Name: x'),
      fc.constant('Content-Type: application/json; charset=utf-16'),
      hostileHeaderValue().map((v) => `X-Fuzz: ${v}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'FOO', 'get', 'CONNECT', 'TRACE', 'PRI'),
        rawPath,
        fc.array(headerLine, { maxLength: 3 }),
        fc.option(hostileString(), { nil: undefined }),
        fc.boolean(),
        async (method, path, lines, body, withToken) => {
          const head = [
            `${method} ${path} HTTP/1.1`,
            'Host: 127.0.0.1',
            'Connection: close',
            ...(withToken ? [`Authorization: Bearer ${token()}`] : []),
            ...lines,
          ];
          const bytes = body === undefined ? '' : Buffer.from(body).toString('latin1');
          if (body !== undefined && !lines.some((l) => /^(content-length|transfer-encoding):/i.test(l)))
            head.push(`Content-Length: ${bytes.length}`);
          const answer = await raw(`${head.join('\r\n')}\r\n\r\n${bytes}`);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          // Every request gets an answer, even one the parser cannot frame: a connection closed
          // without one (status 0) fails here, as a hang fails in raw().
          expect({ request: `${method} ${path}`, status: answer.status }).not.toEqual({
            request: `${method} ${path}`,
            status: 0,
          });
          expectSane(`${method} ${path}`, method.toUpperCase(), answer);
        },
      ),
      { numRuns, seed: SEED, endOnFailure: true, ...REPLAY },
    );
    counts['raw socket'] = numRuns;
    rawStatuses = statuses;
  });
});
