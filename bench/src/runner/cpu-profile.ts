import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The parts of V8's .cpuprofile (node --cpu-prof) the analysis reads. */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FrameCost {
  /** `function (where)` */
  readonly frame: string;
  /** Package (`fastify`, `@nestjs/core`), our module (`libs/auth/…`), `node` or a V8 pseudo-frame. */
  readonly owner: string;
  readonly ms: number;
  /** Share of the process's busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly busyMs: number;
  /** Self time per owner (package or our module), busiest first. */
  readonly byOwner: readonly FrameCost[];
  /** Self time per function, busiest first. */
  readonly topSelf: readonly FrameCost[];
  /** Inclusive time (the function and everything it called) per function. */
  readonly topInclusive: readonly FrameCost[];
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/**
 * Maps lines of a webpack bundle (dist/.../main.js, development mode) to the source module they came
 * from, using the bundle's own `/***\/ "./libs/…ts":` markers: profiles of the built apps then name
 * `libs/auth/src/lib/viewer-tokens.ts` instead of `main.js:1234`.
 */
class BundleModules {
  private readonly cache = new Map<string, Array<[number, string]>>();

  moduleAt(url: string, line: number): string | undefined {
    if (!url.startsWith('file://') || !url.endsWith('/main.js')) return undefined;
    let starts = this.cache.get(url);
    if (!starts) {
      starts = [];
      try {
        const lines = readFileSync(fileURLToPath(url), 'utf8').split('\n');
        lines.forEach((text, i) => {
          const match = /^\/\*\*\*\/ "\.\/(.+?)"/.exec(text);
          if (match) starts?.push([i, match[1]]);
        });
      } catch {
        // bundle gone: leave frames unmapped
      }
      this.cache.set(url, starts);
    }
    let found: string | undefined;
    for (const [start, name] of starts) {
      if (start > line) break;
      found = name;
    }
    return found;
  }
}

/** Who a frame belongs to (a package, one of our libs, node, V8) and, for our code, which file. */
function ownerOf(
  url: string,
  functionName: string,
  line: number,
  modules: BundleModules,
): { owner: string; where: string } {
  const same = (owner: string) => ({ owner, where: owner });
  if (PSEUDO.has(functionName) && url === '') return same(functionName);
  if (url === '') return same('(native)');
  if (url.startsWith('node:')) return same('node');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return same(rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]);
  }
  const module = modules.moduleAt(url, line);
  if (module) {
    const lib = /^((?:libs|apps|bench)\/[^/]+)/.exec(module)?.[1] ?? module;
    return { owner: lib, where: module.replace(/\/src\/(lib\/)?/, '/…/') };
  }
  return same(url.replace(/^file:\/\/.*\/(dist|bench)\//, '$1/'));
}

/**
 * Microseconds of the system's monotonic clock, the clock V8 stamps profile samples with: the
 * runner marks a load's start and end with it, and only samples in between are counted (a
 * profile also holds the app's start-up and shutdown).
 */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Reads a .cpuprofile and says where the time went: by owner, by function (self and inclusive). */
export function summariseProfile(file: string, window?: ProfileWindow, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const modules = new BundleModules();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const labels = new Map<number, { frame: string; owner: string }>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const { owner, where } = ownerOf(url, functionName, lineNumber, modules);
    const name = functionName || '(anonymous)';
    labels.set(node.id, { frame: PSEUDO.has(name) && url === '' ? name : `${name} (${where})`, owner });
  }

  const self = new Map<string, number>();
  const ownerSelf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const ownerOfFrame = new Map<string, string>();
  let totalMs = 0;
  let idleMs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    // A sample's time is the gap to the next one (the last sample gets the mean).
    const deltaUs = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const ms = Math.max(0, deltaUs) / 1000;
    totalMs += ms;
    const label = labels.get(id);
    if (!label) return;
    if (label.frame === '(idle)') {
      idleMs += ms;
      return;
    }
    self.set(label.frame, (self.get(label.frame) ?? 0) + ms);
    ownerSelf.set(label.owner, (ownerSelf.get(label.owner) ?? 0) + ms);
    ownerOfFrame.set(label.frame, label.owner);
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const l = labels.get(node);
      if (!l || l.frame === '(root)' || seen.has(l.frame)) continue;
      seen.add(l.frame);
      ownerOfFrame.set(l.frame, l.owner);
      inclusive.set(l.frame, (inclusive.get(l.frame) ?? 0) + ms);
    }
  });
  const busyMs = totalMs - idleMs;
  const rank = (map: Map<string, number>, owners: (k: string) => string, n: number): FrameCost[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([frame, ms]) => ({ frame, owner: owners(frame), ms, share: ms / busyMs }));
  return {
    totalMs,
    busyMs,
    byOwner: rank(ownerSelf, (k) => k, top),
    topSelf: rank(self, (k) => ownerOfFrame.get(k) ?? '', top),
    topInclusive: rank(inclusive, (k) => ownerOfFrame.get(k) ?? '', top * 2),
  };
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

/**
 * The profile as markdown: where the busy time went by owner, and the busiest functions. With
 * `units` (requests served or jobs run in the window), each line also says µs per unit.
 */
export function profileMarkdown(
  summary: ProfileSummary,
  options: {
    owners?: number;
    self?: number;
    inclusive?: readonly string[];
    units?: { count: number; name: string };
  } = {},
): string {
  const units = options.units;
  const per = (ms: number) => (units ? ` ${((ms * 1000) / units.count).toFixed(1)} |` : '');
  const perHead = units ? ` µs per ${units.name} |` : '';
  const perAlign = units ? ' ---: |' : '';
  const lines = [
    `Busy ${(summary.busyMs / 1000).toFixed(2)} s of ${(summary.totalMs / 1000).toFixed(2)} s sampled (${pct(summary.busyMs / summary.totalMs)})${
      units
        ? `; ${units.count.toLocaleString('en-US')} ${units.name}s, ${((summary.busyMs * 1000) / units.count).toFixed(0)} µs of busy CPU per ${units.name} (profiling adds its own overhead)`
        : ''
    }.`,
    '',
    `| self time by owner | ms | share of busy |${perHead}`,
    `| --- | ---: | ---: |${perAlign}`,
    ...summary.byOwner
      .slice(0, options.owners ?? 12)
      .map((c) => `| ${c.frame} | ${c.ms.toFixed(0)} | ${pct(c.share)} |${per(c.ms)}`),
    '',
    `| busiest functions (self) | ms | share of busy |${perHead}`,
    `| --- | ---: | ---: |${perAlign}`,
    ...summary.topSelf
      .slice(0, options.self ?? 12)
      .map((c) => `| \`${c.frame}\` | ${c.ms.toFixed(0)} | ${pct(c.share)} |${per(c.ms)}`),
  ];
  const wanted = options.inclusive ?? [];
  const picked = wanted.length ? summary.topInclusive.filter((c) => wanted.some((w) => c.frame.startsWith(w))) : [];
  if (picked.length) {
    lines.push(
      '',
      `| selected functions (inclusive: with everything they call) | ms | share of busy |${perHead}`,
      `| --- | ---: | ---: |${perAlign}`,
    );
    lines.push(...picked.map((c) => `| \`${c.frame}\` | ${c.ms.toFixed(0)} | ${pct(c.share)} |${per(c.ms)}`));
  }
  return lines.join('\n');
}
