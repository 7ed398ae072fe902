import type { WorkerApp } from '../app-facts';
import type { QueueModel } from './queue-simulation';

/**
 * What the autoscaling simulations assume about the work (not about the manifests, which they read):
 * how long a job takes and how busy a pod's CPU is while it builds (profile and feed: one indexed
 * query; recommendations: heavy SQL; invalidation: the author's followers in one indexed query, then
 * Redis scripts); Prometheus scrapes every 15 s (k8s/prometheus-adapter installs the adapter with the
 * same interval, and the deploy checks compare), the HPA syncs every 15 s, a new pod is ready 20 s
 * after the HPA asked for it (image cached, node with room: with a node autoscaler add its minutes).
 */
export const WORKLOAD: Readonly<Record<WorkerApp, { buildSeconds: number; cpuBusyPercent: number }>> = {
  'profile-worker': { buildSeconds: 0.05, cpuBusyPercent: 40 },
  'feed-worker': { buildSeconds: 0.1, cpuBusyPercent: 50 },
  'recommendations-worker': { buildSeconds: 1.5, cpuBusyPercent: 90 },
  'invalidation-worker': { buildSeconds: 0.02, cpuBusyPercent: 40 },
};

export const SCRAPE_INTERVAL_SECONDS = 15;
export const HPA_SYNC_SECONDS = 15;
export const POD_STARTUP_SECONDS = 20;
export const CPU_IDLE_PERCENT = 5;
/** The HPA syncs this many seconds after each scrape (the two clocks are not aligned). */
export const SYNC_OFFSET_SECONDS = 7;

/** A queue's model for the simulations: the work given, the cluster's timings assumed above. */
export function queueModel(work: {
  concurrency: number;
  buildSeconds: number;
  cpuBusyPercent: number;
  arrivalRate: (t: number) => number;
}): QueueModel {
  return {
    ...work,
    podStartupSeconds: POD_STARTUP_SECONDS,
    scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS,
    syncPeriodSeconds: HPA_SYNC_SECONDS,
    syncOffsetSeconds: SYNC_OFFSET_SECONDS,
    cpuIdlePercent: CPU_IDLE_PERCENT,
  };
}
