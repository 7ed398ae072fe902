import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/** The workspace root (the runner runs from dist/bench/runner, specs from bench/src/runner). */
export const WORKSPACE_ROOT = findWorkspaceRoot(__dirname);

function findWorkspaceRoot(from: string): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'nx.json'))) return dir;
  }
  throw new Error(`no nx.json above ${from}`);
}

/** A port the OS says is free right now, on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartOptions {
  /** Label in messages and reports: `gateway`, `bench-worker#2`, … */
  readonly label: string;
  /** Path of the script relative to the workspace root, e.g. `dist/apps/gateway/main.js`. */
  readonly script: string;
  readonly env: Record<string, string>;
  readonly args?: readonly string[];
  /** Flags for node itself, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

/** A child process of the bench; output is kept (bounded) for failure messages. */
export class BenchProcess {
  private readonly output: string[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 400) this.output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(options: StartOptions): BenchProcess {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path.join(WORKSPACE_ROOT, options.script), ...(options.args ?? [])], {
      cwd: WORKSPACE_ROOT,
      // Only what we pass: nothing of the caller's environment (NODE_OPTIONS…) leaks into a measurement.
      env: { PATH: process.env['PATH'] ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new BenchProcess(options.label, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForExit(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.label} did not exit within ${ms} ms\n${this.tail()}`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (graceful: a --cpu-prof process writes its profile), SIGKILL after `ms`. */
  async stop(ms = 30_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    try {
      await this.waitForExit(ms);
    } catch {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  tail(lines = 30): string {
    return this.output.join('').split('\n').slice(-lines).join('\n');
  }

  /** Current resident set size in bytes (VmRSS), or undefined once the process is gone. */
  rss(): number | undefined {
    return readStatusField(this.pid, 'VmRSS');
  }

  /** Peak resident set size since start (VmHWM), in bytes. */
  peakRss(): number | undefined {
    return readStatusField(this.pid, 'VmHWM');
  }
}

function readStatusField(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a built CLI to completion; rejects with its output on a non-zero exit. */
export async function runToCompletion(options: StartOptions, ms = 180_000): Promise<void> {
  const proc = BenchProcess.start(options);
  const code = await proc.waitForExit(ms);
  if (code !== 0) throw new Error(`${options.label} exited with ${code}\n${proc.tail()}`);
}

/** Polls `url` until it answers 200, or fails when the process dies or `ms` pass. */
export async function waitForHttpOk(url: string, proc: BenchProcess, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${proc.label} exited before ${url} was ready\n${proc.tail()}`);
    try {
      const response = await fetch(url);
      if (response.ok) {
        await response.arrayBuffer();
        return;
      }
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${ms} ms (last: ${last})\n${proc.tail()}`);
}
