import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  composeDurationMs,
  composeProblems,
  dockerfileProblems,
  dockerignoreProblems,
  interpolateDefaults,
  parseCompose,
  parseDockerfile,
} from './lib/docker-checks';
import { HTTP_APPS } from './lib/app-facts';
import { WORKSPACE_ROOT } from './lib/k8s-docs';

/**
 * docker/Dockerfile, its ignore file and docker/compose.yaml, read statically (there is no Docker
 * engine here: what only a build or a `compose up` can show is listed in docs/deploy.md).
 */

const read = (path: string) => readFileSync(join(WORKSPACE_ROOT, path), 'utf8');
const dockerfile = read('docker/Dockerfile');
const dockerignore = read('.dockerignore');
const composeText = read('docker/compose.yaml');

describe('docker/Dockerfile', () => {
  it('is a multi-stage build: npm ci, Nx build without daemon, slim runtime with production deps, non-root, exec-form node', () => {
    expect(dockerfileProblems(dockerfile)).toEqual([]);
  });

  it('runs node as PID 1, with no shell in between', () => {
    const runtime = parseDockerfile(dockerfile).at(-1)!;
    const entrypoint = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
    expect(JSON.parse(entrypoint!.args)).toEqual(['node', '/app/main.js']);
  });

  const replace = (from: string | RegExp, to: string) => {
    const broken = dockerfile.replace(from, to);
    expect(broken).not.toBe(dockerfile);
    return dockerfileProblems(broken);
  };

  it.each<[string, () => string[], RegExp]>([
    ['running as root', () => replace(/^USER .*$/m, 'USER root'), /runs as root/],
    ['no USER at all', () => replace(/^USER .*$/m, ''), /no USER/],
    ['a named user Kubernetes cannot verify', () => replace(/^USER .*$/m, 'USER node'), /numeric uid/],
    ['a shell-form entry point', () => replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node /app/main.js'), /shell form/],
    [
      'a shell wrapping node',
      () => replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT ["/bin/sh", "-c", "node /app/main.js"]'),
      /a shell wraps node/,
    ],
    [
      'npm install instead of npm ci',
      () => replace(/npm ci --no-audit --no-fund --ignore-scripts$/m, 'npm install'),
      /npm ci/,
    ],
    ['the Nx daemon left on', () => replace(/NX_DAEMON=false/g, 'NX_DAEMON=true'), /NX_DAEMON=false/],
    ['dev dependencies in the runtime', () => replace('npm ci --omit=dev', 'npm ci'), /--omit=dev/],
    [
      'only main.js copied (the gateway needs assets/ beside it)',
      () =>
        replace(
          'COPY --from=build /app/dist/apps/${APP}/ ./dist/apps/${APP}/',
          'COPY --from=build /app/dist/apps/${APP}/main.js ./dist/apps/${APP}/main.js',
        ),
      /whole dist\/apps/,
    ],
    [
      'a secret baked in',
      () => replace('ENV NODE_ENV=production', 'ENV JWT_SECRET=abc NODE_ENV=production'),
      /bakes a secret/,
    ],
    [
      'an image build that skips the invalidation worker',
      () => replace('recommendations-worker,invalidation-worker,db-cli', 'recommendations-worker,db-cli'),
      /the Nx build does not build invalidation-worker/,
    ],
    [
      'a build list that names a project only by a longer one',
      () =>
        replace(
          'recommendations-worker,invalidation-worker,db-cli',
          'recommendations-worker,invalidation-worker-v2,db-cli',
        ),
      /the Nx build does not build invalidation-worker$/,
    ],
    [
      'a full-size runtime image',
      () => replace('ARG NODE_IMAGE=node:26-trixie-slim', 'ARG NODE_IMAGE=node:26-trixie'),
      /starts from node:26-trixie, not a slim/,
    ],
    [
      'a Node line past its end of life',
      () => replace('ARG NODE_IMAGE=node:26-trixie-slim', 'ARG NODE_IMAGE=node:20-bookworm-slim'),
      /starts from node:20-bookworm-slim, not a slim image of the current Node LTS/,
    ],
  ])('fails with %s', (_, run, expected) => {
    expect(run()).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});

describe('.dockerignore (the build context is the repository root)', () => {
  it('keeps node_modules, dist, .git and .env files out of the build context, and nothing the build needs', () => {
    expect(dockerignoreProblems(dockerignore)).toEqual([]);
  });

  it('fails when node_modules would be sent, or the sources left out', () => {
    expect(dockerignoreProblems(dockerignore.replace('**/node_modules\n', ''))).toEqual([
      '.dockerignore does not exclude node_modules',
    ]);
    expect(dockerignoreProblems(`${dockerignore}\nlibs\n`)).toEqual([
      '.dockerignore excludes libs, which the build needs',
    ]);
  });
});

describe('docker/compose.yaml', () => {
  const compose = parseCompose(composeText);

  it('runs redis and postgres with healthchecks, a one-shot migrate, the gateway on 3000, three fragment workers and the invalidation worker', () => {
    // Every app of the registry (libs/registry), and the data tier.
    expect(Object.keys(compose.services ?? {}).sort()).toEqual([...HTTP_APPS, 'migrate', 'postgres', 'redis'].sort());
    expect(HTTP_APPS).toEqual(expect.arrayContaining(['gateway', 'profile-worker', 'invalidation-worker']));
    expect(composeProblems(compose)).toEqual([]);
  });

  it('bakes in no secret beyond overridable local-development defaults', () => {
    const secrets = [...composeText.matchAll(/\$\{(\w*(?:PASSWORD|SECRET)\w*):-([^}]*)\}/g)].map((m) => [m[1], m[2]]);
    expect(secrets.length).toBeGreaterThan(0);
    for (const [, value] of secrets) expect(value).toMatch(/local-dev/);
  });

  it('reads compose durations and interpolation defaults', () => {
    expect(composeDurationMs('35s')).toBe(35_000);
    expect(composeDurationMs('1m30s')).toBe(90_000);
    expect(composeDurationMs('soon')).toBeUndefined();
    expect(interpolateDefaults('a${X:-b}c${Y}')).toBe('abc');
  });

  it('names an app of the registry (libs/registry) that compose lacks', () => {
    for (const app of HTTP_APPS) {
      const compose = parseCompose(composeText);
      delete compose.services![app];
      expect(composeProblems(compose)).toContain(`service ${app} is missing`);
    }
  });

  const broken = (edit: (text: string) => string) => {
    const text = edit(composeText);
    expect(text).not.toBe(composeText);
    return composeProblems(parseCompose(text));
  };

  it.each<[string, () => string[], RegExp]>([
    [
      'apps that do not wait for the migration',
      () => broken((t) => t.replace(/condition: service_completed_successfully/g, 'condition: service_started')),
      /does not wait for migrate to complete successfully/,
    ],
    [
      'a database without healthcheck',
      () => broken((t) => t.replace(/test: \["CMD", "pg_isready".*\]/, 'disable: true')),
      /postgres has no healthcheck/,
    ],
    [
      'a literal password',
      () => broken((t) => t.replace(/\$\{POSTGRES_PASSWORD:-local-dev-password\}/g, 'hunter2')),
      /literal secret/,
    ],
    [
      'a real-looking default secret',
      () => broken((t) => t.replace('local-dev-jwt-secret', 'prod-jwt-secret')),
      /JWT_SECRET's default/,
    ],
    [
      'a drain cut short by SIGKILL',
      () => broken((t) => t.replace('stop_grace_period: 50s', 'stop_grace_period: 30s')),
      /recommendations-worker: stop_grace_period 30000 ms ≤ SHUTDOWN_TIMEOUT_MS 40000/,
    ],
    [
      'no invalidation worker',
      () => broken((t) => t.replace(/\n {2}# Relays the outbox[\s\S]*?retries: 12\n/, '\n')),
      /service invalidation-worker is missing/,
    ],
    [
      'the invalidation worker SIGKILLed before its drain',
      () => broken((t) => t.replace('stop_grace_period: 25s', 'stop_grace_period: 15s')),
      /invalidation-worker: stop_grace_period 15000 ms ≤ SHUTDOWN_TIMEOUT_MS 20000/,
    ],
    [
      'an invalidation drain budget below its statement timeout',
      () => broken((t) => t.replace('SHUTDOWN_TIMEOUT_MS: "20000"', 'SHUTDOWN_TIMEOUT_MS: "10000"')),
      /invalidation-worker: SHUTDOWN_TIMEOUT_MS 10000 ≤ DATABASE_STATEMENT_TIMEOUT_MS .* 15000/,
    ],
    [
      'an invalidation worker that would refuse to start',
      () => broken((t) => t.replace('PORT: "3004"', 'PORT: "http"')),
      /invalidation-worker would refuse to start: .*PORT/,
    ],
    [
      'the gateway without a database (its writes need one)',
      () => broken((t) => t.replace(/\n {6}# For writes only[^\n]*\n {6}DATABASE_URL: [^\n]*/, '')),
      /gateway: DATABASE_URL is not set/,
    ],
    [
      'the gateway not published',
      () => broken((t) => t.replace('"3000:3000"', '"8080:3000"')),
      /gateway is not published on 3000/,
    ],
    [
      'a worker listening on 127.0.0.1',
      () => broken((t) => t.replace('HOST: 0.0.0.0', 'HOST: 127.0.0.1')),
      /HOST must be 0.0.0.0/,
    ],
    ['seeding on every up', () => broken((t) => t.replace('"seed", "--if-empty", ', '"seed", ')), /without --if-empty/],
  ])('fails with %s', (_, run, expected) => {
    expect(run()).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});
