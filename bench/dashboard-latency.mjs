#!/usr/bin/env node
// Cold and warm dashboard latency against a running stack (npm start).
// Cold: every request is a viewer whose fragments are not cached (the gateway answers `pending`
// and enqueues); warm: the same viewers again once their fragments are built.
// Usage: node bench/dashboard-latency.mjs [--url http://127.0.0.1:3000] [--viewers 2000] [--connections 50] [--first 5001]
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    viewers: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '50' },
    first: { type: 'string', default: '5001' },
  },
});
const url = values.url;
const viewers = Number(values.viewers);
const connections = Number(values.connections);
const first = Number(values.first);

async function login(userId) {
  const response = await fetch(`${url}/api/auth/dev-login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!response.ok) throw new Error(`dev-login ${response.status}`);
  return (await response.json()).token;
}

async function run(title, tokens) {
  let next = 0;
  const result = await autocannon({
    url: `${url}/api/pages/dashboard`,
    connections,
    amount: tokens.length,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${tokens[next++ % tokens.length]}` } }) }],
  });
  const { p50, p99, max } = result.latency;
  console.log(`${title}: ${result.requests.total} requests, ${result.non2xx} non-2xx, p50 ${p50} ms, p99 ${p99} ms, max ${max} ms, ${Math.round(result.requests.average)} req/s`);
  return result;
}

async function waitUntilBuilt(tokens) {
  for (const token of tokens) {
    for (;;) {
      const page = await (await fetch(`${url}/api/pages/dashboard?waitMs=2000`, { headers: { authorization: `Bearer ${token}` } })).json();
      if (Object.values(page.fragments).every((f) => f.status === 'ready')) break;
    }
  }
}

const tokens = await Promise.all(Array.from({ length: viewers }, (_, i) => login(first + i)));
await run('cold dashboard (every viewer uncached)', tokens);
const started = Date.now();
await waitUntilBuilt(tokens);
console.log(`all ${viewers} dashboards built ${Date.now() - started} ms after the cold run ended`);
await run('warm dashboard (same viewers, cached)', tokens);
await run('warm dashboard (same viewers, cached, again)', tokens);
