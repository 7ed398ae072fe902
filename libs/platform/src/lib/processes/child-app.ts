import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

// Built apps as child processes, for the suites that run the system the way production does (the
// e2e tests and the benchmarks). Not for app code.

/** The workspace root: the nearest folder above `from` holding nx.json (specs and built bundles alike). */
export function findWorkspaceRoot(from = __dirname): string {
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
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** `dist/apps/<app>/main.js`: where `nx build <app>` puts an app. */
export function builtApp(app: string): string {
  return path.join('dist/apps', app, 'main.js');
}

export interface ChildAppOptions {
  /** Name in messages: `gateway`, `gateway-2`, `bench-worker#3`, … */
  readonly label: string;
  /** The script, relative to the workspace root (see `builtApp`). */
  readonly script: string;
  /** The child's whole environment besides PATH: nothing of the caller's (NODE_OPTIONS…) leaks in. */
  readonly env: Record<string, string>;
  readonly args?: readonly string[];
  /** Flags for node itself, e.g. `--enable-source-maps` or `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  readonly root?: string;
}

/** A child process running a built app; its output is kept (the last 400 chunks) for messages. */
export class ChildApp {
  readonly output: string[] = [];
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

  static start(options: ChildAppOptions): ChildApp {
    const root = options.root ?? findWorkspaceRoot();
    const child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), path.join(root, options.script), ...(options.args ?? [])],
      {
        cwd: root,
        env: { PATH: process.env['PATH'] ?? '', ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return new ChildApp(options.label, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code; rejects with the output if it takes longer than `ms`. */
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

  /**
   * Sends `signal` (SIGTERM: a graceful stop, and a --cpu-prof process writes its profile) and
   * resolves with the exit code; after `ms` it kills the process and rejects, saying so.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 30_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill(signal);
    try {
      return await this.waitForExit(ms);
    } catch (error) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw error;
    }
  }

  tail(lines = 40): string {
    return this.output.join('').split('\n').slice(-lines).join('\n');
  }

  /** Resident set size in bytes (VmRSS), or undefined once the process is gone. */
  rss(): number | undefined {
    return readStatusField(this.pid, 'VmRSS');
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

/** Runs a built CLI to completion and returns its output; rejects with it on a non-zero exit. */
export async function runToCompletion(options: ChildAppOptions, ms = 180_000): Promise<string> {
  const proc = ChildApp.start(options);
  const code = await proc.waitForExit(ms);
  if (code !== 0)
    throw new Error(`${options.label} ${(options.args ?? []).join(' ')} exited with ${code}\n${proc.tail()}`);
  return proc.output.join('');
}

/** Polls `url` until it answers 200; fails when the process dies first or `ms` pass. */
export async function waitForHttpOk(url: string, proc: ChildApp, ms = 30_000): Promise<void> {
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
