// The registry entries of a new fragment and its worker (libs/registry), and its import paths.

/**
 * A new worker's default concurrency (and so its Postgres pool, which must hold one connection per
 * build; the backlog target, 75%, stays below it), and its autoscalers' maximum: as many pods as the
 * namespace's Postgres connection budget has left (budget.cjs), at most profile-worker's 12, and at
 * least 6, the fewest with which the deploy checks' 10× spike (tools/deploy-checks/src/hpa-spike.spec.ts)
 * drains within 3 minutes at this concurrency and a minimum of 2 (5 only keep up). With fewer left
 * the generator refuses, saying what to raise. Raise them (APPS, the manifests) once measured.
 */
const NEW_WORKER_CONCURRENCY = 2;
const NEW_WORKER_MAX_REPLICAS = 12;
const NEW_WORKER_LEAST_MAX_REPLICAS = 6;

const FRAGMENTS_FILE = 'libs/registry/src/lib/fragments.ts';
const PLAN_FILE = 'libs/registry/src/lib/invalidation-plan.ts';
const APPS_FILE = 'libs/registry/src/lib/apps.ts';
const APPS_JSON = 'libs/registry/src/apps.json';

/** The next port after every registered app's (the launcher gives consecutive ports in APPS order). */
function nextPort(apps) {
  return Math.max(...apps.map((a) => a.port)) + 1;
}

function addTsPaths(tree, n) {
  const path = 'tsconfig.base.json';
  const config = JSON.parse(tree.read(path, 'utf-8'));
  const paths = {
    ...config.compilerOptions.paths,
    [`@worker-pattern/${n.name}`]: [`./libs/${n.name}/src/index.ts`],
    [`@worker-pattern/${n.name}/builder`]: [`./libs/${n.name}/builder/src/index.ts`],
  };
  config.compilerOptions.paths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  tree.write(path, `${JSON.stringify(config, null, 2)}\n`);
}

function addFragment(tree, n) {
  edit(tree, FRAGMENTS_FILE, (text) =>
    insertBefore(
      addImport(text, `import { ${n.propertyName}Fragment } from '@worker-pattern/${n.name}';`),
      /\n\} as const satisfies Record<string, FragmentContract/,
      `\n  ${n.registryKey}: ${n.propertyName}Fragment,`,
    ),
  );
}

function addInvalidationRules(tree, n) {
  edit(tree, PLAN_FILE, (text) => {
    const start = text.indexOf('export const INVALIDATION_RULES');
    const end = text.indexOf('\n};\n', start);
    if (start < 0 || end < 0) throw new Error(`${PLAN_FILE}: no INVALIDATION_RULES object`);
    const withEntry = `${text.slice(0, end)}\n  ${n.registryKey}: ${n.propertyName}Invalidation,${text.slice(end)}`;
    return addImport(withEntry, `import { ${n.propertyName}Invalidation } from '@worker-pattern/${n.name}';`);
  });
}

function addApp(tree, n, port) {
  const app = `${n.name}-worker`;
  const fragmentRef = n.registryKey.startsWith("'") ? `FRAGMENTS[${n.registryKey}]` : `FRAGMENTS.${n.name}`;
  edit(tree, APPS_FILE, (text) =>
    insertBefore(
      text,
      /\n\} as const satisfies Record<string, AppEntry>;/,
      `
  '${app}': {
    name: '${app}',
    kind: 'fragment-worker',
    port: ${port},
    fragment: '${n.name}',
    queue: ${fragmentRef}.queue,
    concurrency: ${NEW_WORKER_CONCURRENCY},
  },`,
    ),
  );
  const apps = JSON.parse(tree.read(APPS_JSON, 'utf-8'));
  apps.push({
    name: app,
    kind: 'fragment-worker',
    port,
    fragment: n.name,
    queue: n.name,
    concurrency: NEW_WORKER_CONCURRENCY,
  });
  tree.write(APPS_JSON, `${JSON.stringify(apps, null, 2)}\n`);
}

function edit(tree, path, change) {
  const text = tree.read(path, 'utf-8');
  if (text === null) throw new Error(`${path} is missing`);
  tree.write(path, change(text));
}

/**
 * After the last package import whose module sorts before the new one's, else before the first import.
 * Whole statements: an import may span lines (`import {` … `} from '…';`).
 */
function addImport(text, line) {
  const from = (statement) => /from '([^']+)';/.exec(statement)?.[1] ?? '';
  const imports = [...text.matchAll(/^import [^;]*;\n/gm)];
  const isPackage = (module) => module !== '' && !module.startsWith('.');
  const before = imports.filter((m) => isPackage(from(m[0])) && from(m[0]) < from(line)).pop();
  const at = before ? before.index + before[0].length : (imports[0]?.index ?? 0);
  return `${text.slice(0, at)}${line}\n${text.slice(at)}`;
}

function insertBefore(text, pattern, insertion) {
  const m = pattern.exec(text);
  if (!m) throw new Error(`no ${pattern} to insert the new entry before`);
  return `${text.slice(0, m.index)}${insertion}${text.slice(m.index)}`;
}

module.exports = {
  addApp,
  addFragment,
  addInvalidationRules,
  addTsPaths,
  nextPort,
  NEW_WORKER_CONCURRENCY,
  NEW_WORKER_MAX_REPLICAS,
  NEW_WORKER_LEAST_MAX_REPLICAS,
};

/**
 * The other typed tables keyed by fragment or app, each a compile error without the new entry: the
 * demo page's renderer (a generic data view until the fragment has its own), the deploy checks'
 * expected egress and assumed workload (profile-worker's until measured), and the registry specs'
 * pinned lists (their order is the dashboard's and the launcher's).
 */
function addTableEntries(tree, n) {
  const app = `${n.name}-worker`;
  const quotedApp = `'${app}'`;
  edit(tree, 'libs/fragment-client/src/lib/fragment-views.ts', (text) =>
    replaceOnce(
      text,
      /(const RENDERERS:[\s\S]*?= \{)([^}]*?)(\s*\};)/,
      (_, head, body) => `${head}${trimList(body)}, ${n.registryKey}: dataView };`,
    ),
  );
  edit(tree, 'tools/deploy-checks/src/lib/k8s-checks.ts', (text) =>
    addToObject(text, 'const EGRESS', `${quotedApp}: [53, 5432, 6379],`),
  );
  edit(tree, 'tools/deploy-checks/src/lib/hpa/workload.ts', (text) =>
    addToObject(text, 'export const WORKLOAD', `${quotedApp}: { buildSeconds: 0.05, cpuBusyPercent: 40 },`),
  );
  edit(tree, 'libs/registry/src/lib/apps.spec.ts', (text) =>
    appendToPinned(appendToPinned(text, 'WORKER_NAMES', quotedApp), 'WORKER_QUEUE_NAMES', `'${n.name}'`),
  );
  edit(tree, 'libs/registry/src/lib/fragments.spec.ts', (text) =>
    appendToPinned(text, 'FRAGMENT_NAMES', `'${n.name}'`),
  );
}

function addToObject(text, start, line) {
  const from = text.indexOf(start);
  const end = text.indexOf('\n};', from);
  if (from < 0 || end < 0) throw new Error(`no object "${start}" to add ${line} to`);
  return `${text.slice(0, end)}\n  ${line}${text.slice(end)}`;
}

function appendToPinned(text, name, item) {
  return replaceOnce(
    text,
    new RegExp(`(expect\\(${name}\\)\\.toEqual\\(\\[)([^\\]]*)(\\]\\))`),
    (_, head, body, tail) => `${head}${trimList(body)}, ${item}${tail}`,
  );
}

function trimList(body) {
  return body.replace(/,?\s*$/, '');
}

function replaceOnce(text, pattern, replacer) {
  if (!pattern.test(text)) throw new Error(`no ${pattern} to add the new entry to`);
  return text.replace(pattern, replacer);
}

module.exports.addTableEntries = addTableEntries;
