import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const WORKSPACE_ROOT = path.resolve(__dirname, '../../../..');

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

/** A built app running as its own process; output is kept for failure messages. */
export class AppProcess {
  readonly output: string[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
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

  /** Runs `dist/apps/<app>/main.js`; `label` tells replicas of one app apart in messages. */
  static start(app: string, env: Record<string, string>, args: string[] = [], label = app): AppProcess {
    const main = path.join(WORKSPACE_ROOT, 'dist/apps', app, 'main.js');
    const child = spawn(process.execPath, ['--enable-source-maps', main, ...args], {
      cwd: WORKSPACE_ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AppProcess(label, child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code; rejects with the process output if it takes longer than `ms`. */
  async waitForExit(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${ms} ms\n${this.tail()}`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 30_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill(signal);
    try {
      return await this.waitForExit(ms);
    } catch (error) {
      this.child.kill('SIGKILL');
      throw error;
    }
  }

  tail(lines = 40): string {
    return this.output.join('').split('\n').slice(-lines).join('\n');
  }
}

/** Runs a built CLI to completion; rejects with its output on a non-zero exit. */
export async function runToCompletion(name: string, env: Record<string, string>, args: string[], ms = 120_000): Promise<string> {
  const app = AppProcess.start(name, env, args);
  const code = await app.waitForExit(ms);
  if (code !== 0) throw new Error(`${name} ${args.join(' ')} exited with ${code}\n${app.tail()}`);
  return app.output.join('');
}

/** Polls `url` until it answers 200 or the process dies or `ms` pass. */
export async function waitForHttpOk(url: string, app: AppProcess, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    if (!app.running) throw new Error(`${app.name} exited before ${url} was ready\n${app.tail()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${ms} ms (last: ${last})\n${app.tail()}`);
}
