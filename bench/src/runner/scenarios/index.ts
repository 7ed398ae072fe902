import type { BenchContext } from '../context';
import type { ScenarioResult } from '../report';
import { burst } from './burst';
import { capacity } from './capacity';
import { engineVsBull } from './engine-vs-bull';
import { fanout } from './fanout';
import { freshness } from './freshness';
import { liveness } from './liveness';
import { memorySoak } from './memory-soak';
import { redisCluster } from './redis-cluster';
import { replicas } from './replicas';
import { scale } from './scale';
import { storm } from './storm';
import { timeToFragment } from './time-to-fragment';
import { versionZero } from './version-zero';
import { warmFloor } from './warm-floor';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly run: (ctx: BenchContext, earlier: readonly ScenarioResult[]) => Promise<ScenarioResult>;
  /** false: left out of `--quick` (the smoke test) unless named in `--only`, its set-up alone being too slow for it. */
  readonly quick?: false;
}

/**
 * In the order they run: the engine-only scenarios first (Redis and bench workers only, before the
 * gateway and workers exist, so no idle process of the stack takes part), then the whole system,
 * and the soaks last (the memory soak also reports the peak memory of every earlier scenario).
 */
export const SCENARIOS: readonly Scenario[] = [
  { id: 'engine-vs-bull', title: '3. Engine vs raw Bull', run: engineVsBull },
  { id: 'scale', title: '5. Horizontal scale', run: scale },
  { id: 'version-zero', title: '1. Version zero vs the worker pattern', run: versionZero },
  { id: 'warm-floor', title: '2. Warm page vs the floor', run: warmFloor },
  { id: 'burst', title: '4. One build per burst', run: burst },
  { id: 'time-to-fragment', title: '6. Time to fragment', run: timeToFragment },
  { id: 'freshness', title: '8. Freshness: a post reaches a follower’s feed', run: freshness },
  { id: 'replicas', title: '9. Read replicas: builder throughput and freshness', run: replicas },
  // Starts a Redis Cluster, a Redis and a gateway and workers on each: about 45 s even with --quick.
  {
    id: 'redis-cluster',
    title: '10. Redis Cluster beside single Redis: warm page and engine',
    run: redisCluster,
    quick: false,
  },
  { id: 'fanout', title: '11. A post by an account with a million followers', run: fanout },
  { id: 'storm', title: '13. A storm of follows on one user', run: storm },
  { id: 'liveness', title: '12. Liveness: open dashboards over a soak', run: liveness },
  { id: 'capacity', title: '14. Capacity model: predicted against measured', run: capacity },
  { id: 'memory', title: '7. Memory and the soak', run: memorySoak },
];
