// How many pods a new worker may scale to: what the namespace's Postgres connection budget has left
// once every app is at its autoscaler's maximum, counted as the deploy checks count it
// (tools/deploy-checks/src/lib/k8s-checks.ts, checkConnectionBudget; generator.spec.ts holds the two
// sums equal on this workspace).
const { parseAllDocuments } = require('yaml');

const NAMESPACE_FILE = 'k8s/base/00-namespace.yaml';
const BUDGET_ANNOTATION = 'worker-pattern/postgres-connection-budget';
const BASE_KUSTOMIZATION = 'k8s/base/kustomization.yaml';
const APP_FACTS = 'tools/deploy-checks/src/lib/app-facts.ts';
/** A migration's connections, which the check adds to the apps' (its DB_CLI_CONNECTIONS). */
const DB_CLI_CONNECTIONS = 2;
/** The pool of an app that sets no DATABASE_POOL_SIZE (the apps' default, and the check's). */
const DEFAULT_POOL_SIZE = 10;
/** The worker autoscalers an overlay picks one of, each beside the base's own (the gateway's HPA). */
const VARIANTS = {
  'components/hpa': 'k8s/components/hpa/hpa-workers.yaml',
  'components/keda': 'k8s/components/keda/scaledobjects.yaml',
};

/**
 * The budget and, per autoscaler variant, the connections every app with a DATABASE_URL opens at its
 * maximum (pool, plus the connections of its own app-facts.ts lists), plus a migration's.
 * @param {import('@nx/devkit').Tree} tree
 */
function connectionsAtMaxScale(tree) {
  const base = tree
    .children('k8s/base')
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => docsOf(tree, `k8s/base/${f}`));
  const configMaps = generatedConfigMaps(tree);
  const extra = extraConnections(tree);
  const perPod = new Map();
  for (const d of base.filter((x) => x.kind === 'Deployment')) {
    const container = d.spec?.template?.spec?.containers?.[0];
    if (!container) continue;
    const env = containerEnv(container, configMaps);
    if (!env.has('DATABASE_URL')) continue;
    const name = d.metadata.name;
    perPod.set(name, Number(env.get('DATABASE_POOL_SIZE') ?? DEFAULT_POOL_SIZE) + (extra[name] ?? 0));
  }
  const baseScalers = base.filter(isAutoscaler);
  const used = {};
  for (const [variant, file] of Object.entries(VARIANTS)) {
    used[variant] = [...baseScalers, ...docsOf(tree, file).filter(isAutoscaler)].reduce(
      (sum, s) => sum + maxOf(s) * (perPod.get(s.spec.scaleTargetRef.name) ?? 0),
      DB_CLI_CONNECTIONS,
    );
  }
  return { budget: budgetOf(tree), used };
}

/**
 * The largest maximum ≤ `ceiling` at which `app`, opening `perPod` connections a pod, keeps every
 * variant within the budget. Throws, saying what to change, when not even `least` pods fit.
 */
function fitMaxReplicas(tree, { app, perPod, least, ceiling }) {
  const { budget, used } = connectionsAtMaxScale(tree);
  const most = Math.max(...Object.values(used));
  const fits = Math.floor((budget - most) / perPod);
  if (fits < least) {
    const sums = Object.entries(used)
      .map(([variant, n]) => `${n} with ${variant}`)
      .join(', ');
    throw new Error(
      `${app} does not fit the Postgres connection budget: at least ${least} pods × ${perPod} connections ` +
        `need ${least * perPod}, and the apps at their maximum scale already use ${sums} of the ${budget} that ` +
        `${NAMESPACE_FILE} allows (annotation ${BUDGET_ANNOTATION}). Raise that annotation to at least ` +
        `${most + least * perPod} (with Postgres' max_connections, or PgBouncer's max_client_conn), or lower ` +
        `another app's maxReplicas / maxReplicaCount or DATABASE_POOL_SIZE (docs/deploy.md, "Postgres ` +
        `connections"), then generate again.`,
    );
  }
  return Math.min(ceiling, fits);
}

function budgetOf(tree) {
  const namespace = docsOf(tree, NAMESPACE_FILE).find((d) => d.kind === 'Namespace');
  const raw = namespace?.metadata?.annotations?.[BUDGET_ANNOTATION];
  const budget = Number(raw);
  if (!raw || !Number.isInteger(budget) || budget < 1) {
    throw new Error(`${NAMESPACE_FILE}: annotation ${BUDGET_ANNOTATION} must be a positive integer, got ${raw}`);
  }
  return budget;
}

/** The base's generated ConfigMaps (configMapGenerator), by name: their keys and values. */
function generatedConfigMaps(tree) {
  const [kustomization] = docsOf(tree, BASE_KUSTOMIZATION);
  const maps = new Map();
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data = {};
    for (const file of generator.envs ?? []) Object.assign(data, parseEnvFile(read(tree, `k8s/base/${file}`)));
    for (const literal of generator.literals ?? []) Object.assign(data, parseEnvFile(literal));
    maps.set(generator.name, data);
  }
  return maps;
}

function parseEnvFile(text) {
  const data = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) data[m[1]] = m[2];
  }
  return data;
}

/** A container's variables: a literal value, or null when it comes from a Secret. */
function containerEnv(container, configMaps) {
  const env = new Map();
  for (const source of container.envFrom ?? []) {
    const map = source.configMapRef && configMaps.get(source.configMapRef.name);
    for (const [key, value] of Object.entries(map ?? {})) env.set(`${source.prefix ?? ''}${key}`, value);
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.configMapKeyRef;
    env.set(variable.name, ref ? (configMaps.get(ref.name)?.[ref.key] ?? null) : (variable.value ?? null));
  }
  return env;
}

/** The connections some apps open beside their pool (app-facts.ts, EXTRA_POSTGRES_CONNECTIONS). */
function extraConnections(tree) {
  const m = /EXTRA_POSTGRES_CONNECTIONS\b[^=]*=\s*\{([^}]*)\}/.exec(read(tree, APP_FACTS));
  if (!m) throw new Error(`${APP_FACTS}: no EXTRA_POSTGRES_CONNECTIONS object to read`);
  return Object.fromEntries([...m[1].matchAll(/'([a-z0-9-]+)':\s*(\d+)/g)].map(([, app, n]) => [app, Number(n)]));
}

function isAutoscaler(d) {
  return d.kind === 'HorizontalPodAutoscaler' || d.kind === 'ScaledObject';
}

/** As the check reads them: an HPA without a maximum counts 0 pods, a ScaledObject KEDA's default 100. */
function maxOf(s) {
  return s.kind === 'HorizontalPodAutoscaler' ? (s.spec.maxReplicas ?? 0) : (s.spec.maxReplicaCount ?? 100);
}

/** Every autoscaler variant's minimum for `app` (the new worker copies its reference's). */
function minReplicasOf(tree, app) {
  const mins = Object.values(VARIANTS).flatMap((file) =>
    docsOf(tree, file)
      .filter((d) => isAutoscaler(d) && d.spec.scaleTargetRef.name === app)
      .map((d) => (d.kind === 'HorizontalPodAutoscaler' ? (d.spec.minReplicas ?? 1) : (d.spec.minReplicaCount ?? 0))),
  );
  if (mins.length !== Object.keys(VARIANTS).length) {
    throw new Error(`${Object.values(VARIANTS).join(', ')}: expected one autoscaler of ${app} in each`);
  }
  return Math.max(...mins);
}

function docsOf(tree, path) {
  return parseAllDocuments(read(tree, path))
    .map((d) => d.toJS())
    .filter(Boolean);
}

function read(tree, path) {
  const text = tree.read(path, 'utf-8');
  if (text === null) throw new Error(`${path} is missing`);
  return text;
}

module.exports = { connectionsAtMaxScale, fitMaxReplicas, minReplicasOf, BUDGET_ANNOTATION };
