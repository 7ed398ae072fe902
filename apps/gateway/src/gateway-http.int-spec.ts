import { getQueueToken } from '@nestjs/bull';
import { ViewerTokens } from '@worker-pattern/auth';
import { FRAGMENT_REDIS } from '@worker-pattern/fragment';
import type { Queue } from 'bull';
import type { Redis } from 'ioredis';
import { register } from 'prom-client';
import { GATEWAY_QUEUES } from './gateway.http';
import { GatewayTestApp } from './testing/gateway-test-app';

// The gateway's HTTP surface beyond the contract's happy paths, in-process against real Redis and
// Postgres: security headers, CORS, body limit, OpenAPI docs, the queue dashboard, rate limits.

const ADMIN = { user: 'admin', password: 'correct horse battery staple' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN_AUTH = basic(ADMIN.user, ADMIN.password);
const LIMITS = { api: 30, writes: 5, login: 10 };

describe('the gateway’s HTTP surface (in-process, real Redis and Postgres)', () => {
  let gateway: GatewayTestApp;
  // Each test speaks as its own viewers and client addresses, so no test spends another's budget.
  let nextViewer = 1;
  const viewer = () => nextViewer++;
  let nextAddress = 1;
  const address = () => `10.0.${Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 1}`;

  const get = (url: string, headers: Record<string, string> = {}, remoteAddress = address()) =>
    gateway.app.inject({ method: 'GET', url, headers, remoteAddress });
  const asViewer = (id: number) => ({
    authorization: `Bearer ${gateway.token(id)}`,
  });

  beforeAll(async () => {
    gateway = await GatewayTestApp.start({
      env: {
        ADMIN_PASSWORD: ADMIN.password,
        CORS_ORIGINS: 'https://app.example.com',
        RATE_LIMIT_PER_MINUTE: String(LIMITS.api),
        RATE_LIMIT_WRITES_PER_MINUTE: String(LIMITS.writes),
        RATE_LIMIT_LOGIN_PER_MINUTE: String(LIMITS.login),
        TRUSTED_PROXIES: '10.9.0.0/16',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
  });

  describe('security headers', () => {
    it('sends the JSON API’s headers under /api/, errors included, and none of the document-only ones', async () => {
      for (const response of [
        await get('/api/pages/dashboard', asViewer(viewer())),
        await get('/api/pages/dashboard'),
        await get('/api/nope'),
      ]) {
        expect(response.headers).toMatchObject({
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'cross-origin-resource-policy': 'same-origin',
          'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        });
        expect(response.headers['strict-transport-security']).toContain('max-age=31536000');
        for (const documentOnly of ['referrer-policy', 'cross-origin-opener-policy', 'x-dns-prefetch-control']) {
          expect(response.headers[documentOnly]).toBeUndefined();
        }
      }
    });

    it('sends helmet’s document set with the default CSP off /api/ and on the API docs UI', async () => {
      for (const response of [await get('/health/live'), await get('/api/docs')]) {
        expect(response.headers).toMatchObject({
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        });
        expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      }
    });

    it('keeps the demo page’s own stricter CSP (one policy, no inline styles)', async () => {
      const response = await get('/?userId=3');
      expect(response.statusCode).toBe(200);
      const csp = response.headers['content-security-policy'];
      expect(typeof csp).toBe('string');
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("connect-src 'self'");
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });
  });

  describe('CORS', () => {
    it('answers the listed origin and no other', async () => {
      const allowed = await get('/api/pages/dashboard', {
        ...asViewer(viewer()),
        origin: 'https://app.example.com',
      });
      expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
      const other = await get('/api/pages/dashboard', {
        ...asViewer(viewer()),
        origin: 'https://evil.example',
      });
      expect(other.statusCode).toBe(200);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await gateway.app.inject({
        method: 'OPTIONS',
        url: '/api/posts',
        headers: {
          origin: 'https://evil.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('body limit', () => {
    it.each(['/api/auth/dev-login', '/api/posts', '/api/follows'])(
      'refuses a body over 64 KiB on %s with 413 and the limit in the message',
      async (url) => {
        const response = await gateway.app.inject({
          method: 'POST',
          url,
          headers: {
            ...asViewer(viewer()),
            'content-type': 'application/json',
          },
          payload: JSON.stringify({ body: 'x'.repeat(70_000) }),
          remoteAddress: address(),
        });
        expect(response.statusCode).toBe(413);
        expect(response.json()).toEqual({
          statusCode: 413,
          error: 'Payload Too Large',
          message: 'request body too large: at most 65536 bytes (64 KiB)',
        });
      },
    );
  });

  describe('OpenAPI docs', () => {
    type Operation = {
      parameters?: Array<{ name: string; in: string }>;
      responses: Record<string, unknown>;
      security?: unknown[];
      tags?: string[];
      requestBody?: unknown;
    };
    let document: {
      openapi: string;
      paths: Record<string, Record<string, Operation>>;
      components: {
        schemas: Record<string, unknown>;
        securitySchemes: Record<string, unknown>;
      };
    };

    beforeAll(async () => {
      const response = await get('/api/docs-json');
      expect(response.statusCode).toBe(200);
      document = response.json();
    });

    it('serves the UI at /api/docs with no inline script, which the CSP would refuse', async () => {
      const page = await get('/api/docs');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/src=/);
        expect(body?.trim()).toBe('');
      }
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect((await get('/api/docs/swagger-ui-init.js')).statusCode).toBe(200);
      expect((await get('/api/docs/swagger-ui.css')).statusCode).toBe(200);
    });

    it('describes every route of the contract, with its parameters and answers', () => {
      const expected: Array<[string, string, string[], string[]]> = [
        ['/api/auth/dev-login', 'post', [], ['200', '400', '404', '413', '429']],
        ['/api/auth/stream-ticket', 'post', [], ['200', '401', '429']],
        ['/api/pages/{page}', 'get', ['page', 'waitMs'], ['200', '400', '401', '404', '429', '503']],
        ['/api/pages/{page}/stream', 'get', ['page', 'ticket'], ['200', '400', '401', '404', '429', '503']],
        [
          '/api/fragments/{name}',
          'get',
          ['name', 'userId', 'waitMs'],
          ['200', '202', '400', '401', '404', '429', '502', '503'],
        ],
        ['/api/posts', 'post', [], ['201', '400', '401', '404', '413', '429', '503']],
        ['/api/follows', 'post', [], ['200', '201', '400', '401', '404', '413', '429', '503']],
        ['/api/follows/{userId}', 'delete', ['userId'], ['204', '400', '401', '404', '429', '503']],
        ['/api/items/{id}/likes', 'post', ['id'], ['200', '201', '400', '401', '404', '429', '503']],
        ['/api/items/{id}/likes', 'delete', ['id'], ['204', '400', '401', '404', '429', '503']],
        ['/', 'get', ['userId'], ['200', '400']],
        ['/health/live', 'get', [], ['200', '503']],
        ['/health/ready', 'get', [], ['200', '503']],
        ['/metrics', 'get', [], ['200']],
      ];
      for (const [path, method, params, statuses] of expected) {
        const operation = document.paths[path]?.[method];
        expect({ path, method, found: operation !== undefined }).toEqual({
          path,
          method,
          found: true,
        });
        expect({
          path,
          method,
          params: (operation!.parameters ?? []).map((p) => p.name).sort(),
        }).toEqual({ path, method, params: [...params].sort() });
        expect({
          path,
          method,
          statuses: Object.keys(operation!.responses).sort(),
        }).toEqual({ path, method, statuses: [...statuses].sort() });
        const needsToken = path.startsWith('/api/') && path !== '/api/auth/dev-login';
        expect({
          path,
          method,
          bearer: JSON.stringify(operation!.security ?? []).includes('"bearer"'),
        }).toEqual({ path, method, bearer: needsToken });
      }
      for (const [path, method] of [
        ['/api/auth/dev-login', 'post'],
        ['/api/posts', 'post'],
        ['/api/follows', 'post'],
      ] as const) {
        expect(JSON.stringify(document.paths[path]![method]!.requestBody)).toContain('"additionalProperties":false');
      }
      // Nothing undocumented slipped in: every operation is one of the above.
      const documented = Object.entries(document.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      );
      expect(documented.sort()).toEqual(expected.map(([path, method]) => `${method} ${path}`).sort());
    });

    it('has the F schema, bearer auth and the stream ticket, and every $ref resolves', () => {
      expect(document.openapi).toMatch(/^3\./);
      expect(document.components.schemas['Fragment']).toMatchObject({
        required: ['status'],
        properties: {
          status: { enum: ['ready', 'stale', 'pending', 'failed'] },
        },
      });
      expect(document.components.securitySchemes).toMatchObject({
        bearer: { type: 'http', scheme: 'bearer' },
        streamTicket: { type: 'apiKey', in: 'query', name: 'ticket' },
      });
      const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
        (m) => m[1]!,
      );
      expect(refs.length).toBeGreaterThan(10);
      expect(refs.filter((name) => !(name in document.components.schemas))).toEqual([]);
    });
  });

  describe('queue dashboard', () => {
    it('challenges without credentials and refuses wrong ones, on the page, its API and its static files', async () => {
      // (A path the board does not have is a plain 404: the hook guards the board's routes.)
      expect((await get('/admin/queues/nonexistent')).statusCode).toBe(404);
      for (const url of [
        '/admin/queues',
        '/admin/queues/',
        '/admin/queues/api/queues',
        '/admin/queues/static/css/main.88d71b4bd7.css',
      ]) {
        const anonymous = await get(url);
        expect({ url, status: anonymous.statusCode }).toEqual({
          url,
          status: 401,
        });
        expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);
        expect(anonymous.json()).toMatchObject({
          statusCode: 401,
          message: expect.stringContaining('admin credentials'),
        });
        for (const wrong of [
          basic('admin', 'wrong'),
          basic('root', ADMIN.password),
          basic('admin', `${ADMIN.password}x`),
          'Basic !!!',
          `Bearer ${gateway.token(1)}`,
        ]) {
          expect({
            url,
            wrong,
            status: (await get(url, { authorization: wrong })).statusCode,
          }).toEqual({ url, wrong, status: 401 });
        }
      }
    });

    it('shows every queue the system has to the admin', async () => {
      const page = await get('/admin/queues', { authorization: ADMIN_AUTH });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.body).toContain('<base href="/admin/queues/"');
      const api = await get('/admin/queues/api/queues', {
        authorization: ADMIN_AUTH,
      });
      expect(api.statusCode).toBe(200);
      const names = (api.json() as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
      expect(names).toEqual(['feed', 'invalidations', 'profile', 'recommendations']);
      const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.body)?.[1];
      expect((await get(`/admin/queues/${script}`, { authorization: ADMIN_AUTH })).statusCode).toBe(200);
    });

    it('refuses a state-changing admin request from another origin (CSRF), and takes one from the page itself', async () => {
      const pause = (origin?: string) =>
        gateway.app.inject({
          method: 'PUT',
          url: '/admin/queues/api/queues/feed/pause',
          headers: {
            authorization: ADMIN_AUTH,
            host: 'gw.local',
            ...(origin ? { origin } : {}),
          },
        });
      for (const origin of [undefined, 'https://evil.example', 'null'])
        expect((await pause(origin)).statusCode).toBe(403);
      const queue = gateway.app.get<Queue>(getQueueToken('feed'), {
        strict: false,
      });
      expect(await queue.isPaused()).toBe(false);
      expect((await pause('http://gw.local')).statusCode).toBe(200);
      expect(await queue.isPaused()).toBe(true);
      await queue.resume();
    });

    it('leaves the gateway a producer only: no queue has a handler', () => {
      for (const name of GATEWAY_QUEUES) {
        const queue = gateway.app.get<Queue & { handlers?: Record<string, unknown> }>(getQueueToken(name), {
          strict: false,
        });
        expect({ name, handlers: Object.keys(queue.handlers ?? {}) }).toEqual({
          name,
          handlers: [],
        });
      }
    });
  });

  describe('rate limits (counters in Redis)', () => {
    const limited = async (send: () => Promise<{ statusCode: number }>, limit: number) => {
      const statuses: number[] = [];
      for (let i = 0; i < limit; i++) statuses.push((await send()).statusCode);
      return statuses;
    };

    it('lets a viewer make the per-minute budget of requests, then answers 429 with Retry-After', async () => {
      const id = viewer();
      const headers = asViewer(id);
      const statuses = await limited(() => get('/api/fragments/profile', headers), LIMITS.api);
      expect(statuses.every((s) => s === 202 || s === 200)).toBe(true);
      const refused = await get('/api/fragments/profile', headers);
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      // The budget headers on the refusal too: nothing left until the block lapses.
      expect(refused.headers).toMatchObject({
        'x-ratelimit-limit': String(LIMITS.api),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': refused.headers['retry-after'],
      });
      expect(refused.json()).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: expect.stringMatching(
          /^rate limit exceeded: at most 30 requests per minute for this viewer; retry in \d+ s$/,
        ),
      });
      // The counter is the viewer's, across routes: another route is refused too, another viewer is not.
      expect((await get('/api/pages/dashboard', headers)).statusCode).toBe(429);
      expect((await get('/api/pages/dashboard', asViewer(viewer()))).statusCode).toBe(200);
      // A fresh token of the same viewer buys nothing: the count is per viewer, not per token.
      expect(
        (
          await get('/api/pages/dashboard', {
            authorization: `Bearer ${gateway.app.get(ViewerTokens).issue(id, 120).token}`,
          })
        ).statusCode,
      ).toBe(429);
    });

    it('counts a page in its own read: the same counter as other routes, the headers, a 429 that reads nothing', async () => {
      const id = viewer();
      const headers = asViewer(id);
      const hits = `${gateway.keyPrefix}ratelimit:{u${id}}:api:default:hits`;
      const page = await get('/api/pages/dashboard', headers);
      expect(page.statusCode).toBe(200);
      expect(page.headers).toMatchObject({
        'x-ratelimit-limit': String(LIMITS.api),
        'x-ratelimit-remaining': String(LIMITS.api - 1),
      });
      expect(Number(page.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(59);
      // Another route counts on the same counter through the guard's own call, and the page sees it.
      expect([200, 202]).toContain((await get('/api/fragments/feed', headers)).statusCode);
      expect((await get('/api/pages/dashboard', headers)).headers['x-ratelimit-remaining']).toBe(
        String(LIMITS.api - 3),
      );
      // Refused before its read (unknown page, bad param): still counted, and past the limit a 429 comes first.
      expect((await get('/api/pages/nope', headers)).statusCode).toBe(404);
      expect((await get('/api/pages/dashboard?waitMs=x', headers)).statusCode).toBe(400);
      expect(Number(await gateway.redis.get(hits))).toBe(5);
      await gateway.redis.set(hits, String(LIMITS.api), 'KEEPTTL');
      const statuses = [await get('/api/pages/dashboard?waitMs=x', headers), await get('/api/pages/nope', headers)];
      expect(statuses.map((r) => r.statusCode)).toEqual([429, 429]);
      // A viewer over the limit reads nothing: their cold copies are not leased.
      const other = viewer();
      const otherHeaders = asViewer(other);
      const otherHits = `${gateway.keyPrefix}ratelimit:{u${other}}:api:default:hits`;
      await gateway.redis.set(otherHits, String(LIMITS.api), 'PX', 60_000);
      const refused = await get('/api/pages/dashboard', otherHeaders);
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.json().message).toMatch(/^rate limit exceeded: at most 30 requests per minute for this viewer/);
      expect(await gateway.redis.keys(`${gateway.keyPrefix}frag:{u${other}}:*`)).toEqual([]);
    });

    it('reads a page or a fragment and counts the viewer in one Redis command, refusals counted too', async () => {
      const id = viewer();
      const headers = asViewer(id);
      // The first reads lease and enqueue; after them a read of the held lease is a read alone.
      expect((await get('/api/pages/dashboard', headers)).statusCode).toBe(200);
      expect((await get('/api/fragments/profile', headers)).statusCode).toBe(202);
      const monitor = await gateway.redis.monitor(); // a connection of its own, in monitor mode
      const commands: string[][] = [];
      // What clients send; the commands a script runs inside Redis are reported with source `lua`.
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== 'lua' && args.some((a) => a.includes(`{u${id}}`))) commands.push(args);
      });
      try {
        const page = await get('/api/pages/dashboard', headers);
        const fragment = await get('/api/fragments/profile', headers);
        expect([page.statusCode, fragment.statusCode]).toEqual([200, 202]);
        expect(fragment.headers['x-ratelimit-remaining']).toBe(String(LIMITS.api - 4));
        // MONITOR reports a command before its reply, so both have arrived by now; the same EVALSHA
        // for both: the counter key and the copies' keys in one call.
        await gateway.redis.ping();
        expect(commands.map((c) => c[0].toLowerCase())).toEqual(['evalsha', 'evalsha']);
        expect(commands.every((c) => c.some((a) => a.endsWith(':api:default:hits')))).toBe(true);
      } finally {
        monitor.disconnect();
      }
      // A fragment refused before its read (unknown name, bad param) still counts.
      expect((await get('/api/fragments/nope', headers)).statusCode).toBe(404);
      expect((await get('/api/fragments/profile?userId=x', headers)).statusCode).toBe(400);
      expect(Number(await gateway.redis.get(`${gateway.keyPrefix}ratelimit:{u${id}}:api:default:hits`))).toBe(6);
    });

    it('keeps its counters in Redis under REDIS_KEY_PREFIX', async () => {
      const id = viewer();
      await get('/api/pages/dashboard', asViewer(id));
      const keys = await gateway.redis.keys(`${gateway.keyPrefix}ratelimit:*`);
      expect(keys).toContain(`${gateway.keyPrefix}ratelimit:{u${id}}:api:default:hits`);
      expect(Number(await gateway.redis.get(`${gateway.keyPrefix}ratelimit:{u${id}}:api:default:hits`))).toBe(1);
    });

    it('counts requests without a valid token against the client address, however the token varies', async () => {
      const from = address();
      const statuses = await limited(
        () => get('/api/pages/dashboard', { authorization: `Bearer x${Math.random().toString(36).slice(2)}` }, from),
        LIMITS.api,
      );
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect((await get('/api/pages/dashboard', { authorization: 'Bearer another' }, from)).statusCode).toBe(429);
      expect((await get('/api/pages/dashboard', {}, address())).statusCode).toBe(401);
    });

    it('takes the client address from X-Forwarded-For only when a trusted proxy sends it', async () => {
      const forged = () => ({ 'x-forwarded-for': `203.0.113.${Math.floor(Math.random() * 250) + 1}` });
      // From an untrusted peer the header is ignored: the peer's own budget, however it varies.
      const peer = address();
      const statuses = await limited(() => get('/api/pages/dashboard', forged(), peer), LIMITS.api);
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect((await get('/api/pages/dashboard', forged(), peer)).statusCode).toBe(429);
      // Through the ingress (10.9.0.0/16), each forwarded client has a budget of its own.
      const ingress = '10.9.0.1';
      const client = { 'x-forwarded-for': '198.51.100.7' };
      await limited(() => get('/api/pages/dashboard', client, ingress), LIMITS.api);
      expect((await get('/api/pages/dashboard', client, ingress)).statusCode).toBe(429);
      expect((await get('/api/pages/dashboard', { 'x-forwarded-for': '198.51.100.8' }, ingress)).statusCode).toBe(401);
    });

    it('gives writes a stricter budget of their own', async () => {
      const id = viewer();
      const like = () =>
        gateway.app.inject({
          method: 'POST',
          url: '/api/items/1/likes',
          headers: asViewer(id),
          remoteAddress: address(),
        });
      const statuses = await limited(like, LIMITS.writes);
      expect(statuses.every((s) => s === 201 || s === 200)).toBe(true);
      const refused = await like();
      expect(refused.statusCode).toBe(429);
      expect(refused.json().message).toMatch(/at most 5 writes per minute for this viewer/);
      // Reads have their own budget.
      expect((await get('/api/pages/dashboard', asViewer(id))).statusCode).toBe(200);
    });

    it('limits dev login per client address', async () => {
      const from = address();
      const login = (remoteAddress: string) =>
        gateway.app.inject({
          method: 'POST',
          url: '/api/auth/dev-login',
          headers: { 'content-type': 'application/json' },
          payload: '{"userId":1}',
          remoteAddress,
        });
      expect(await limited(() => login(from), LIMITS.login)).toEqual(Array(LIMITS.login).fill(200));
      const refused = await login(from);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().message).toMatch(/dev logins per minute from this address/);
      expect((await login(address())).statusCode).toBe(200);
    });

    it('never limits health, metrics or the demo page', async () => {
      const from = address();
      for (const url of ['/health/live', '/health/ready', '/metrics', '/']) {
        expect(new Set(await limited(() => get(url, {}, from), LIMITS.api + 5))).toEqual(new Set([200]));
      }
    });

    it('does not hold requests when Redis is gone: they go through unlimited, and the failure is counted', async () => {
      const failures = async () =>
        (await register.getSingleMetricAsString('rate_limit_store_failures_total')).match(
          /^rate_limit_store_failures_total(?:\{[^}]*\})? (\d+)$/m,
        )?.[1];
      const before = Number((await failures()) ?? 0);
      const redis = gateway.app.get<Redis>(FRAGMENT_REDIS);
      const closed = new Promise((resolve) => redis.once('end', resolve));
      redis.disconnect();
      await closed;
      try {
        const started = Date.now();
        const login = await gateway.app.inject({
          method: 'POST',
          url: '/api/auth/dev-login',
          headers: { 'content-type': 'application/json' },
          payload: '{"userId":2}',
          remoteAddress: address(),
        });
        expect(login.statusCode).toBe(200);
        const page = await get('/api/pages/dashboard', asViewer(viewer()));
        expect(page.statusCode).toBe(503);
        expect(page.headers['retry-after']).toBe('1');
        expect(Date.now() - started).toBeLessThan(1000);
        expect(Number(await failures())).toBe(before + 2);
      } finally {
        await redis.connect();
      }
    });
  });
});

describe('the gateway’s admin surfaces in production (in-process)', () => {
  const production = { NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) };
  let database: Awaited<ReturnType<typeof GatewayTestApp.start>>['database'] | undefined;
  const apps: GatewayTestApp[] = [];
  const start = async (env: Record<string, string>) => {
    const app = await GatewayTestApp.start({ env: { ...production, ...env }, seed: false, database });
    database ??= app.database;
    apps.push(app);
    return app;
  };

  afterAll(async () => {
    // The first app owns the database: close it last.
    for (const app of apps.reverse()) await app.close();
  });

  it('puts the docs behind the admin credentials, and has no dev login', async () => {
    const gateway = await start({ ADMIN_PASSWORD: ADMIN.password });
    for (const url of [
      '/api/docs',
      '/api/docs/',
      '/api/docs-json',
      '/api/docs-yaml',
      '/api/docs/swagger-ui-init.js',
      '/api/docs/swagger-ui.css',
    ]) {
      const anonymous = await gateway.app.inject({ method: 'GET', url });
      expect({ url, status: anonymous.statusCode, challenge: anonymous.headers['www-authenticate'] }).toEqual({
        url,
        status: 401,
        challenge: expect.stringMatching(/^Basic /),
      });
      expect({
        url,
        status: (await gateway.app.inject({ method: 'GET', url, headers: { authorization: ADMIN_AUTH } })).statusCode,
      }).toEqual({ url, status: 200 });
    }
    expect(
      (await gateway.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: ADMIN_AUTH } }))
        .statusCode,
    ).toBe(200);
    const login = await gateway.app.inject({
      method: 'POST',
      url: '/api/auth/dev-login',
      headers: { 'content-type': 'application/json' },
      payload: '{"userId":1}',
    });
    expect(login.statusCode).toBe(404);
  });

  it('serves neither docs nor dashboard without an admin password (404), and nothing else changes', async () => {
    const gateway = await start({});
    for (const url of ['/api/docs', '/api/docs-json', '/admin/queues', '/admin/queues/api/queues']) {
      expect({
        url,
        status: (await gateway.app.inject({ method: 'GET', url, headers: { authorization: ADMIN_AUTH } })).statusCode,
      }).toEqual({ url, status: 404 });
    }
    expect((await gateway.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });

  it('refuses to start with an admin password shorter than 16 characters', async () => {
    await expect(start({ ADMIN_PASSWORD: 'short-password' })).rejects.toThrow(
      'ADMIN_PASSWORD must be at least 16 characters when NODE_ENV=production',
    );
  });

  it('turns the docs off with API_DOCS=false, admin or not', async () => {
    const gateway = await start({ ADMIN_PASSWORD: ADMIN.password, API_DOCS: 'false' });
    expect(
      (await gateway.app.inject({ method: 'GET', url: '/api/docs-json', headers: { authorization: ADMIN_AUTH } }))
        .statusCode,
    ).toBe(404);
  });
});
