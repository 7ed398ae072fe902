import { parse as parseYaml } from 'yaml';
import { ALL_APPS, HTTP_APPS, isWorkerApp, longestJobMs, type ParsedAppEnv, validateAppEnv } from './app-facts';

/**
 * Static checks of docker/Dockerfile, its .dockerignore and docker/compose.yaml. No engine runs
 * here: these read the files the way Docker would and check what the design asks of them.
 */

/**
 * The Node line the images run: the current LTS (26, Active LTS since October 2026, per Node's
 * release schedule). The apps keep running on Node 20.19 or later (package.json engines).
 */
export const NODE_LTS_MAJOR = 26;

export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

export interface DockerStage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: DockerInstruction[];
}

/** Instructions grouped by stage; comments dropped, `\` continuations joined, heredocs not supported. */
export function parseDockerfile(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    const start = i + 1;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (/^\s*#/.test(lines[i])) continue; // comments inside a continuation are dropped
      line += lines[i];
    }
    const m = line.trim().match(/^(\w+)\s*(.*)$/s);
    if (!m) continue;
    const instruction = { keyword: m[1].toUpperCase(), args: m[2].replace(/\s+/g, ' ').trim(), line: start };
    if (instruction.keyword === 'FROM') {
      const from = instruction.args.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i);
      stages.push({ from: from?.[1] ?? instruction.args, name: from?.[2], instructions: [] });
    } else if (stages.length) {
      stages[stages.length - 1].instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      throw new Error(`line ${start}: ${instruction.keyword} before the first FROM`);
    }
  }
  return stages;
}

/** The JSON array of an exec-form CMD/ENTRYPOINT, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const SECRETISH = /PASSWORD|SECRET|TOKEN|PRIVATE|API_KEY|CREDENTIAL|DATABASE_URL|REDIS_URL/i;

export function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) return ['expected a multi-stage build'];
  const runtime = stages[stages.length - 1];
  const all = (stage: DockerStage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
  const runs = (stage: DockerStage) =>
    all(stage, 'RUN')
      .map((i) => i.args)
      .join('\n');
  const envs = (stage: DockerStage) =>
    all(stage, 'ENV')
      .map((i) => i.args)
      .join('\n');

  const buildStage = stages.find((s) => /\bnx\b.*\brun-many\b|\bnx run\b|\bnx build\b/.test(runs(s)));
  if (!buildStage) problems.push('no stage runs the Nx build');
  else {
    const parent = stages.find((s) => s.name === buildStage.from);
    if (!/\bnpm ci\b/.test(runs(buildStage) + (parent ? runs(parent) : '')))
      problems.push('the build stage does not install with `npm ci` (the lock file)');
    if (!/NX_DAEMON=false/.test(envs(buildStage) + runs(buildStage)))
      problems.push('the Nx build does not set NX_DAEMON=false');
    // The -p list names projects exactly (comma-separated): match whole names, not substrings.
    const built = new Set(
      runs(buildStage)
        .match(/(?:^|\s)(?:-p|--projects)[ =](\S+)/)?.[1]
        .split(',') ?? [],
    );
    for (const app of ALL_APPS) if (!built.has(app)) problems.push(`the Nx build does not build ${app}`);
  }
  // Global ARGs (before the first FROM) may name the base image.
  const runtimeFrom = runtime.from.replace(
    /\$\{?(\w+)\}?/g,
    (_, name: string) => text.match(new RegExp(`^ARG ${name}=(\\S+)`, 'm'))?.[1] ?? '',
  );
  if (
    !new RegExp(`^node:${NODE_LTS_MAJOR}[\\w.-]*-(trixie-|bookworm-)?slim$|alpine|distroless`).test(runtimeFrom) &&
    !stages.some((s) => s.name === runtime.from)
  ) {
    problems.push(
      `the runtime stage starts from ${runtimeFrom || runtime.from}, not a slim image of the current Node LTS (node:${NODE_LTS_MAJOR}-trixie-slim or similar)`,
    );
  }
  const copies = all(runtime, 'COPY').map((i) => i.args);
  const nodeModulesFrom = copies.find((c) => /node_modules/.test(c))?.match(/--from=(\S+)/)?.[1];
  const depsStage = stages.find((s) => s.name === nodeModulesFrom);
  if (!depsStage) problems.push('the runtime stage does not copy node_modules from a dependencies stage');
  else if (!/npm ci\b[^\n]*--omit=dev/.test(runs(depsStage)))
    problems.push(`node_modules come from stage ${nodeModulesFrom}, which does not run npm ci --omit=dev`);
  if (!copies.some((c) => /dist\/apps\/\$\{?APP\}?\/?\s/.test(c + ' ')))
    problems.push('the runtime stage does not copy the whole dist/apps/${APP}/ folder');
  const user = all(runtime, 'USER').at(-1)?.args;
  if (!user) problems.push('the runtime stage has no USER: it would run as root');
  else if (/^(root|0)(:|$)/.test(user)) problems.push(`the runtime stage runs as ${user}`);
  else if (!/^\d+(:\d+)?$/.test(user))
    problems.push(`USER ${user}: use a numeric uid so Kubernetes' runAsNonRoot can verify it`);
  const entrypoint = all(runtime, 'ENTRYPOINT').at(-1);
  const cmd = all(runtime, 'CMD').at(-1);
  const entry = entrypoint ? execForm(entrypoint.args) : undefined;
  if (entrypoint && !entry)
    problems.push(`ENTRYPOINT on line ${entrypoint.line} is in shell form: a shell would be PID 1 and swallow SIGTERM`);
  if (cmd && !execForm(cmd.args)) problems.push(`CMD on line ${cmd.line} is in shell form`);
  const argv = [...(entry ?? []), ...(cmd ? (execForm(cmd.args) ?? []) : [])];
  const node = argv.findIndex((a) => a === 'node' || a.endsWith('/node'));
  const shell = argv.findIndex((a) => /(^|\/)(sh|bash|dash|ash)$/.test(a));
  if (shell >= 0 && (node < 0 || shell < node))
    problems.push('a shell wraps node: it would take SIGTERM and node would never see it');
  else if (node < 0) problems.push('the entry point does not run node');
  else if (node > 0 && !/(^|\/)(tini|dumb-init)$/.test(argv[0]))
    problems.push(`node is started through ${argv[0]}, which is not a known init`);
  for (const stage of stages) {
    for (const i of [...all(stage, 'ENV'), ...all(stage, 'ARG')]) {
      if (SECRETISH.test(i.args))
        problems.push(`line ${i.line}: ${i.keyword} ${i.args} bakes a secret-looking value into the image`);
    }
  }
  return problems;
}

export function dockerignoreProblems(text: string): string[] {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const problems: string[] = [];
  for (const needed of ['node_modules', 'dist', '.git', '.env']) {
    if (!patterns.some((p) => p.replace(/^\*\*\//, '') === needed))
      problems.push(`.dockerignore does not exclude ${needed}`);
  }
  for (const kept of ['package.json', 'package-lock.json', 'apps', 'libs', 'tools', 'nx.json', 'tsconfig.base.json']) {
    if (patterns.some((p) => p === kept || p === `${kept}/` || p === '*' || p === '**'))
      problems.push(`.dockerignore excludes ${kept}, which the build needs`);
  }
  return problems;
}

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: Array<string | { published?: string | number; target?: number }>;
  restart?: string;
  stop_grace_period?: string;
}

export interface ComposeFile {
  services?: Record<string, ComposeService>;
}

export function parseCompose(text: string): ComposeFile {
  return parseYaml(text, { merge: true }) as ComposeFile;
}

function envOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Compose duration ("35s", "1m30s", "500ms") in milliseconds. */
export function composeDurationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us)/g;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]];
    matched += m[0];
  }
  return matched === text ? total : undefined;
}

/** Values after compose interpolation, taking each `${VAR:-default}`'s default. */
export function interpolateDefaults(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}

const LOCAL_DEV_MARK = /local-dev/;

/**
 * Secret-looking values must be `${VAR:-default}` with a default that says it is for local
 * development, so an operator can override each one and nothing real is committed.
 */
function secretProblems(where: string, name: string, value: string): string[] {
  const problems: string[] = [];
  const urlPassword = value.match(/^[a-z]+:\/\/[^:/@]*:([^@]*)@/)?.[1];
  const secretValue = SECRETISH.test(name) && !/_URL$/.test(name) ? value : urlPassword;
  if (secretValue === undefined || secretValue === '') return problems;
  const m = secretValue.match(/^\$\{\w+:?-([^}]*)\}$/);
  if (!m) problems.push(`${where}: ${name} has a literal secret; use \${VAR:-local-dev-…} so it can be overridden`);
  else if (!LOCAL_DEV_MARK.test(m[1])) problems.push(`${where}: ${name}'s default "${m[1]}" does not say local-dev`);
  return problems;
}

export function composeProblems(compose: ComposeFile): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  const need = ['redis', 'postgres', 'migrate', ...HTTP_APPS];
  for (const name of need) if (!services[name]) problems.push(`service ${name} is missing`);
  for (const name of ['redis', 'postgres']) {
    const hc = services[name]?.healthcheck;
    if (!hc?.test || hc.disable) problems.push(`${name} has no healthcheck`);
  }
  const dependsOn = (service: string, on: string): string | undefined => {
    const deps = services[service]?.depends_on;
    if (!deps || Array.isArray(deps)) return undefined;
    return deps[on]?.condition;
  };
  const migrate = services['migrate'];
  if (migrate) {
    const command = Array.isArray(migrate.command) ? migrate.command.join(' ') : (migrate.command ?? '');
    if (!/\b(migrate|seed)\b/.test(command))
      problems.push('migrate does not run db-cli migrate (or seed, which migrates first)');
    if (/\bseed\b/.test(command) && !command.includes('--if-empty'))
      problems.push('migrate seeds without --if-empty: every `up` would try to seed again');
    if (migrate.build?.args?.['APP'] !== 'db-cli') problems.push('migrate is not built with APP=db-cli');
    if (dependsOn('migrate', 'postgres') !== 'service_healthy')
      problems.push('migrate does not wait for postgres to be healthy');
    if (migrate.restart && migrate.restart !== 'no') problems.push('migrate is a one-shot: restart must be "no"');
    if (!envOf(migrate)['DATABASE_URL']) problems.push('migrate has no DATABASE_URL');
  }
  for (const app of HTTP_APPS) {
    const service = services[app];
    if (!service) continue;
    const env = envOf(service);
    if (service.build?.args?.['APP'] !== app) problems.push(`${app} is not built with APP=${app}`);
    if (service.build?.dockerfile !== 'docker/Dockerfile' || service.build.context !== '..')
      problems.push(`${app} is not built from the repository root with docker/Dockerfile`);
    if (dependsOn(app, 'migrate') !== 'service_completed_successfully')
      problems.push(`${app} does not wait for migrate to complete successfully`);
    if (dependsOn(app, 'redis') !== 'service_healthy') problems.push(`${app} does not wait for redis to be healthy`);
    if (isWorkerApp(app) && dependsOn(app, 'postgres') !== 'service_healthy')
      problems.push(`${app} does not wait for postgres to be healthy`);
    if (!service.healthcheck?.test) problems.push(`${app} has no healthcheck`);
    if (env['HOST'] !== '0.0.0.0') problems.push(`${app}: HOST must be 0.0.0.0 in a container`);
    if (!env['REDIS_URL']) problems.push(`${app}: REDIS_URL is not set`);
    // Workers need Postgres; so do the gateway's writes (its reads never do, so it does not wait for it).
    if (!env['DATABASE_URL']) problems.push(`${app}: DATABASE_URL is not set`);
    if (
      app === 'gateway' &&
      !(service.ports ?? []).some((p) =>
        typeof p === 'string'
          ? /^(\d+\.\d+\.\d+\.\d+:)?3000:3000$/.test(p)
          : p.published === 3000 || p.published === '3000',
      )
    ) {
      problems.push('gateway is not published on 3000');
    }
    if (app !== 'gateway' && (service.ports ?? []).length)
      problems.push(`${app} publishes ports; only the gateway is reachable from outside`);
    // The environment the app would see with every ${VAR:-default} at its default, through the app's
    // own validation (so its defaults, e.g. SHUTDOWN_TIMEOUT_MS, come from the app, not from here).
    let parsed: ParsedAppEnv;
    try {
      parsed = validateAppEnv(
        app,
        Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolateDefaults(v)])),
      );
    } catch (error) {
      problems.push(
        `${app} would refuse to start: ${(error instanceof Error ? error.message : String(error)).replace(/\n\s*/g, ' ')}`,
      );
      continue;
    }
    const shutdownMs = Number(parsed['SHUTDOWN_TIMEOUT_MS']);
    const graceMs = composeDurationMs(service.stop_grace_period) ?? 10_000;
    if (graceMs <= shutdownMs)
      problems.push(
        `${app}: stop_grace_period ${graceMs} ms ≤ SHUTDOWN_TIMEOUT_MS ${shutdownMs}: compose would SIGKILL a draining worker`,
      );
    if (isWorkerApp(app)) {
      const job = longestJobMs(app, parsed);
      if (shutdownMs <= job.ms) problems.push(`${app}: SHUTDOWN_TIMEOUT_MS ${shutdownMs} ≤ ${job.what} ${job.ms}`);
      const lock = Number(parsed['BULL_LOCK_DURATION_MS']);
      if (lock <= job.ms) problems.push(`${app}: BULL_LOCK_DURATION_MS ${lock} ≤ ${job.what} ${job.ms}`);
    }
  }
  for (const [name, service] of Object.entries(services)) {
    for (const [key, value] of Object.entries(envOf(service)))
      problems.push(...secretProblems(`service ${name}`, key, value));
  }
  return problems;
}
