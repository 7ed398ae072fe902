import { spawnSync } from 'node:child_process';
import {
  cpSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { parseAllDocuments } from 'yaml';

type Generator = (tree: FsTree, options: { name: string }) => Promise<() => void>;
const fragmentGenerator = require('./generator.cjs') as Generator;
const { connectionsAtMaxScale, BUDGET_ANNOTATION } = require('./budget.cjs') as {
  connectionsAtMaxScale: (tree: FsTree) => { budget: number; used: Record<string, number> };
  BUDGET_ANNOTATION: string;
};
const { NEW_WORKER_CONCURRENCY, NEW_WORKER_MAX_REPLICAS, NEW_WORKER_LEAST_MAX_REPLICAS } =
  require('./registry.cjs') as Record<string, number>;

const WORKSPACE = join(__dirname, '../../..');
const NAME = 'notifications';
const APP = `${NAME}-worker`;
/**
 * A second fragment, generated after the first. The first takes all the budget the existing workers
 * leave (22 connections: 11 pods), so the generator refuses the second, saying how far to raise the
 * budget; once raised so, the second gets the fewest pods the deploy checks accept.
 */
const SECOND = 'alerts';

/**
 * The generator on a copy of this workspace (every file git knows or would add), written out for
 * `notifications`, then for `alerts`; then `notifications` is given a builder and a write rule as
 * README.md's "Add a fragment" tells a user to. The new projects and every table keyed by fragment or
 * app must type-check, the deploy checks (which read the registry and the k8s, docker and e2e files
 * of the workspace they sit in, and a spec written there comparing the generator's budget arithmetic
 * with theirs) must pass on the copy, and the copy's own gateway, new worker and
 * invalidation worker, built there by nx and started by the copy's e2e stack against real Redis and
 * a fresh Postgres database, must serve the fragment and rebuild it after a write.
 */
describe(`nx g @worker-pattern/tools:fragment ${NAME}, then ${SECOND}`, () => {
  let root: string;
  let refusal = '';

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

    await generate(NAME);
    refusal = await generate(SECOND).then(
      () => '',
      (error: Error) => error.message,
    );
    const raiseTo = /Raise that annotation to at least (\d+)/.exec(refusal)?.[1];
    if (raiseTo) {
      edit('k8s/base/00-namespace.yaml', (text) =>
        text.replace(/(postgres-connection-budget: )"\d+"/, `$1"${raiseTo}"`),
      );
      await generate(SECOND);
    }
    giveItABuilderAndAWriteRule();
  }, 120_000);

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function generate(name: string): Promise<void> {
    const tree = new FsTree(root, false);
    const afterWrite = await fragmentGenerator(tree, { name });
    flushChanges(root, tree.listChanges());
    afterWrite();
  }

  /** README.md, "Add a fragment", steps 2 and 3: a schema, a builder reading Postgres, one write rule. */
  function giveItABuilderAndAWriteRule(): void {
    edit(`libs/${NAME}/src/lib/${NAME}.fragment.ts`, (text) =>
      replaced(
        text,
        `export const ${NAME}Data = z.object({});`,
        `export const ${NAME}Data = z.object({ posts: z.number().int().nonnegative() });`,
      ),
    );
    write(
      `libs/${NAME}/builder/src/lib/${NAME}.builder.ts`,
      `import { Injectable } from '@nestjs/common';
import { DbReader } from '@worker-pattern/db';
import type { FragmentBuildContext, FragmentBuilder } from '@worker-pattern/fragment';
import { type NotificationsData, type NotificationsParams, ${NAME}Fragment } from '@worker-pattern/${NAME}';

/** How many posts the viewer has written. */
@Injectable()
export class NotificationsBuilder implements FragmentBuilder<NotificationsParams, NotificationsData> {
  constructor(private readonly db: DbReader) {}

  async build(_params: NotificationsParams, ctx: FragmentBuildContext): Promise<NotificationsData> {
    const [row] = await this.db.read({ ...ctx, timeoutMs: ${NAME}Fragment.buildTimeoutMs }, (query) =>
      query<{ posts: number }>('SELECT count(*)::int AS posts FROM posts WHERE author_id = $1', [ctx.viewerId]),
    );
    return { posts: row?.posts ?? 0 };
  }
}
`,
    );
    edit(`libs/${NAME}/src/lib/${NAME}.invalidation.ts`, (text) =>
      replaced(text, `'post.created': UNAFFECTED,`, `'post.created': (e) => [{ params: {}, viewerId: e.authorId }],`),
    );
    // The registry's spec pins each write's copies: the new rule adds one.
    edit('libs/registry/src/lib/invalidation-plan.spec.ts', (text) =>
      replaced(
        text,
        `copies: ['profile({"userId":1})@1'],\n    followers: 'followers of 1: feed',`,
        `copies: ['profile({"userId":1})@1', '${NAME}({})@1'],\n    followers: 'followers of 1: feed',`,
      ),
    );
    // An e2e spec of the copy's own: the copy's stack helpers start the copy's built apps.
    write(`apps/e2e/src/${NAME}.e2e-spec.ts`, E2E_SPEC);
    // And a deploy-checks spec: the generator's budget arithmetic against the checks' own, on the copy.
    write('tools/deploy-checks/src/generator-budget.spec.ts', BUDGET_SPEC);
  }

  it('writes the contract, the builder and the worker, and registers them', () => {
    expect(read('libs/registry/src/lib/fragments.ts')).toMatch(/^ {2}notifications: notificationsFragment,$/m);
    expect(read('libs/registry/src/lib/invalidation-plan.ts')).toMatch(/notifications: notificationsInvalidation/);
    const apps = JSON.parse(read('libs/registry/src/apps.json')) as Array<{ name: string; port: number }>;
    const ports = apps.map((a) => a.port);
    expect(apps.at(-2)).toMatchObject({ name: APP, kind: 'fragment-worker', fragment: NAME, queue: NAME });
    expect(apps.at(-2)?.port).toBe(Math.max(...ports.slice(0, -2)) + 1);
    expect(apps.at(-1)).toMatchObject({ name: `${SECOND}-worker`, port: apps.at(-2)!.port + 1 });
    expect(read(`libs/${SECOND}/src/lib/${SECOND}.invalidation.ts`).match(/: UNAFFECTED,/g)).toHaveLength(5);
    expect(readlinkSync(join(root, `k8s/35-${APP}.yaml`))).toBe(`base/35-${APP}.yaml`);
    const e2e = JSON.parse(read('apps/e2e/project.json')) as { implicitDependencies: string[] };
    expect(e2e.implicitDependencies).toContain(APP);
    expect(readlinkSync(join(root, `k8s/36-${SECOND}-worker.yaml`))).toBe(`base/36-${SECOND}-worker.yaml`);
  });

  it('is what `npm start` launches: the launcher builds and starts every app of apps.json on its port', () => {
    const script = `
      const { APPS, BUILD_PROJECTS } = await import('./tools/lib/config.mjs');
      const { planInstances } = await import('./tools/lib/instances.mjs');
      console.log(JSON.stringify({ build: BUILD_PROJECTS, plan: planInstances(APPS, {}, 3000) }));`;
    const result = run('node', ['--input-type=module', '-e', script]);
    expectSuccess(result);
    const { build, plan } = JSON.parse(result.stdout) as {
      build: string[];
      plan: Array<{ app: string; port: number }>;
    };
    const apps = JSON.parse(read('libs/registry/src/apps.json')) as Array<{ name: string; port: number }>;
    expect(build).toEqual(expect.arrayContaining([APP, `${SECOND}-worker`, 'gateway', 'db-cli']));
    // Its port in the launcher's plan is the one the registry gave it (the worker's default PORT).
    expect(plan.find((p) => p.app === APP)?.port).toBe(apps.find((a) => a.name === APP)?.port);
    expect(plan.map((p) => [p.app, p.port])).toEqual(apps.map((a) => [a.name, a.port]));
  });

  it.each([
    `libs/${NAME}`,
    `libs/${NAME}/builder`,
    `apps/${APP}`,
    `apps/${SECOND}-worker`,
    'libs/registry',
    'libs/fragment-client',
    'tools/deploy-checks',
    'apps/e2e',
    'bench',
  ])('type-checks %s (each under its own compiler options)', (project) => {
    expectSuccess(run('npx', ['tsc', '-p', `${project}/tsconfig.json`, '--noEmit']));
  });

  it('passes the registry specs and the deploy checks (the connection budget too) with both new workers', () => {
    expectSuccess(run('npx', ['jest', '-c', 'libs/registry/jest.config.cjs', '--ci']));
    // --silent: the checks' simulations log timelines that would push a failure out of the message.
    expectSuccess(run('npx', ['jest', '-c', 'tools/deploy-checks/jest.config.cjs', '--ci', '--silent']));
  });

  it('refused the second fragment until the budget was raised as it said, then fitted it', () => {
    expect(refusal).toMatch(
      new RegExp(`^${SECOND}-worker does not fit the Postgres connection budget: .*annotation ${BUDGET_ANNOTATION}`),
    );
    expect(exists(join(root, `libs/${SECOND}`))).toBe(true);
  });

  it('gives each new worker one maximum, the same in its HPA and its ScaledObject, within the budget', () => {
    const hpa = docs('k8s/components/hpa/hpa-workers.yaml');
    const keda = docs('k8s/components/keda/scaledobjects.yaml');
    const maxima = [APP, `${SECOND}-worker`].map((app) => {
      const { minReplicas: min, maxReplicas: max } = hpa.find((d) => d.metadata.name === app)!.spec;
      expect(keda.find((d) => d.metadata.name === app)?.spec).toMatchObject({
        minReplicaCount: min,
        maxReplicaCount: max,
      });
      return max;
    });
    // All that was left (22 connections), then the fewest the deploy checks accept.
    expect(maxima).toEqual([11, NEW_WORKER_LEAST_MAX_REPLICAS]);
    const { budget, used } = connectionsAtMaxScale(new FsTree(root, false));
    for (const n of Object.values(used)) expect(n).toBeLessThanOrEqual(budget);
  });

  it('builds the gateway, the new worker, the invalidation worker and db-cli with nx, in the copy', () => {
    const projects = ['gateway', APP, 'invalidation-worker', 'db-cli'].join(',');
    // Never the main workspace's cache: the copy's sources differ under the same project names.
    const args = ['nx', 'run-many', '-t', 'build', '-p', projects, '--skip-nx-cache', '--outputStyle=static'];
    expectSuccess(run('npx', args, { NX_CACHE_DIRECTORY: join(root, '.nx/test-cache') }));
    for (const app of ['gateway', APP, 'invalidation-worker', 'db-cli']) {
      expect(exists(join(root, 'dist/apps', app, 'main.js'))).toBe(true);
    }
  }, 240_000);

  it('serves it pending then ready, built by its own worker from Postgres, and rebuilds it after a write', () => {
    expectSuccess(run('npx', ['jest', '-c', 'apps/e2e/jest.config.cjs', '--runInBand', '--ci', `${NAME}.e2e-spec`]));
  }, 180_000);

  function read(path: string): string {
    return readFileSync(join(root, path), 'utf8');
  }

  function write(path: string, text: string): void {
    writeFileSync(join(root, path), text);
  }

  function edit(path: string, change: (text: string) => string): void {
    write(path, change(read(path)));
  }

  function docs(path: string): Array<{ metadata: { name: string }; spec: Record<string, unknown> }> {
    return parseAllDocuments(read(path))
      .map((d) => d.toJS())
      .filter(Boolean);
  }

  function run(command: string, args: string[], env: Record<string, string> = {}) {
    return spawnSync(command, args, {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', ...env },
    });
  }
});

describe('fitting a new worker into the Postgres connection budget', () => {
  it('takes what is left when that is below its ceiling, in the HPA and the ScaledObject alike', async () => {
    const tree = new FsTree(WORKSPACE, false);
    const { used } = connectionsAtMaxScale(tree);
    setBudget(tree, Math.max(...Object.values(used)) + 7 * NEW_WORKER_CONCURRENCY + 1);
    await fragmentGenerator(tree, { name: 'gamma' });
    const spec = (path: string) =>
      parseAllDocuments(tree.read(path, 'utf-8')!)
        .map((d) => d.toJS())
        .find((d) => d?.metadata?.name === 'gamma-worker')?.spec;
    expect(spec('k8s/components/hpa/hpa-workers.yaml')).toMatchObject({ minReplicas: 2, maxReplicas: 7 });
    expect(spec('k8s/components/keda/scaledobjects.yaml')).toMatchObject({
      minReplicaCount: 2,
      maxReplicaCount: 7,
      fallback: { replicas: 3 },
    });
  }, 60_000);

  it('takes no more than its ceiling when the budget has room for more', async () => {
    const tree = new FsTree(WORKSPACE, false);
    const { used } = connectionsAtMaxScale(tree);
    setBudget(tree, Math.max(...Object.values(used)) + 1000);
    await fragmentGenerator(tree, { name: 'gamma' });
    const hpa = parseAllDocuments(tree.read('k8s/components/hpa/hpa-workers.yaml', 'utf-8')!)
      .map((d) => d.toJS())
      .find((d) => d?.metadata?.name === 'gamma-worker');
    expect(hpa.spec.maxReplicas).toBe(NEW_WORKER_MAX_REPLICAS);
  }, 60_000);

  it('refuses, naming the annotation and how far to raise it, when fewer pods fit than the checks accept', async () => {
    const tree = new FsTree(WORKSPACE, false);
    const { used } = connectionsAtMaxScale(tree);
    const most = Math.max(...Object.values(used));
    setBudget(tree, most + NEW_WORKER_LEAST_MAX_REPLICAS * NEW_WORKER_CONCURRENCY - 1);
    await expect(fragmentGenerator(tree, { name: 'gamma' })).rejects.toThrow(
      `k8s/base/00-namespace.yaml allows (annotation ${BUDGET_ANNOTATION}). Raise that annotation to at least ${
        most + NEW_WORKER_LEAST_MAX_REPLICAS * NEW_WORKER_CONCURRENCY
      } `,
    );
    expect(tree.listChanges().map((c) => c.path)).toEqual(['k8s/base/00-namespace.yaml']);
  });

  function setBudget(tree: FsTree, budget: number): void {
    const path = 'k8s/base/00-namespace.yaml';
    tree.write(path, tree.read(path, 'utf-8')!.replace(/(postgres-connection-budget: )"\d+"/, `$1"${budget}"`));
  }
});

/**
 * Run by the copy's deploy checks: the generator's count of the connections at maximum scale
 * (budget.cjs) is the connection budget check's own, in every apply set (with both new workers).
 */
const BUDGET_SPEC = `import { FsTree } from 'nx/src/generators/tree';
import { loadApplySets } from './lib/apply-sets';
import { WORKSPACE_ROOT } from './lib/k8s-docs';
import { postgresConnectionsAtMaxScale, totalConnections } from './lib/k8s-checks';

const { connectionsAtMaxScale } = require('../../generators/fragment/budget.cjs');

it('the fragment generator counts the connections at maximum scale as the connection budget check does', () => {
  const { used } = connectionsAtMaxScale(new FsTree(WORKSPACE_ROOT, false));
  const sets = loadApplySets();
  const total = (set: (typeof sets.appSets)[number]) => totalConnections(postgresConnectionsAtMaxScale(set));
  expect(used).toEqual({ 'components/hpa': total(sets.top), 'components/keda': total(sets.keda) });
  // Every other set the checks hold to the budget (overlays, demo) counts as one of the two.
  for (const set of sets.appSets) expect(Object.values(used)).toContain(total(set));
});
`;

/**
 * Run by the copy's e2e jest: its stack (apps/e2e/src/support/stack.ts) seeds a database of its own
 * with the copy's db-cli and starts the copy's built apps against it and a Redis key prefix of its own.
 */
const E2E_SPEC = `import { Stack } from './support/stack';

type F = { status: string; data?: { posts: number } };

describe('${NAME}: a generated fragment with a builder and a write rule', () => {
  let stack: Stack;
  let token: string;
  const viewer = 7;

  beforeAll(async () => {
    stack = await Stack.start({
      users: 200,
      seedArgs: ['--scale', '0.02'],
      apps: ['gateway', '${APP}', 'invalidation-worker'],
    });
    token = await stack.login(viewer);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const builds = () => stack.metric('${APP}', 'fragment_builds_total', { fragment: '${NAME}', outcome: 'built' });
  /** The worker counts a build just after writing it: wait for the count to reach \`n\`, then report it. */
  async function buildsOnceAt(n: number): Promise<number> {
    while ((await builds()) < n) await new Promise((r) => setTimeout(r, 50));
    return builds();
  }
  const posts = async () =>
    (await stack.query<{ n: number }>('SELECT count(*)::int AS n FROM posts WHERE author_id = $1', [viewer]))[0]!.n;

  /** Asks (waiting up to 2 s each time) until the copy is ready and \`done\` holds for it. */
  async function readyWhen(done: (f: F) => boolean): Promise<F> {
    for (;;) {
      const f = (await (await stack.get('/api/fragments/${NAME}?waitMs=2000', token)).json()) as F;
      if (f.status === 'ready' && done(f)) return f;
    }
  }

  it('answers pending, then ready with what the builder read, built by ${APP}', async () => {
    const first = await stack.get('/api/fragments/${NAME}', token);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ status: 'pending' });
    expect((await readyWhen(() => true)).data).toEqual({ posts: await posts() });
    expect(await buildsOnceAt(1)).toBe(1);
  });

  it('is rebuilt by ${APP} after a post by the viewer (its write rule)', async () => {
    const before = await posts();
    const created = await fetch(\`\${stack.url()}/api/posts\`, {
      method: 'POST',
      headers: { authorization: \`Bearer \${token}\`, 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'a post the ${NAME} copy must count' }),
    });
    expect(created.status).toBe(201);
    // Rebuilt in the background, before anyone asks again: the copy was read recently, so the
    // invalidation worker enqueues its rebuild on the new worker's queue.
    expect(await buildsOnceAt(2)).toBe(2);
    expect((await readyWhen((f) => f.data?.posts !== before)).data).toEqual({ posts: before + 1 });
    expect(await builds()).toBe(2);
  }, 30_000); // well inside the copy's 60 s ttl: only the write rule can have made it rebuild
});
`;

function replaced(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the generated file no longer holds ${from}`);
  return text.replace(from, to);
}

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
