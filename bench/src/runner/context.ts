import type { MemorySampler } from './memory';
import type { BenchSystem } from './system';
import type { BenchStack } from './stack';

/** How big each scenario runs: the full bench, or `--quick` (every scenario, briefly). */
export interface BenchSizes {
  readonly quick: boolean;
  /** Interleaved repetitions of every A/B comparison. */
  readonly runs: number;
  /** Seconds of each throughput run (warm pages). */
  readonly loadSeconds: number;
  readonly connections: number;
  readonly coldGatewayViewers: number;
  readonly coldFatViewers: number;
  readonly completePageViewers: number;
  readonly warmViewers: number;
  readonly engineJobs: number;
  readonly engineConcurrency: number;
  readonly scaleJobs: number;
  readonly scaleConcurrency: number;
  readonly scaleProcesses: readonly number[];
  readonly sleepMs: number;
  readonly spinMs: number;
  readonly burstRequests: number;
  readonly ttfViewers: number;
  /** Page streams at a time, one level after another (the first is the one-viewer case). */
  readonly ttfConcurrency: readonly number[];
  /** Posts per run of the freshness scenario, one at a time. */
  readonly freshnessSamples: number;
  /** Cold dashboards per run and variant of the replicas scenario. */
  readonly replicaViewers: number;
  /** Followers of the big account of the fan-out scenario, its posts per mode, fans watching each. */
  readonly fanoutFollowers: number;
  readonly fanoutPosts: number;
  readonly fanoutWatchers: number;
  /** The liveness soak (it lasts `soakSeconds`): open dashboard streams, and the authors they follow. */
  readonly livenessStreams: number;
  readonly livenessAuthors: number;
  /** The follow storm on one user: its length, and the keep-alive connections sending it. */
  readonly stormSeconds: number;
  readonly stormConnections: number;
  readonly profileSeconds: number;
  /** Untimed load before measuring a server (JIT, caches, connections). */
  readonly warmupSeconds: number;
  /** Profile the engine and raw Bull workers (scenario 3); scenario 2 always profiles. */
  readonly profileEngine: boolean;
  readonly soakSeconds: number;
  /** db-cli seed arguments. */
  readonly seedArgs: readonly string[];
  readonly users: number;
}

export function benchSizes(
  quick: boolean,
  overrides: { runs?: number; soakMinutes?: number; loadSeconds?: number },
): BenchSizes {
  const base: BenchSizes = quick
    ? {
        quick,
        runs: 1,
        loadSeconds: 1,
        connections: 50,
        coldGatewayViewers: 150,
        coldFatViewers: 60,
        completePageViewers: 20,
        warmViewers: 50,
        engineJobs: 500,
        engineConcurrency: 16,
        scaleJobs: 200,
        scaleConcurrency: 8,
        scaleProcesses: [1, 2],
        sleepMs: 20,
        spinMs: 5,
        burstRequests: 1000,
        ttfViewers: 20,
        ttfConcurrency: [1, 10],
        freshnessSamples: 5,
        replicaViewers: 40,
        fanoutFollowers: 20_000,
        fanoutPosts: 1,
        fanoutWatchers: 2,
        livenessStreams: 20,
        livenessAuthors: 5,
        stormSeconds: 3,
        stormConnections: 16,
        profileSeconds: 1,
        warmupSeconds: 0.5,
        profileEngine: false,
        soakSeconds: 15,
        seedArgs: ['--scale', '0.2'],
        users: 2000,
      }
    : {
        quick,
        runs: 3,
        loadSeconds: 10,
        connections: 50,
        coldGatewayViewers: 1000,
        coldFatViewers: 400,
        completePageViewers: 150,
        warmViewers: 200,
        engineJobs: 10_000,
        engineConcurrency: 16,
        scaleJobs: 10_000,
        scaleConcurrency: 8,
        scaleProcesses: [1, 2, 4],
        sleepMs: 20,
        spinMs: 5,
        burstRequests: 1000,
        ttfViewers: 100,
        ttfConcurrency: [1, 10, 50],
        freshnessSamples: 40,
        replicaViewers: 400,
        fanoutFollowers: 1_000_000,
        fanoutPosts: 3,
        fanoutWatchers: 5,
        livenessStreams: 100,
        livenessAuthors: 20,
        stormSeconds: 30,
        stormConnections: 64,
        profileSeconds: 10,
        warmupSeconds: 2,
        profileEngine: true,
        soakSeconds: 600,
        seedArgs: [],
        users: 10_000,
      };
  return {
    ...base,
    runs: overrides.runs ?? base.runs,
    loadSeconds: overrides.loadSeconds ?? base.loadSeconds,
    soakSeconds: overrides.soakMinutes !== undefined ? Math.round(overrides.soakMinutes * 60) : base.soakSeconds,
  };
}

/** Hands out user ids no earlier part of the run has requested: "cold" means never asked for. */
export class ViewerPool {
  private next = 1;

  constructor(private readonly users: number) {}

  take(count: number): number[] {
    if (this.next + count - 1 > this.users) {
      throw new Error(
        `the seeded database has ${this.users} users; the bench needs more fresh viewers (asked ${count} from ${this.next})`,
      );
    }
    const ids = Array.from({ length: count }, (_, i) => this.next + i);
    this.next += count;
    return ids;
  }

  get used(): number {
    return this.next - 1;
  }
}

export interface BenchContext {
  readonly sizes: BenchSizes;
  /** Another build of the gateway (its main.js) that scenario 2 runs interleaved with this one: A/B of a change. */
  readonly baselineGateway?: string;
  /** Extra environment per app of the system (`--app-env`), over the stack's own. */
  readonly appEnv: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly stack: BenchStack;
  readonly memory: MemorySampler;
  readonly log: (message: string) => void;
  /** Where CPU profiles go. */
  readonly profileDir: string;
  /** The gateway and workers on a seeded database: started on first use, then shared. */
  readonly system: () => Promise<BenchSystem>;
}
