import { connect, createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootstrapHttpApp } from './bootstrap';
import { baseEnvSchema } from './config/env.schema';
import { REQUEST_TIMEOUT_MS } from './http/body-limit';
import { PlatformModule } from './platform.module';

function appModule(env: Record<string, string>) {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'bootstrap-spec', envSchema: baseEnvSchema, defaultPort: 3999, env })],
  })
  class BootstrapSpecModule {}
  return BootstrapSpecModule;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('bootstrapHttpApp', () => {
  const signals = ['SIGTERM', 'SIGINT'] as const;
  let before: Map<NodeJS.Signals, unknown[]>;

  beforeEach(() => {
    before = new Map(signals.map((s) => [s, process.listeners(s)]));
  });
  afterEach(() => {
    // The shutdown watchdog stays armed for the life of a real process; not for the test runner's.
    for (const signal of signals) {
      process
        .listeners(signal)
        .filter((l) => !before.get(signal)?.includes(l))
        .forEach((l) => process.removeListener(signal, l));
    }
    jest.restoreAllMocks();
  });

  it('listens on HOST:PORT from the validated config and arms the shutdown watchdog', async () => {
    const port = await freePort();
    const app: NestFastifyApplication = await bootstrapHttpApp(
      appModule({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
    );
    try {
      expect(await app.getUrl()).toBe(`http://127.0.0.1:${port}`);
      const res = await fetch(`http://127.0.0.1:${port}/health/live`);
      expect(res.status).toBe(200);
      // The graceful shutdown and its watchdog both listen for each signal.
      for (const signal of signals)
        expect(process.listenerCount(signal) - (before.get(signal)?.length ?? 0)).toBeGreaterThanOrEqual(2);
    } finally {
      await app.close();
    }
  });

  it(
    'cuts off a request whose body never finishes arriving with a 408 after REQUEST_TIMEOUT_MS',
    async () => {
      const port = await freePort();
      const app = await bootstrapHttpApp(appModule({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' }));
      try {
        const started = Date.now();
        const answer = await new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          let data = '';
          socket.on('data', (chunk) => (data += chunk.toString()));
          socket.on('close', () => resolve(data));
          // A chunked JSON body whose first chunk never comes.
          socket.write(
            'POST /health/live HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n',
          );
        });
        expect(answer).toMatch(/^HTTP\/1\.1 408 /);
        expect(answer).toContain(`"message":"request not received in full within ${REQUEST_TIMEOUT_MS / 1000} s"`);
        expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
        expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
      } finally {
        await app.close();
      }
    },
    REQUEST_TIMEOUT_MS + 10_000,
  );

  it('logs the failure as JSON lines and exits 1 when the app cannot start', async () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as () => never);
    const output = new PassThrough();
    const chunks: string[] = [];
    output.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    await bootstrapHttpApp(appModule({ PORT: 'not-a-port', LOG_LEVEL: 'silent' }), { startupLogDestination: output });
    expect(exit).toHaveBeenCalledWith(1);
    const lines = chunks
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // Every line is JSON with the service the root module names: Nest's own report of the error, then ours.
    expect(lines.every((line) => line['service'] === 'bootstrap-spec')).toBe(true);
    expect(lines.at(-1)).toMatchObject({
      level: 'fatal',
      context: 'Bootstrap',
      msg: 'bootstrap-spec failed to start',
      err: {
        type: 'EnvValidationError',
        message: expect.stringContaining('PORT: must be an integer between 1 and 65535 (got "not-a-port")'),
      },
    });
    expect(lines.find((line) => line['context'] === 'ExceptionHandler')).toMatchObject({
      level: 'error',
      err: { type: 'EnvValidationError' },
    });
  });
});
