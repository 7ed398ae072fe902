// Keeps one process running: starts it, and when it exits without having been asked to,
// restarts it by the restart policy, saying so; gives up (and says why) after repeated fast
// crashes. The launcher runs every app through one, and the throwaway Redis Cluster its nodes.
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from './config.mjs';
import { describeExit } from './procs.mjs';
import { DEFAULT_RESTART_POLICY, decideRestart, initialCrashState } from './restart-policy.mjs';

/**
 * @param {object} opts
 * @param {string} opts.name how log lines call the process
 * @param {() => object} opts.spawn starts the process; returns a handle from procs.mjs startChild
 * @param {object} [opts.initial] a process already started (by spawn's means) to adopt as the
 *   first one, e.g. a server that had to be checked before it was worth supervising
 * @param {{ info(text: string): void, warn(text: string): void }} opts.log
 * @param {object} [opts.policy] see restart-policy.mjs
 * @param {(managed: object) => string} [opts.where] e.g. "pid 123, :3002", for the restart line
 * @param {(ctx: { signal: AbortSignal, info: object }) => Promise<void>} [opts.beforeRestart] runs
 *   after the back-off delay, before the restart (a cluster node waits for its failover here)
 * @param {(managed: object, ctx: { restart: number, downSince?: number }) => void} [opts.onStart]
 * @returns {{ name: string, readonly current: object, readonly state: string, readonly restarts: number,
 *   done: Promise<{ gaveUp: boolean, reason?: string, info?: object }>,
 *   stop(opts?: { signal?: string, timeoutMs?: number }): Promise<object | undefined> }}
 *   `state` is running, waiting (to restart), gave-up, stopping or stopped. `done` settles when the
 *   supervisor is finished: it gave up, or stop() was called. stop() resolves with the exit
 *   info of the process it stopped (undefined when none was running).
 */
export function supervise({
  name,
  spawn,
  log,
  policy = DEFAULT_RESTART_POLICY,
  where = (m) => `pid ${m.pid}`,
  beforeRestart,
  onStart,
  initial,
  now = Date.now,
}) {
  let current;
  let state = 'running';
  let crash = initialCrashState();
  let restarts = 0;
  const cancel = new AbortController();
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });

  function start(downSince, adopted) {
    current = adopted ?? spawn();
    const managed = current;
    const startedAt = adopted?.startedAt ?? now();
    managed.exited.then((info) => onExit(managed, info, startedAt));
    onStart?.(managed, { restart: restarts, downSince });
  }

  async function onExit(managed, info, startedAt) {
    if (state !== 'running' || managed !== current) return; // stopped on purpose
    const exitedAt = now();
    const uptime = exitedAt - startedAt;
    const decision = decideRestart(crash, uptime, policy);
    crash = decision.state;
    if (decision.giveUp) {
      state = 'gave-up';
      log.warn(`${name} ${describeExit(info)}; giving up on it, since ${decision.reason}. The rest keep running.`);
      finish({ gaveUp: true, reason: decision.reason, info });
      return;
    }
    state = 'waiting';
    log.warn(
      `${name} ${describeExit(info)} after ${formatDuration(uptime)} up; restarting it in ${formatDuration(decision.delayMs)}`,
    );
    try {
      await sleep(decision.delayMs, undefined, { signal: cancel.signal });
      await beforeRestart?.({ signal: cancel.signal, info });
    } catch (err) {
      if (cancel.signal.aborted) return;
      log.warn(`${name}: before restarting it: ${err?.message ?? err}; restarting it anyway`);
    }
    if (cancel.signal.aborted) return;
    restarts++;
    state = 'running';
    start(exitedAt);
    log.info(`${name} restarted (${where(current)}), restart ${restarts}`);
  }

  start(undefined, initial);

  return {
    name,
    get current() {
      return current;
    },
    get state() {
      return state;
    },
    get restarts() {
      return restarts;
    },
    done,
    async stop(opts) {
      if (state === 'stopping' || state === 'stopped' || state === 'gave-up') {
        await done;
        return undefined;
      }
      const wasRunning = state === 'running';
      state = 'stopping';
      cancel.abort();
      const result = wasRunning ? await current.stop(opts) : undefined;
      state = 'stopped';
      finish({ gaveUp: false });
      return result;
    },
  };
}
