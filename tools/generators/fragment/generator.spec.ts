import { spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';

const fragmentGenerator = require('./generator.cjs') as (
  tree: FsTree,
  options: { name: string },
) => Promise<() => void>;

const WORKSPACE = join(__dirname, '../../..');
const NAME = 'notifications';
const APP = `${NAME}-worker`;

/**
 * The generator on a copy of this workspace (every file git knows or would add), written out: the new
 * projects and every table keyed by fragment or app must type-check, and the deploy checks (which read
 * the registry and the k8s, docker and e2e files of the workspace they sit in) must pass on the copy.
 */
describe(`nx g @worker-pattern/tools:fragment ${NAME}`, () => {
  let root: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'fragment-generator-'));
    const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: WORKSPACE,
      encoding: 'utf8',
    }).stdout.split('\0');
    for (const file of files.filter(Boolean)) {
      const from = join(WORKSPACE, file);
      if (!exists(from)) continue; // deleted in the work tree, not yet in the index
      cpSync(from, join(root, file), { verbatimSymlinks: true, recursive: true });
    }
    symlinkSync(join(WORKSPACE, 'node_modules'), join(root, 'node_modules'));

    const tree = new FsTree(root, false);
    const afterWrite = await fragmentGenerator(tree, { name: NAME });
    flushChanges(root, tree.listChanges());
    afterWrite();
  }, 120_000);

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes the contract, the builder and the worker, and registers them', () => {
    expect(read('libs/registry/src/lib/fragments.ts')).toMatch(/^ {2}notifications: notificationsFragment,$/m);
    expect(read('libs/registry/src/lib/invalidation-plan.ts')).toMatch(/notifications: notificationsInvalidation/);
    const apps = JSON.parse(read('libs/registry/src/apps.json')) as Array<{ name: string; port: number }>;
    const ports = apps.map((a) => a.port);
    expect(apps.at(-1)).toMatchObject({ name: APP, kind: 'fragment-worker', fragment: NAME, queue: NAME });
    expect(apps.at(-1)?.port).toBe(Math.max(...ports.slice(0, -1)) + 1);
    expect(read(`libs/${NAME}/src/lib/${NAME}.invalidation.ts`).match(/: UNAFFECTED,/g)).toHaveLength(5);
    expect(readlinkSync(join(root, `k8s/35-${APP}.yaml`))).toBe(`base/35-${APP}.yaml`);
  });

  it.each([
    `libs/${NAME}`,
    `libs/${NAME}/builder`,
    `apps/${APP}`,
    'libs/registry',
    'libs/fragment-client',
    'tools/deploy-checks',
    'apps/e2e',
    'bench',
  ])('type-checks %s (each under its own compiler options)', (project) => {
    expectSuccess(run('npx', ['tsc', '-p', `${project}/tsconfig.json`, '--noEmit']));
  });

  it('passes the registry specs and the deploy checks on the generated workspace', () => {
    expectSuccess(run('npx', ['jest', '-c', 'libs/registry/jest.config.cjs', '--ci']));
    expectSuccess(run('npx', ['jest', '-c', 'tools/deploy-checks/jest.config.cjs', '--ci']));
  });

  function read(path: string): string {
    return readFileSync(join(root, path), 'utf8');
  }

  function run(command: string, args: string[]) {
    return spawnSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
  }
});

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function expectSuccess(result: { status: number | null; stdout: string; stderr: string }): void {
  if (result.status !== 0) throw new Error(`exit ${result.status}\n${result.stdout}\n${result.stderr}`.slice(-8000));
}
