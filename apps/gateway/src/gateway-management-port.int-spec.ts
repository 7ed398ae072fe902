import { listenHttpApp, managementPortOf } from '@worker-pattern/platform';
import { freePort } from '@worker-pattern/platform/processes';
import { GatewayTestApp } from './testing/gateway-test-app';

// The gateway as main.ts listens (listenHttpApp), over real sockets: with MANAGEMENT_PORT set the
// operator routes answer there only; unset, the public port serves them as it always did.

const ADMIN_AUTH = `Basic ${Buffer.from('admin:management-test-password').toString('base64')}`;
const OPERATOR_ROUTES = ['/metrics', '/health/live', '/health/ready', '/admin/queues', '/admin/queues/api/queues'];

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, { ...init, headers: { authorization: ADMIN_AUTH, ...init.headers } });
  await response.arrayBuffer();
  return response.status;
}

describe('gateway with MANAGEMENT_PORT set', () => {
  let gateway: GatewayTestApp;
  let publicUrl: string;
  let managementUrl: string;

  beforeAll(async () => {
    const [port, managementPort] = [await freePort(), await freePort()];
    gateway = await GatewayTestApp.start({
      seed: false,
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        MANAGEMENT_PORT: String(managementPort),
        ADMIN_PASSWORD: 'management-test-password',
      },
    });
    await listenHttpApp(gateway.app);
    publicUrl = `http://127.0.0.1:${port}`;
    managementUrl = `http://127.0.0.1:${managementPort}`;
  }, 60_000); // a gateway starts: slow on a busy machine
  afterAll(async () => {
    await gateway?.close();
  });

  it('answers /metrics, the probes and the queue dashboard on the management port', async () => {
    expect(managementPortOf(gateway.app)?.address()).toMatchObject({ address: '127.0.0.1' });
    for (const route of OPERATOR_ROUTES) {
      expect({ route, status: await status(`${managementUrl}${route}`) }).toEqual({ route, status: 200 });
    }
    const metrics = await (await fetch(`${managementUrl}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total');
    // The board still wants the admin credentials there.
    expect((await fetch(`${managementUrl}/admin/queues/api/queues`)).status).toBe(401);
  });

  it('answers 404 for them on the public port, in any spelling, as for a route that does not exist', async () => {
    const unknown = await fetch(`${publicUrl}/no-such-route`);
    const unknownBody = (await unknown.json()) as { statusCode: number };
    for (const route of [...OPERATOR_ROUTES, '/METRICS', '/metrics/', '//metrics', '/health/ready?x=1']) {
      const response = await fetch(`${publicUrl}${route}`, { headers: { authorization: ADMIN_AUTH } });
      expect({ route, status: response.status }).toEqual({ route, status: 404 });
      expect(response.headers.get('x-request-id')).toBeTruthy();
      expect(Object.keys((await response.json()) as object).sort()).toEqual(Object.keys(unknownBody).sort());
    }
  });

  it('serves the public routes on the public port only', async () => {
    expect(await status(`${publicUrl}/api/pages/dashboard`)).toBe(401);
    expect(await status(`${managementUrl}/api/pages/dashboard`)).toBe(404);
    expect(await status(`${managementUrl}/api/auth/dev-login`, { method: 'POST' })).toBe(404);
  });

  it('is read-only: a state-changing request on the management port answers 405 naming the rule', async () => {
    const response = await fetch(`${managementUrl}/admin/queues/api/queues/feed/pause`, {
      method: 'PUT',
      headers: { authorization: ADMIN_AUTH, origin: managementUrl },
    });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect(await response.json()).toMatchObject({ message: expect.stringContaining('read-only') });
    // The board knows it, so it offers no buttons that would answer 405.
    const queues = (await (
      await fetch(`${managementUrl}/admin/queues/api/queues`, { headers: { authorization: ADMIN_AUTH } })
    ).json()) as { queues: Array<{ readOnlyMode: boolean }> };
    expect(queues.queues.map((q) => q.readOnlyMode)).toEqual(queues.queues.map(() => true));
  });
});

describe('gateway with MANAGEMENT_PORT unset', () => {
  let gateway: GatewayTestApp;
  let publicUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    gateway = await GatewayTestApp.start({
      seed: false,
      env: { HOST: '127.0.0.1', PORT: String(port), ADMIN_PASSWORD: 'management-test-password' },
    });
    await listenHttpApp(gateway.app);
    publicUrl = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
  });

  it('serves /metrics, the probes and the queue dashboard on the public port, as before', async () => {
    expect(managementPortOf(gateway.app)).toBeUndefined();
    for (const route of OPERATOR_ROUTES) {
      expect({ route, status: await status(`${publicUrl}${route}`) }).toEqual({ route, status: 200 });
    }
  });
});
