import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { BuildLane } from './fragment-job';
import { type CompletionTiming, type FailureTiming, FragmentStore, type FollowUpBuild } from './fragment-store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';

/**
 * Model-based test of the Lua store (fast-check `fc.commands`): random interleavings of requests,
 * claims, completions, failures, writes, the passing of time (the store's clock is the test's) and
 * evictions, against real Redis, checked against a small model of what the engine promises:
 *
 * - no older read ever overwrites a newer one (the stored version never goes back, eviction aside);
 * - a copy served `ready` is never older than the last write;
 * - at most one running build per copy, and a write never queues a build while one is queued or
 *   running (so builds do not multiply with the write rate);
 * - a copy asked for and then left alone is ready, with the latest data, within a bounded number of
 *   rounds of work.
 *
 * The "database" is a version number per copy; a build returns the version it read at its claim.
 * Replay a failure with FUZZ_SEED=<seed> (and the path fast-check prints).
 */
const SEED = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : Date.now() % 2_147_483_647;
const RUNS = Number(process.env['MODEL_RUNS'] ?? 2000);
const LEASE_MS = 30_000;
const KEYS = 2;

const timing: CompletionTiming = { ttlMs: 60_000, staleMs: 120_000, activeWindowMs: 600_000, leaseMs: LEASE_MS };
const failing = (final: boolean): FailureTiming => ({
  final,
  failedTtlMs: 1000,
  failedTtlCapMs: 8000,
  retryLeaseMs: LEASE_MS,
  leaseMs: LEASE_MS,
  activeWindowMs: 600_000,
});

interface Job {
  readonly id: string;
  readonly key: number;
  readonly lane: BuildLane;
  /** The queued lease it carries is live until then. */
  readonly leaseUntil: number;
  /** Claims of its copy when it was queued: a later claim took its lease over. */
  readonly claimsAtQueue: number;
  readonly epoch: number;
}

interface Running {
  readonly job: Job;
  readonly generation: number;
  readonly readVersion: number;
  until: number;
  readonly epoch: number;
}

/** What the test knows: the database, the jobs in the "queue" and the builds running. */
class Model {
  now = Date.now();
  readonly db = Array.from({ length: KEYS }, () => 1);
  readonly claims = Array.from({ length: KEYS }, () => 0);
  /** Bumped by an eviction: what was known about the copy before it is gone. */
  readonly epoch = Array.from({ length: KEYS }, () => 0);
  /** Highest data version seen stored, per copy and epoch. */
  readonly stored = Array.from({ length: KEYS }, () => 0);
  readonly asked = new Set<number>();
  jobs: Job[] = [];
  running: Running[] = [];
  private seq = 0;

  constructor(readonly prefix: string) {}

  key(k: number): string {
    return `${this.prefix}frag:{u1}:copy${k}`;
  }

  queue(k: number, generation: number, lane: BuildLane, leaseUntil: number): void {
    this.jobs.push({
      id: `job${++this.seq}.${generation}`,
      key: k,
      lane,
      leaseUntil,
      claimsAtQueue: this.claims[k]!,
      epoch: this.epoch[k]!,
    });
  }

  queueFollowUp(k: number, followUp: FollowUpBuild | undefined): void {
    if (followUp) this.queue(k, followUp.generation, followUp.lane, this.now + followUp.delayMs + LEASE_MS);
  }

  queuedLive(k: number): boolean {
    return this.jobs.some(
      (j) => j.key === k && j.epoch === this.epoch[k] && j.claimsAtQueue === this.claims[k] && j.leaseUntil > this.now,
    );
  }

  runningLive(k: number): Running[] {
    return this.running.filter((r) => r.job.key === k && r.epoch === this.epoch[k] && r.until > this.now);
  }
}

interface Real {
  readonly store: FragmentStore;
  readonly redis: Redis;
}

/** Checks what a read returned against the model. */
function checkRead(m: Model, k: number, status: string, dataJson: string | undefined): void {
  if (dataJson === undefined) return;
  const version = (JSON.parse(dataJson) as { v: number }).v;
  if (status === 'ready' && version !== m.db[k]) {
    throw new Error(`copy ${k} served ready with version ${version}, but the database is at ${m.db[k]}`);
  }
  if (version < m.stored[k]!) throw new Error(`copy ${k} went back from version ${m.stored[k]} to ${version}`);
  m.stored[k] = version;
}

class Resolve implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.asked.add(this.k);
    const [s] = await r.store.read([{ key: m.key(this.k), leaseMs: LEASE_MS }], true);
    checkRead(m, this.k, s!.status, s!.dataJson);
    if (s!.takenGeneration > 0) m.queue(this.k, s!.takenGeneration, 'interactive', m.now + LEASE_MS);
  }
  toString = () => `resolve(${this.k})`;
}

class Claim implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.jobs.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const job = m.jobs.splice(this.pick % m.jobs.length, 1)[0]!;
    const claim = await r.store.claim(m.key(job.key), job.id, LEASE_MS, job.lane);
    if (claim.outcome !== 'claimed') return;
    m.claims[job.key]! += 1;
    m.running.push({
      job,
      generation: claim.generation,
      readVersion: m.db[job.key]!,
      until: m.now + LEASE_MS,
      epoch: m.epoch[job.key]!,
    });
    const live = m.runningLive(job.key);
    if (live.length > 1) throw new Error(`copy ${job.key} has ${live.length} running builds`);
  }
  toString = () => `claim(#${this.pick})`;
}

class Complete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.running.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const run = m.running.splice(this.pick % m.running.length, 1)[0]!;
    const k = run.job.key;
    const data = JSON.stringify({ v: run.readVersion });
    const result = await r.store.complete(m.key(k), run.generation, run.job.id, data, 'b', timing);
    m.queueFollowUp(k, result.followUp);
    const [s] = await r.store.read([{ key: m.key(k), leaseMs: LEASE_MS }], false);
    checkRead(m, k, s!.status, s!.dataJson);
  }
  toString = () => `complete(#${this.pick})`;
}

class Fail implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly final: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.running.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const index = this.pick % m.running.length;
    const run = m.running[index]!;
    const result = await r.store.fail(
      m.key(run.job.key),
      run.generation,
      run.job.id,
      { message: 'x', code: 'build_failed' },
      failing(this.final),
      1,
    );
    if (result.outcome === 'retrying') {
      // Bull retries the same job, which claims again.
      run.until = m.now + LEASE_MS;
      m.running.splice(index, 1);
      m.jobs.push({ ...run.job, leaseUntil: m.now + LEASE_MS, claimsAtQueue: m.claims[run.job.key]! });
    } else {
      m.running.splice(index, 1);
      m.queueFollowUp(run.job.key, result.followUp);
    }
  }
  toString = () => `fail(#${this.pick}, ${this.final ? 'final' : 'retry'})`;
}

class Write implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.db[this.k]! += 1;
    const underWay = m.queuedLive(this.k) || m.runningLive(this.k).length > 0;
    const [result] = await r.store.invalidate([{ key: m.key(this.k), leaseMs: LEASE_MS }], 600_000);
    if (result!.outcome === 'rebuild') {
      if (underWay) throw new Error(`a write on copy ${this.k} queued a build while one was under way`);
      m.queue(this.k, result!.generation, 'background', m.now + LEASE_MS);
    }
  }
  toString = () => `write(${this.k})`;
}

class Tick implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model): Promise<void> {
    m.now += this.ms;
  }
  toString = () => `tick(${this.ms})`;
}

class Evict implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.redis.del(m.key(this.k));
    m.epoch[this.k]! += 1;
    m.stored[this.k] = 0;
  }
  toString = () => `evict(${this.k})`;
}

/**
 * The key left alone: finish what runs, build what is queued, and where nothing is under way ask
 * again (as a watching stream does when a lease runs out). Ready within a few rounds, with the
 * latest data, or the test fails.
 */
async function settle(m: Model, r: Real, k: number): Promise<void> {
  for (let round = 0; round < 6; round++) {
    for (const run of m.running.filter((x) => x.job.key === k)) {
      m.running.splice(m.running.indexOf(run), 1);
      const data = JSON.stringify({ v: run.readVersion });
      m.queueFollowUp(k, (await r.store.complete(m.key(k), run.generation, run.job.id, data, 'b', timing)).followUp);
    }
    while (m.jobs.some((j) => j.key === k)) {
      const job = m.jobs.splice(
        m.jobs.findIndex((j) => j.key === k),
        1,
      )[0]!;
      const claim = await r.store.claim(m.key(k), job.id, LEASE_MS, job.lane);
      if (claim.outcome !== 'claimed') continue;
      const data = JSON.stringify({ v: m.db[k] });
      m.queueFollowUp(k, (await r.store.complete(m.key(k), claim.generation, job.id, data, 'b', timing)).followUp);
    }
    const [s] = await r.store.read([{ key: m.key(k), leaseMs: LEASE_MS }], false);
    checkRead(m, k, s!.status, s!.dataJson);
    if (s!.status === 'ready') return;
    // Nothing under way, or a lease of a build that is not coming: ask again once the leases ran out.
    m.now += s!.waitMs + 1;
    const [asked] = await r.store.read([{ key: m.key(k), leaseMs: LEASE_MS }], true);
    if (asked!.takenGeneration > 0) m.queue(k, asked!.takenGeneration, 'interactive', m.now + LEASE_MS);
  }
  throw new Error(`copy ${k} asked for and left alone is still not ready after 6 rounds`);
}

describe('fragment store against a model (fast-check commands, real Redis)', () => {
  const prefix = uniqueTestPrefix('model');
  const redis = new Redis(TEST_REDIS_URL);

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it(`keeps its promises through ${RUNS} random interleavings (seed ${SEED})`, async () => {
    const key = fc.integer({ min: 0, max: KEYS - 1 });
    const commands = [
      key.map((k) => new Resolve(k)),
      fc.nat().map((i) => new Claim(i)),
      fc.nat().map((i) => new Complete(i)),
      fc.tuple(fc.nat(), fc.boolean()).map(([i, final]) => new Fail(i, final)),
      key.map((k) => new Write(k)),
      fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 20_000, max: 200_000 })).map((ms) => new Tick(ms)),
      key.map((k) => new Evict(k)),
    ];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (cmds) => {
        const m = new Model(`${prefix}${++run}:`);
        const real: Real = { store: new FragmentStore(redis, () => m.now), redis };
        await fc.asyncModelRun(() => ({ model: m, real }), cmds);
        for (const k of m.asked) await settle(m, real, k);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
