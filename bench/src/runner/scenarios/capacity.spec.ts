import { predictOnThisMachine, size, type UnitCosts } from './capacity';

const costs: UnitCosts = {
  warm: { gateway: 100, redis: 40, client: 60 },
  build: {
    worker: { a: 1_000, b: 3_000 },
    postgres: 500,
    redis: 200,
    gateway: 100,
    client: 200,
    latencyMs: { a: 5, b: 20 },
  },
  streamPerSecond: 1,
};

describe('the capacity model', () => {
  it('predicts a machine serves its cores over the CPU one unit costs across every process', () => {
    // Warm: 2 cores / 200 µs = 10,000 pages/s. Builds: mean worker 2,000 + 500 + 200 + 100 + 200 = 3,000 µs.
    expect(predictOnThisMachine(costs, 2)).toEqual({ warmPages: 10_000, builds: 2_000 / 3 });
  });

  it('sizes each part from the load, at the target utilisation, one core a pod', () => {
    // 10,000 pages/s with 0.1 builds per fragment: 2,000 builds/s, 1,000 of each fragment.
    const s = size(costs, 10_000, 0.1);
    expect(s.buildsPerSecond).toBe(2_000);
    // Gateway: (10,000 × 100 + 2,000 × 100) µs = 1.2 cores / 0.6 = 2 pods.
    expect(s.gatewayPods).toBe(2);
    // Redis: (10,000 × 40 + 2,000 × 200) µs = 0.8 cores / 0.6 → 2 shards.
    expect(s.redisShards).toBe(2);
    // Workers: a 1,000 × 1 ms = 1 core / 0.6 → 2 pods; b 1,000 × 3 ms = 3 / 0.6 = 5 pods.
    expect(s.workerPods).toEqual({ a: 2, b: 5 });
    // Postgres: 2,000 × 500 µs = 1 core / 0.6.
    expect(s.postgresCores).toBeCloseTo(1 / 0.6);
  });

  it('never sizes a part below one pod', () => {
    expect(size(costs, 1, 0).gatewayPods).toBe(1);
  });
});
