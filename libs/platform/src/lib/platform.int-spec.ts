import { randomUUID } from 'node:crypto';
import { type Server, type Socket, createServer } from 'node:net';
import { Module, type ModuleMetadata } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Redis, type RedisOptions } from 'ioredis';
import { register } from 'prom-client';
import { createHttpApp } from './bootstrap';
import { baseEnvSchema } from './config/env.schema';
import { PlatformModule } from './platform.module';
import type { ReadinessOptions } from './platform.options';

// Readiness against the real Redis (and Postgres), plus the shell as a client sees it over HTTP.
// Nothing is written to Redis: PING needs no key, and the clients carry a prefix unique to this run.

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const KEY_PREFIX = `wp:test:platform:${randomUUID()}:`;
const REDIS = Symbol('TEST_REDIS');

function redisClient(options: RedisOptions): Redis {
  // A short disconnectTimeout: ioredis otherwise waits 2 s for a silent server to end the socket.
  const client = new Redis({ keyPrefix: KEY_PREFIX, disconnectTimeout: 100, ...options });
  client.on('error', () => undefined); // a dead Redis is the point of some tests
  return client;
}

async function startApp(
  client: Redis,
  readiness: ReadinessOptions,
  extraImports: NonNullable<ModuleMetadata['imports']> = [],
): Promise<NestFastifyApplication> {
  @Module({
    imports: [
      PlatformModule.forRoot({
        service: 'platform-int',
        envSchema: baseEnvSchema,
        defaultPort: 3999,
        env: { LOG_LEVEL: 'silent' },
        readiness,
      }),
      ...extraImports,
    ],
    providers: [{ provide: REDIS, useValue: client }],
  })
  class IntTestAppModule {}

  const app = await createHttpApp(IntTestAppModule);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

describe('platform shell over HTTP, with Redis up', () => {
  let client: Redis;
  let app: NestFastifyApplication;
  let baseUrl: string;

  beforeAll(async () => {
    client = redisClient({ ...redisOptionsFromUrl(REDIS_URL) });
    app = await startApp(client, { redis: REDIS });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
  });
  afterAll(async () => {
    await app.close();
    await client.quit();
  });

  it('GET /health/live answers 200', async () => {
    const res = await fetch(`${baseUrl}/health/live`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('GET /health/ready answers 200 with Redis up', async () => {
    const res = await fetch(`${baseUrl}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      info: { redis: { status: 'up' } },
      error: {},
      details: { redis: { status: 'up' } },
    });
  });

  it('GET /metrics serves Prometheus text with a default metric and the service label', async () => {
    const res = await fetch(`${baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(register.contentType);
    const body = await res.text();
    expect(body).toContain('# HELP process_resident_memory_bytes');
    expect(body).toMatch(/^process_resident_memory_bytes\{service="platform-int"\} \d+/m);
  });

  it('echoes x-request-id', async () => {
    const given = await fetch(`${baseUrl}/health/live`, { headers: { 'x-request-id': 'int-req-42' } });
    expect(given.headers.get('x-request-id')).toBe('int-req-42');
    const made = await fetch(`${baseUrl}/no-such-route`);
    expect(made.status).toBe(404);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('readiness with Redis down', () => {
  it('answers 503 at once when the Redis port is closed', async () => {
    const client = redisClient({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    const app = await startApp(client, { redis: REDIS });
    try {
      const { result: res, ms } = await timed(() => app.inject({ method: 'GET', url: '/health/ready' }));
      expect(res.statusCode).toBe(503);
      expect(ms).toBeLessThan(2000);
      expect(res.json()).toMatchObject({
        status: 'error',
        info: {},
        error: { redis: { status: 'down', message: expect.any(String) } },
        details: { redis: { status: 'down' } },
      });
      // Liveness does not depend on Redis.
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await app.close();
      client.disconnect();
    }
  });

  describe('when Redis accepts the connection but never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let port: number;

    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      port = address.port;
    });
    afterAll(async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    });

    it('gives up on PING after the readiness timeout and answers 503 within ~2 s', async () => {
      // Default options: the offline queue holds the PING until a reply that never comes.
      const client = redisClient({ host: '127.0.0.1', port });
      const app = await startApp(client, { redis: REDIS, timeoutMs: 1000 });
      try {
        const { result: res, ms } = await timed(() => app.inject({ method: 'GET', url: '/health/ready' }));
        expect(res.statusCode).toBe(503);
        expect(ms).toBeGreaterThanOrEqual(900);
        expect(ms).toBeLessThan(2000);
        expect(res.json()).toMatchObject({
          error: { redis: { status: 'down', message: 'no PING reply within 1000 ms' } },
        });
      } finally {
        await app.close();
        client.disconnect();
      }
    });
  });

  it('answers 503 when the token names no Redis client', async () => {
    const client = redisClient({ ...redisOptionsFromUrl(REDIS_URL), lazyConnect: true });
    const app = await startApp(client, { redis: 'NOT_PROVIDED' });
    try {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: { redis: { status: 'down' } } });
    } finally {
      await app.close();
      client.disconnect();
    }
  });
});

describe('readiness with Postgres', () => {
  it('answers 200 with both Redis and the TypeORM DataSource up', async () => {
    const client = redisClient({ ...redisOptionsFromUrl(REDIS_URL) });
    const app = await startApp(client, { redis: REDIS, postgres: true }, [
      TypeOrmModule.forRoot({ type: 'postgres', url: DATABASE_URL, retryAttempts: 1, entities: [] }),
    ]);
    try {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.json()).toMatchObject({
        status: 'ok',
        details: { redis: { status: 'up' }, postgres: { status: 'up' } },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await app.close();
      await client.quit();
    }
  });

  it('answers 503 when postgres is expected but the app has no DataSource', async () => {
    const client = redisClient({ ...redisOptionsFromUrl(REDIS_URL) });
    const app = await startApp(client, { redis: REDIS, postgres: true });
    try {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ info: { redis: { status: 'up' } }, error: { postgres: { status: 'down' } } });
    } finally {
      await app.close();
      await client.quit();
    }
  });
});

function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
  };
}
