#!/usr/bin/env node
// Time from opening a page stream to each fragment's `ready` event, for cold viewers, against the
// builders' own build time (from the workers' fragment_build_seconds). Needs a running stack.
// Usage: node bench/time-to-fragment.mjs [--url http://127.0.0.1:3000] [--viewers 300] [--concurrency 10] [--first 4001]
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    viewers: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '10' },
    first: { type: 'string', default: '4001' },
    'worker-ports': { type: 'string', default: '3001,3002,3003' },
  },
});
const FRAGMENTS = ['profile', 'feed', 'recommendations'];
const url = values.url;

async function login(userId) {
  const response = await fetch(`${url}/api/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
  return (await response.json()).token;
}

/** Opens the stream and resolves with ms from request to each fragment's ready event. */
async function timeStream(token) {
  const started = performance.now();
  const controller = new AbortController();
  const response = await fetch(`${url}/api/pages/dashboard/stream`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  const times = {};
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (!block.includes('event: fragment') || !data) continue;
        const event = JSON.parse(data.slice(6));
        if (event.status === 'ready' && times[event.name] === undefined) times[event.name] = performance.now() - started;
      }
      if (FRAGMENTS.every((f) => times[f] !== undefined)) break;
    }
  } finally {
    controller.abort();
  }
  return times;
}

async function buildSeconds() {
  const out = {};
  for (const [i, port] of values['worker-ports'].split(',').entries()) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const sum = Number(/fragment_build_seconds_sum\{[^}]*\} (\S+)/.exec(text)?.[1] ?? 0);
    const count = Number(/fragment_build_seconds_count\{[^}]*\} (\S+)/.exec(text)?.[1] ?? 0);
    out[FRAGMENTS[i]] = { sum, count };
  }
  return out;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const viewers = Number(values.viewers);
const tokens = await Promise.all(Array.from({ length: viewers }, (_, i) => login(Number(values.first) + i)));
const before = await buildSeconds();
const results = [];
let next = 0;
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async () => {
    while (next < tokens.length) results.push(await timeStream(tokens[next++]));
  }),
);
const after = await buildSeconds();
console.log(`${viewers} cold viewers, ${values.concurrency} streams at a time`);
for (const name of FRAGMENTS) {
  const times = results.map((r) => r[name]).sort((a, b) => a - b);
  const builds = after[name].count - before[name].count;
  const meanBuild = builds > 0 ? ((after[name].sum - before[name].sum) / builds) * 1000 : NaN;
  console.log(
    `${name.padEnd(16)} request→ready event p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms; ` +
      `builder mean ${meanBuild.toFixed(1)} ms over ${builds} builds; overhead at p50 ≈ ${(percentile(times, 50) - meanBuild).toFixed(1)} ms`,
  );
}
