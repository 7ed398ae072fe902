import { type AppName, Stack } from './support/stack';

// MANAGEMENT_PORT as the k8s manifests set it, on the built apps: every app serves /metrics and its
// probes (the gateway also its queue dashboard) on the management port only, and 404s them on PORT.
// (Without MANAGEMENT_PORT the public port serves them: contract.e2e-spec.ts.)

const ADMIN_PASSWORD = 'management-e2e-password';
const ADMIN_AUTH = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const PROBES = ['/metrics', '/health/live', '/health/ready'];
const APPS: readonly AppName[] = ['gateway', 'feed-worker', 'invalidation-worker'];

describe('management port', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      users: 600,
      apps: APPS,
      managementPorts: true,
      env: { ADMIN_PASSWORD },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const statusOf = async (url: string): Promise<number> => {
    const response = await fetch(url, { headers: { authorization: ADMIN_AUTH } });
    await response.arrayBuffer();
    return response.status;
  };

  it('answers /metrics and the probes on every app’s management port, and 404 on its public port', async () => {
    for (const app of APPS) {
      expect(stack.managementUrl(app)).not.toBe(stack.url(app));
      for (const path of PROBES) {
        expect({ app, path, management: await statusOf(`${stack.managementUrl(app)}${path}`) }).toEqual({
          app,
          path,
          management: 200,
        });
        expect({ app, path, public: await statusOf(`${stack.url(app)}${path}`) }).toEqual({ app, path, public: 404 });
      }
    }
    expect(await stack.metric('gateway', 'process_start_time_seconds', {})).toBeGreaterThan(0);
  });

  it('moves the queue dashboard to the gateway’s management port, read-only', async () => {
    expect(await statusOf(`${stack.managementUrl()}/admin/queues/api/queues`)).toBe(200);
    expect(await statusOf(`${stack.url()}/admin/queues`)).toBe(404);
    expect(await statusOf(`${stack.url()}/admin/queues/api/queues`)).toBe(404);
    const pause = await fetch(`${stack.managementUrl()}/admin/queues/api/queues/feed/pause`, {
      method: 'PUT',
      headers: { authorization: ADMIN_AUTH },
    });
    expect(pause.status).toBe(405);
  });

  it('serves the API on the public port as before, and not on the management port', async () => {
    const token = await stack.login(3);
    expect((await stack.get('/api/pages/dashboard', token)).status).not.toBe(404);
    const onManagement = await fetch(`${stack.managementUrl()}/api/pages/dashboard`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(onManagement.status).toBe(404);
  });
});
