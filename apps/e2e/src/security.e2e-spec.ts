import { request as httpRequest } from 'node:http';
import { launchChromium } from './support/browser';
import { SseStream } from './support/sse';
import { Stack } from './support/stack';

// The gateway's security properties as a client sees them over HTTP, against the built gateway
// processes: nothing secret in the logs, rate limits that hold across replicas, headers, CORS
// closed by default, the body limit, and no admin surface without a password.

const RATE_LIMIT = 40;

/** The lines an app logged, parsed (the output is JSON lines; anything else is skipped). */
function logLines(output: string[]): Array<Record<string, unknown>> {
  return output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A POST whose body has no Content-Length (chunked), which the early length check cannot see. */
function postChunked(url: string, chunks: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    // The server may answer and close before the whole body is sent.
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('security of the gateway, as separate processes', () => {
  let stack: Stack;

  beforeAll(async () => {
    // Workers are not needed here: nothing waits for a build.
    stack = await Stack.start({ users: 600, apps: [], env: { RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) } });
    await stack.startApp('gateway', { LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps tokens and stream tickets out of the gateway’s logs', async () => {
    const token = await stack.login(3);
    expect((await stack.get('/api/pages/dashboard', token)).status).toBe(200);
    const ticketResponse = await fetch(`${stack.url()}/api/auth/stream-ticket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    const { ticket } = (await ticketResponse.json()) as { ticket: string };
    const stream = await SseStream.open(
      `${stack.url()}/api/pages/dashboard/stream?ticket=${encodeURIComponent(ticket)}`,
    );
    expect(stream.status).toBe(200);
    await stream.waitFor((events) => events.some((e) => e.event === 'heartbeat'));
    stream.close();
    // Secrets where they do not belong are still kept out: a token in a query string, a bad token.
    expect((await stack.get(`/api/pages/dashboard?token=${token}`, token)).status).toBe(400);
    expect((await stack.get(`/api/fragments/feed?ticket=${ticket}`, `${token}x`)).status).toBe(401);

    const gateway = stack.app('gateway');
    const lines = async () => {
      for (let i = 0; i < 50; i++) {
        const parsed = logLines(gateway.output);
        if (
          parsed.filter((l) => (l['req'] as { url?: string } | undefined)?.url?.startsWith('/api/fragments/feed'))
            .length > 0
        )
          return parsed;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`request lines never logged:\n${gateway.tail()}`);
    };
    const logged = await lines();
    const text = gateway.output.join('');
    // Not the whole credential, nor its signature, nor its payload part.
    for (const secret of [token, ticket, ...token.split('.').slice(1), ...ticket.split('.').slice(1)]) {
      expect(text.includes(secret)).toBe(false);
    }
    // The lines are there, with the credentials cut out rather than the lines dropped.
    const urls = logged
      .map((l) => (l['req'] as { url?: string } | undefined)?.url)
      .filter((u): u is string => u !== undefined);
    expect(urls).toContain('/api/pages/dashboard/stream?ticket=[Redacted]');
    expect(urls).toContain('/api/pages/dashboard?token=[Redacted]');
    // Request lines carry no headers at all (so no Authorization to redact), but do carry their id.
    const requestLines = logged.filter((l) => l['req'] !== undefined);
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.filter((l) => (l['req'] as { headers?: unknown }).headers !== undefined)).toEqual([]);
    expect(
      requestLines.every((l) => typeof l['reqId'] === 'string' && l['reqId'] === (l['req'] as { id?: unknown }).id),
    ).toBe(true);
  });

  it('holds one viewer’s rate limit across two gateway replicas (counters in Redis)', async () => {
    await stack.startApp('gateway-2');
    const token = await stack.login(7);
    const statuses: number[] = [];
    for (let i = 0; i < RATE_LIMIT; i++)
      statuses.push((await stack.get('/api/pages/dashboard', token, i % 2 === 0 ? 'gateway' : 'gateway-2')).status);
    expect(statuses).toEqual(Array(RATE_LIMIT).fill(200));
    for (const replica of ['gateway', 'gateway-2'] as const) {
      const refused = await stack.get('/api/pages/dashboard', token, replica);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { message: string }).message).toMatch(
        /^rate limit exceeded: at most 40 requests per minute for this viewer/,
      );
    }
    // Another viewer is not affected, and probes never are.
    expect((await stack.get('/api/pages/dashboard', await stack.login(8), 'gateway-2')).status).toBe(200);
    expect((await stack.get('/health/ready')).status).toBe(200);
    expect(await stack.metric('gateway', 'rate_limit_rejections_total', { scope: 'api' })).toBeGreaterThanOrEqual(1);
  });

  it('sends security headers, also on event streams, and keeps CORS closed by default', async () => {
    const token = await stack.login(9);
    const api = await stack.get('/api/pages/dashboard', token);
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    const stream = await SseStream.open(`${stack.url()}/api/pages/dashboard/stream`, {
      authorization: `Bearer ${token}`,
      origin: 'https://evil.example',
    });
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(stream.response.headers.get('access-control-allow-origin')).toBeNull();
    stream.close();
    const preflight = await fetch(`${stack.url()}/api/posts`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('refuses a body over 64 KiB with 413 and a clear message, with or without a Content-Length', async () => {
    const token = await stack.login(10);
    const big = JSON.stringify({ body: 'x'.repeat(70_000) });
    const response = await fetch(`${stack.url()}/api/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: big,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'request body too large: at most 65536 bytes (64 KiB)',
    });
    const chunked = await postChunked(`${stack.url()}/api/auth/dev-login`, [big.slice(0, 40_000), big.slice(40_000)]);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ statusCode: 413, message: expect.stringMatching(/too large/i) });
    expect((await stack.get('/health/live')).status).toBe(200);
  });

  it('has no queue dashboard without an admin password, and documents the API', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      expect(
        (
          await fetch(`${stack.url()}${path}`, {
            headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
          })
        ).status,
      ).toBe(404);
    }
    const docs = await fetch(`${stack.url()}/api/docs-json`);
    expect(docs.status).toBe(200);
    expect(Object.keys(((await docs.json()) as { paths: object }).paths)).toContain('/api/fragments/{name}');
    expect((await fetch(`${stack.url()}/api/docs`)).headers.get('content-type')).toContain('text/html');
  });

  it('renders the swagger UI and the queue dashboard in Chromium without a single CSP violation', async () => {
    const admin = { username: 'admin', password: 'e2e-admin-password-0123' };
    await stack.startApp('gateway-3', { ADMIN_PASSWORD: admin.password });
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ httpCredentials: admin });
      const visit = async (path: string, rendered: string) => {
        const page = await context.newPage();
        const violations: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
        });
        await page.addInitScript(() => {
          document.addEventListener('securitypolicyviolation', (event) =>
            console.error(`Content Security Policy: ${event.violatedDirective} ${event.blockedURI}`),
          );
        });
        await page.goto(`${stack.url('gateway-3')}${path}`);
        await page.waitForSelector(rendered, { timeout: 20_000 });
        await page.close();
        return violations;
      };
      // Swagger UI lists the operations (its script ran); bull-board lists the queues (its app ran).
      expect(await visit('/api/docs', '.opblock-summary-path')).toEqual([]);
      expect(await visit('/admin/queues', 'text=invalidations')).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
