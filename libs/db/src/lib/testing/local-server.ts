import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port the OS says is free right now, on the loopback interface. */
export function freeLoopbackPort(): Promise<number> {
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

export interface SystemUser {
  readonly uid: number;
  readonly gid: number;
}

/** The uid/gid of a system user: Postgres and PgBouncer refuse to run as root. */
export function systemUser(name: string): SystemUser {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`running as root needs a "${name}" system user to run Postgres and PgBouncer`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** As root, the `postgres` system user; otherwise ourselves. */
export function serverUser(): SystemUser | undefined {
  return process.getuid?.() === 0 ? systemUser('postgres') : undefined;
}

/**
 * A throwaway server run as a child process for tests that stop, restart, pause or kill it: the
 * shared servers of the machine must never be touched. Each listens on 127.0.0.1 only, on a free
 * port, keeps its files in a temp dir and can be stopped and started again on the same port.
 */
export abstract class LocalServer {
  protected child?: ChildProcess;
  protected output = '';

  protected constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last few kilobytes the server wrote, for failure messages. */
  get log(): string {
    return this.output;
  }

  protected spawnServer(command: string, args: string[], user?: SystemUser): void {
    this.output = '';
    const child = spawn(command, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], ...user });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
  }

  /** Stops the server with `signal` (SIGINT: Postgres' fast shutdown) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the server outright, as a crash would (SIGKILL: no shutdown, connections just drop). */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  abstract start(): Promise<void>;

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  protected async waitUntil(ready: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await ready())) {
      if (!this.running) throw new Error(`${what} exited while starting:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${what} did not become ready:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
