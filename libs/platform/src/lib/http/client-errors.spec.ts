import { Controller, Get, Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { maxHeaderSize } from 'node:http';
import { connect } from 'node:net';
import { createHttpApp } from '../bootstrap';
import { baseEnvSchema } from '../config/env.schema';
import { PlatformModule } from '../platform.module';
import { describeClientError } from './client-errors';

let probeCalls = 0;

@Controller('probe')
class ProbeController {
  @Get()
  get(): { ok: true } {
    probeCalls += 1;
    return { ok: true };
  }
}

@Module({
  imports: [
    PlatformModule.forRoot({
      service: 'client-errors-spec',
      envSchema: baseEnvSchema,
      defaultPort: 3999,
      env: { LOG_LEVEL: 'silent' },
    }),
  ],
  controllers: [ProbeController],
})
class ClientErrorsSpecModule {}

interface RawExchange {
  /** Everything the server sent. */
  readonly data: string;
  /** The server ended the connection (FIN) rather than resetting it. */
  readonly ended: boolean;
  readonly error?: string;
}

/** Writes `chunks` on a fresh socket, a few ms apart, and collects what comes back until it closes. */
function exchange(port: number, chunks: string[]): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let ended = false;
    let error: string | undefined;
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('end', () => (ended = true));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    socket.on('close', () => resolve({ data, ended, error }));
    const send = (i: number): void => {
      if (i >= chunks.length || socket.destroyed) return;
      socket.write(chunks[i], () => setTimeout(() => send(i + 1), 5));
    };
    send(0);
  });
}

function parse(answer: string): { status: number; headers: string; body: { message?: string; statusCode?: number } } {
  const headEnd = answer.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0),
    headers: answer.slice(0, headEnd).toLowerCase(),
    body: JSON.parse(answer.slice(headEnd + 4)) as { message?: string; statusCode?: number },
  };
}

describe('requests Node cannot parse (createHttpApp)', () => {
  let app: NestFastifyApplication;
  let port: number;

  beforeAll(async () => {
    app = await createHttpApp(ClientErrorsSpecModule);
    await app.listen(0, '127.0.0.1');
    port = Number(new URL(await app.getUrl()).port);
  });
  afterAll(() => app.close());

  it('answers headers over the limit with 431, a message and Connection: close; the next request is served', async () => {
    const url = `http://127.0.0.1:${port}/probe`;
    for (let i = 0; i < 20; i++) {
      const refused = await fetch(url, { headers: { 'x-padding': 'x'.repeat(maxHeaderSize + 100) } });
      expect(refused.status).toBe(431);
      // Without it a keep-alive client may reuse the connection the server is closing.
      expect(refused.headers.get('connection')).toBe('close');
      const body = (await refused.json()) as { statusCode: number; message: string };
      expect(body).toEqual({
        statusCode: 431,
        error: 'Request Header Fields Too Large',
        message: expect.stringContaining(`at most ${maxHeaderSize} bytes`),
      });
      const next = await fetch(url);
      expect(next.status).toBe(200);
      await next.text();
    }
  });

  it('lets a client still sending an oversized request read the whole answer before the connection ends', async () => {
    // Megabytes in one write: a socket destroyed with them unread resets the connection, and the
    // reset can discard the answer before the client reads it.
    const request = `GET /probe HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(5 * 1024 * 1024)}\r\n\r\n`;
    const result = await exchange(port, [request]);
    expect({ ended: result.ended, error: result.error }).toEqual({ ended: true, error: undefined });
    const answer = parse(result.data);
    expect(answer.status).toBe(431);
    expect(answer.headers).toContain('connection: close');
    expect(answer.body.statusCode).toBe(431);
  });

  it('answers a malformed request with 400 naming what is wrong, and runs nothing that follows it', async () => {
    const calls = probeCalls;
    const result = await exchange(port, [
      'GET /probe HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n',
      'GET /probe HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    expect(result.ended).toBe(true);
    const answer = parse(result.data);
    expect(answer.status).toBe(400);
    expect(answer.headers).toContain('connection: close');
    expect(answer.body.message).toMatch(/^malformed HTTP request: \S/);
    expect(probeCalls).toBe(calls);
  });

  it('answers a whole request before bad bytes pipelined behind it, and then closes the connection', async () => {
    const calls = probeCalls;
    const result = await exchange(port, ['GET /probe HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n']);
    expect(result.ended).toBe(true);
    // The first answer is the request's own, not an error it would be mistaken for.
    expect(result.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(result.data.endsWith('{"ok":true}')).toBe(true);
    expect(result.data.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(probeCalls).toBe(calls + 1);
  });
});

describe('describeClientError', () => {
  it('names the limit, the timeout, or llhttp’s reason without echoing the client’s bytes', () => {
    expect(describeClientError(Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW' })).status).toBe(431);
    expect(describeClientError(Object.assign(new Error('x'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }))).toEqual({
      status: 408,
      message: 'request not received in full within 10 s',
    });
    expect(
      describeClientError(
        Object.assign(new Error('x'), { code: 'HPE_INVALID_METHOD', reason: 'Invalid method\u0000\n' }),
      ),
    ).toEqual({ status: 400, message: 'malformed HTTP request: Invalid method' });
    expect(describeClientError(new Error('x'))).toEqual({ status: 400, message: 'malformed HTTP request' });
  });
});
