import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './processes';

/**
 * Throwaway Redis and Postgres servers for fault tests, which stop and restart them: the shared
 * servers of the machine must never be touched. Each listens on 127.0.0.1 only, on a free port,
 * keeps its files in a temp dir and can be stopped and started again on the same port.
 */
abstract class LocalServer {
  protected child?: ChildProcess;
  protected output = '';

  protected constructor(
    readonly port: number,
    protected readonly dir: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  protected spawnServer(command: string, args: string[], options: { uid?: number; gid?: number } = {}): void {
    this.output = '';
    const child = spawn(command, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
  }

  /** Stops the server (SIGINT: Postgres' fast shutdown; Redis exits at once) and waits for it. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  abstract start(): Promise<void>;

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  protected async waitUntil(ready: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await ready())) {
      if (!this.running) throw new Error(`${what} exited while starting:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${what} did not become ready:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export class LocalRedis extends LocalServer {
  static async create(): Promise<LocalRedis> {
    const server = new LocalRedis(await freePort(), mkdtempSync(path.join(tmpdir(), 'wp-e2e-redis-')));
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.spawnServer('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
    ]);
    await this.waitUntil(() => this.output.includes('Ready to accept connections'), 'redis-server');
  }
}

/** initdb/postgres from Debian's packages; as root they run as the `postgres` system user. */
export class LocalPostgres extends LocalServer {
  private constructor(
    port: number,
    dir: string,
    private readonly bin: string,
    private readonly user?: { uid: number; gid: number },
  ) {
    super(port, dir);
  }

  static async create(): Promise<LocalPostgres> {
    const bin = postgresBinDir();
    const user = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-e2e-pg-'));
    if (user) chownSync(dir, user.uid, user.gid);
    const data = path.join(dir, 'data');
    execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], {
      cwd: dir,
      stdio: 'pipe',
      ...user,
    });
    const server = new LocalPostgres(await freePort(), dir, bin, user);
    await server.start();
    return server;
  }

  /** The maintenance database's URL; tests create their own databases from it. */
  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    this.spawnServer(
      path.join(this.bin, 'postgres'),
      [
        '-D',
        path.join(this.dir, 'data'),
        '-p',
        String(this.port),
        '-k',
        this.dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
      ],
      this.user ?? {},
    );
    await this.waitUntil(() => this.output.includes('ready to accept connections'), 'postgres');
  }
}

function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    if (existsSync(path.join(bin, 'initdb'))) return bin;
  }
  throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install -y postgresql)');
}

function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`running as root needs a "${name}" system user to run Postgres`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
