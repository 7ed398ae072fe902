import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp } from '../bootstrap';
import { baseEnvSchema } from '../config/env.schema';
import { PlatformModule } from '../platform.module';
import { BODY_LIMIT_BYTES } from './body-limit';
import { type HttpSecurityOptions, helmetHeaders, isJsonApiUrl, JSON_API_CSP, jsonApiHeaders } from './http-security';

@Controller('probe')
class ProbeController {
  @Get()
  get(): { ok: true } {
    return { ok: true };
  }

  @Post()
  @HttpCode(200)
  post(@Body() body: unknown): { length: number } {
    return { length: JSON.stringify(body).length };
  }
}

async function appWith(security?: HttpSecurityOptions): Promise<NestFastifyApplication> {
  @Module({
    imports: [
      PlatformModule.forRoot({
        service: 'security-spec',
        envSchema: baseEnvSchema,
        defaultPort: 3999,
        env: { LOG_LEVEL: 'silent' },
      }),
    ],
    controllers: [ProbeController],
  })
  class SecuritySpecModule {}
  const app = await createHttpApp(SecuritySpecModule, { security });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

const json = (body: string) => ({
  method: 'POST' as const,
  url: '/probe',
  headers: { 'content-type': 'application/json' },
  payload: body,
});

describe('HTTP security options of createHttpApp', () => {
  describe('with CORS closed (no origins)', () => {
    let app: NestFastifyApplication;
    beforeAll(async () => {
      app = await appWith({ corsOrigins: [] });
    });
    afterAll(() => app.close());

    it('sends helmet’s headers with a strict default CSP on every response, errors and probes included', async () => {
      for (const url of ['/probe', '/health/live', '/no-such-route']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['strict-transport-security']).toContain('max-age=31536000');
        expect(res.headers['referrer-policy']).toBe('no-referrer');
        const csp = String(res.headers['content-security-policy']);
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("script-src 'self';");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("object-src 'none'");
        expect(csp).not.toContain('unsafe-eval');
        expect(csp).not.toContain('upgrade-insecure-requests');
      }
    });

    it('answers no origin with CORS headers, and has no preflight route', async () => {
      const simple = await app.inject({ method: 'GET', url: '/probe', headers: { origin: 'https://evil.example' } });
      expect(simple.statusCode).toBe(200);
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/probe',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.statusCode).toBe(404);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
    });

    it('refuses a body over 64 KiB with 413 and a message that gives the limit', async () => {
      const big = JSON.stringify({ body: 'x'.repeat(BODY_LIMIT_BYTES) });
      const res = await app.inject(json(big));
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({
        statusCode: 413,
        error: 'Payload Too Large',
        message: 'request body too large: at most 65536 bytes (64 KiB)',
      });
      expect(res.headers['connection']).toBe('close');
      // Headers are set before the refusal, like on any other answer.
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('still refuses an oversized body that announces no length (chunked), with 413', async () => {
      const { Readable } = await import('node:stream');
      const res = await app.inject({
        method: 'POST',
        url: '/probe',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        payload: Readable.from([Buffer.from(JSON.stringify({ body: 'x'.repeat(BODY_LIMIT_BYTES) }))]),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ statusCode: 413, message: expect.stringMatching(/too large/i) });
    });

    it('takes a body just under the limit', async () => {
      const body = JSON.stringify({ body: 'x'.repeat(BODY_LIMIT_BYTES - 20) });
      expect(body.length).toBeLessThanOrEqual(BODY_LIMIT_BYTES);
      const res = await app.inject(json(body));
      expect(res.statusCode).toBe(200);
    });
  });

  describe('with origins listed', () => {
    let app: NestFastifyApplication;
    beforeAll(async () => {
      app = await appWith({ corsOrigins: ['https://app.example.com'] });
    });
    afterAll(() => app.close());

    it('allows exactly the listed origin, without credentials, and exposes the retry headers', async () => {
      const res = await app.inject({ method: 'GET', url: '/probe', headers: { origin: 'https://app.example.com' } });
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(String(res.headers['access-control-expose-headers'])).toContain('retry-after');
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/probe',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(String(preflight.headers['access-control-allow-headers'])).toContain('authorization');
    });

    it.each(['https://evil.example', 'https://app.example.com.evil.example', 'http://app.example.com', 'null'])(
      'gives %s nothing',
      async (origin) => {
        const res = await app.inject({ method: 'GET', url: '/probe', headers: { origin } });
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      },
    );
  });

  it('adds neither headers nor CORS to an app that asks for no security options (workers)', async () => {
    const app = await appWith(undefined);
    try {
      const res = await app.inject({ method: 'GET', url: '/probe', headers: { origin: 'https://evil.example' } });
      expect(res.headers['content-security-policy']).toBeUndefined();
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      // The body limit is every app's.
      expect((await app.inject(json(JSON.stringify({ body: 'x'.repeat(BODY_LIMIT_BYTES) })))).statusCode).toBe(413);
    } finally {
      await app.close();
    }
  });
});

describe('the JSON API’s headers', () => {
  const jsonApi = { prefix: '/api/', documents: ['/api/docs'] };

  it('tells JSON API paths from document paths, with or without a query', () => {
    expect(isJsonApiUrl('/api/pages/dashboard?waitMs=10', jsonApi)).toBe(true);
    expect(isJsonApiUrl('/api/docs-json', jsonApi)).toBe(true);
    expect(isJsonApiUrl('/api/docs', jsonApi)).toBe(false);
    expect(isJsonApiUrl('/api/docs?x=1', jsonApi)).toBe(false);
    expect(isJsonApiUrl('/api/docs/swagger-ui.css', jsonApi)).toBe(false);
    expect(isJsonApiUrl('/?userId=3', jsonApi)).toBe(false);
    expect(isJsonApiUrl('/apix', jsonApi)).toBe(false);
  });

  it('keeps what a JSON response needs from helmet’s set and nothing document-only', async () => {
    const api = jsonApiHeaders(await helmetHeaders());
    expect(api).toEqual({
      'content-security-policy': JSON_API_CSP,
      'strict-transport-security': expect.stringContaining('max-age=31536000'),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-resource-policy': 'same-origin',
    });
  });

  it('says so when helmet stops sending a header it needs', () => {
    expect(() => jsonApiHeaders({ 'x-content-type-options': 'nosniff' })).toThrow(/strict-transport-security/);
  });
});
