import { PassThrough } from 'node:stream';
import { Controller, Get, Logger, Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import { register } from 'prom-client';
import { z } from 'zod';
import { createHttpApp } from './bootstrap';
import { AppConfig } from './config/app-config.service';
import { envString } from './config/env.fields';
import { baseEnvSchema } from './config/env.schema';
import { EnvValidationError } from './config/env.validation';
import { PlatformModule } from './platform.module';
import type { EnvOf } from './platform.options';
import { MemoryLogStream } from './testing/memory-log.stream';

// Everything PlatformModule does without an external service: config, logging, liveness, metrics.
// Readiness against real Redis and Postgres is in platform.int-spec.ts.

const testEnvSchema = baseEnvSchema.extend({ GREETING: envString() });
type TestEnv = EnvOf<typeof testEnvSchema>;

@Controller('probe')
class ProbeController {
  private readonly logger = new Logger(ProbeController.name);

  constructor(private readonly config: AppConfig<TestEnv>) {}

  @Get('boom')
  boom(): never {
    throw new Error('boom');
  }

  @Get()
  probe(): { port: number; greeting: string; unknown: unknown } {
    this.logger.log({ user: { name: 'ada', password: 'hunter2' }, token: 'tok-1', secret: 's3' }, 'probe called');
    this.logger.warn('probe warned');
    return {
      port: this.config.get('PORT', { infer: true }),
      greeting: this.config.get('GREETING', { infer: true }),
      // Not in the schema: must not fall through to process.env.
      unknown: this.config.get('PATH' as keyof TestEnv),
    };
  }
}

function rootModule(env: Record<string, string>, logStream?: MemoryLogStream) {
  @Module({
    imports: [
      PlatformModule.forRoot({ service: 'platform-spec', envSchema: testEnvSchema, defaultPort: 3999, env, logStream }),
    ],
    controllers: [ProbeController],
  })
  class TestAppModule {}
  return TestAppModule;
}

describe('PlatformModule (no external services)', () => {
  let app: NestFastifyApplication;
  const logs = new MemoryLogStream();

  beforeAll(async () => {
    app = await createHttpApp(rootModule({ GREETING: 'hello', LOG_LEVEL: 'info' }, logs));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

  it('answers /health/live with 200 and checks nothing', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
    expect(res.headers['cache-control']).toContain('no-cache');
  });

  it('answers /health/ready with 200 when the app configured nothing to check', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', details: {} });
  });

  it('serves Prometheus text with default metrics labelled with the service', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(register.contentType);
    expect(res.body).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(res.body).toMatch(/^nodejs_eventloop_lag_seconds\{service="platform-spec"\} /m);
  });

  it('gives typed config values from the validated env, and nothing outside the schema', async () => {
    const res = await app.inject({ method: 'GET', url: '/probe' });
    expect(res.json()).toEqual({ port: 3999, greeting: 'hello' });
    expect(app.get<AppConfig<TestEnv>>(AppConfig).get('PORT', { infer: true })).toBe(3999);
  });

  it('echoes a caller x-request-id and makes one when absent', async () => {
    const given = await app.inject({ method: 'GET', url: '/probe', headers: { 'x-request-id': 'req-abc-1' } });
    expect(given.headers['x-request-id']).toBe('req-abc-1');
    const made = await app.inject({ method: 'GET', url: '/health/live' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await app.inject({
      method: 'GET',
      url: '/probe',
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(refused.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs one JSON line per request with its id, and redacts secrets', async () => {
    await app.inject({
      method: 'GET',
      url: '/probe?ticket=t-secret&x=1',
      headers: { 'x-request-id': 'req-log-1', authorization: 'Bearer abc.def', cookie: 'sid=123' },
    });
    const done = await logs.waitFor((l) => l.msg === 'request completed' && l['reqId'] === 'req-log-1');
    expect(done).toMatchObject({
      level: 'info',
      service: 'platform-spec',
      req: { id: 'req-log-1', method: 'GET', url: '/probe?ticket=[Redacted]&x=1' },
      res: { statusCode: 200 },
    });
    expect(typeof done['responseTime']).toBe('number');
    const appLine = await logs.waitFor((l) => l.msg === 'probe called');
    expect(appLine).toMatchObject({
      level: 'info',
      service: 'platform-spec',
      context: 'ProbeController',
      user: { name: 'ada', password: '[Redacted]' },
      token: '[Redacted]',
      secret: '[Redacted]',
    });
    expect(JSON.stringify(logs.lines)).not.toMatch(/abc\.def|sid=123|hunter2|tok-1|t-secret/);
  });

  it('logs failed requests at warn and error', async () => {
    await app.inject({ method: 'GET', url: '/no-such-route', headers: { 'x-request-id': 'req-404' } });
    await app.inject({ method: 'GET', url: '/probe/boom', headers: { 'x-request-id': 'req-500' } });
    expect(await logs.waitFor((l) => l['reqId'] === 'req-404')).toMatchObject({
      level: 'warn',
      msg: 'request completed',
      res: { statusCode: 404 },
    });
    expect(await logs.waitFor((l) => l['reqId'] === 'req-500' && l.msg === 'request errored')).toMatchObject({
      level: 'error',
      res: { statusCode: 500 },
    });
  });

  it('does not log probe and scrape requests', async () => {
    await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'quiet-1' } });
    await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-request-id': 'quiet-2' } });
    await app.inject({ method: 'GET', url: '/probe', headers: { 'x-request-id': 'loud-1' } });
    await logs.waitFor((l) => l['reqId'] === 'loud-1');
    expect(JSON.stringify(logs.lines)).not.toMatch(/quiet-[12]/);
  });

  it('honours LOG_LEVEL', async () => {
    const quiet = new MemoryLogStream();
    // nestjs-pino keeps one root logger per process (the first app's); production runs one app per process.
    __resetOutOfContextForTests();
    const other = await createHttpApp(rootModule({ GREETING: 'x', LOG_LEVEL: 'warn' }, quiet));
    try {
      await other.init();
      await other.inject({ method: 'GET', url: '/probe', headers: { 'x-request-id': 'lvl-1' } });
      await other.inject({ method: 'GET', url: '/no-such-route', headers: { 'x-request-id': 'lvl-2' } });
      await quiet.waitFor((l) => l['reqId'] === 'lvl-2');
      // The warn line and the 404's (warn) request line made it; the info lines and the 200's did not.
      expect(quiet.lines.map((l) => l.msg)).toEqual(['probe warned', 'request completed']);
      expect(quiet.lines.some((l) => l['reqId'] === 'lvl-1')).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('refuses to start on a bad environment, naming every bad variable', async () => {
    const startupLog = new PassThrough();
    const attempt = createHttpApp(rootModule({ PORT: '12abc', LOG_LEVEL: 'loud' }), {
      startupLogDestination: startupLog,
    });
    await expect(attempt).rejects.toBeInstanceOf(EnvValidationError);
    await expect(attempt).rejects.toThrow(
      [
        'Invalid environment configuration (3 problems):',
        '  PORT: must be an integer between 1 and 65535 (got "12abc")',
        '  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        '  GREETING: is required',
      ].join('\n'),
    );
    // Nest reports it too, as JSON, before the app's own logger could exist.
    const lines = String(startupLog.read())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l['context'] === 'ExceptionHandler')).toMatchObject({
      level: 'error',
      context: 'ExceptionHandler',
      err: { type: 'EnvValidationError' },
    });
  });
});

describe('MANAGEMENT_PORT', () => {
  it('refuses to start when it equals PORT, whatever the app schema', async () => {
    const attempt = createHttpApp(rootModule({ PORT: '4100', MANAGEMENT_PORT: '4100', GREETING: 'hi' }), {
      startupLogDestination: new PassThrough(),
    });
    await expect(attempt).rejects.toThrow(/MANAGEMENT_PORT: must differ from PORT \(4100\)/);
  });
});

// Checked by `typecheck`: each @ts-expect-error fails the build if the line stops being an error.
describe('config typing', () => {
  it('rejects a schema without the base variables, and defaults for unknown variables', () => {
    const base = { service: 'x', defaultPort: 1 };
    const noBase = () =>
      // @ts-expect-error PlatformModule needs at least baseEnvSchema's variables
      PlatformModule.forRoot({ ...base, envSchema: z.object({ A: envString() }) });
    // @ts-expect-error GREETNG is not a variable of the schema
    const typo = () => PlatformModule.forRoot({ ...base, envSchema: testEnvSchema, envDefaults: { GREETNG: 'hi' } });
    const fine = () =>
      PlatformModule.forRoot({
        service: 'x',
        envSchema: testEnvSchema,
        defaultPort: 1,
        envDefaults: { GREETING: 'hi' },
      });
    expect([noBase, typo, fine].every((f) => typeof f === 'function')).toBe(true);
  });

  it('types config values from the schema', () => {
    const read = (config: AppConfig<TestEnv>) => {
      const port = config.get('PORT', { infer: true });
      const asNumber: number = port;
      // @ts-expect-error PORT is a number, not a string
      const asString: string = port;
      return [asNumber, asString];
    };
    expect(read).toBeInstanceOf(Function);
  });
});
