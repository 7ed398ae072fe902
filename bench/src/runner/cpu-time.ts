import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in ms; undefined when it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU ms each named process used while `work` ran. */
export async function measureCpu<T>(
  pids: Readonly<Record<string, number>>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid) ?? Number.NaN]));
  const result = await work();
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, (cpuMs(pid) ?? Number.NaN) - before[name]]),
  );
  return { result, cpu };
}

/** Busy CPU time of the whole machine so far (every core: all but idle and iowait), in ms. */
export function machineBusyMs(): number {
  // /proc/stat's first line: cpu user nice system idle iowait irq softirq steal …
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = [0, 1, 2, 5, 6, 7].reduce((t, i) => t + (ticks[i] ?? 0), 0);
  return (busy * 1000) / TICKS_PER_SECOND;
}

export type Pids = Readonly<Record<string, readonly number[]>>;
/** CPU ms so far of each process, by pid, and of this bench process (the load generator) as `client`. */
export type CpuSnapshot = Record<string, ReadonlyMap<number, number>>;

export function cpuSnapshot(pids: Pids): CpuSnapshot {
  const out: Record<string, Map<number, number>> = {};
  for (const [name, list] of Object.entries(pids)) out[name] = new Map(list.map((pid) => [pid, cpuMs(pid) ?? 0]));
  const self = process.cpuUsage();
  out['client'] = new Map([[process.pid, (self.user + self.system) / 1000]]);
  return out;
}

/**
 * CPU ms each named group used between two snapshots, the later one taken over the processes alive
 * then: a process that started in between (a pool's new Postgres backend) counts whole.
 */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([name, now]) => [
      name,
      [...now].reduce((t, [pid, ms]) => t + ms - (before[name]?.get(pid) ?? 0), 0),
    ]),
  );
}
