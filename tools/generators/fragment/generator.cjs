// `nx g @worker-pattern/tools:fragment <name>`: a new fragment in one folder and one worker, wired
// into everything that reads the registry (README.md, "Add a fragment"). Plain CommonJS so Nx loads
// it without a TypeScript transpiler.
const { symlinkSync, existsSync, lstatSync } = require('node:fs');
const { join } = require('node:path');
const { formatFiles, names } = require('@nx/devkit');
const { contractLib, builderLib, workerApp } = require('./files.cjs');
const { fitMaxReplicas, minReplicasOf } = require('./budget.cjs');
const { deploymentFile, workerDocs, REFERENCE } = require('./manifests.cjs');
const {
  addApp,
  addFragment,
  addInvalidationRules,
  addTableEntries,
  addTsPaths,
  nextPort,
  NEW_WORKER_CONCURRENCY,
  NEW_WORKER_MAX_REPLICAS,
  NEW_WORKER_LEAST_MAX_REPLICAS,
} = require('./registry.cjs');

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The names one fragment's files and symbols use. */
function fragmentNames(name) {
  if (!NAME.test(name) || name.length > 33) {
    throw new Error(`fragment name "${name}": lower-case words joined by dashes, at most 33 characters`);
  }
  const n = names(name);
  return {
    name,
    className: n.className,
    propertyName: n.propertyName,
    title: name
      .split('-')
      .join(' ')
      .replace(/^./, (c) => c.toUpperCase()),
    // A FRAGMENTS key that is not an identifier is quoted.
    registryKey: /^[a-z][a-z0-9]*$/.test(name) ? name : `'${name}'`,
  };
}

/** @param {import('@nx/devkit').Tree} tree @param {{ name: string }} options */
async function fragmentGenerator(tree, options) {
  const n = fragmentNames(options.name);
  const app = `${n.name}-worker`;
  for (const taken of [`libs/${n.name}`, `apps/${app}`]) {
    if (tree.exists(taken)) throw new Error(`${taken} exists already: pick another name`);
  }
  const apps = JSON.parse(tree.read('libs/registry/src/apps.json', 'utf-8'));
  if (apps.some((a) => a.name === app || a.queue === n.name)) {
    throw new Error(`the registry has an app ${app} or a queue "${n.name}" already`);
  }
  const port = nextPort(apps);
  // Before any file is written: a worker that does not fit leaves the workspace as it was. Its
  // autoscalers keep the reference's minimum, and KEDA's fallback lies strictly between minimum and
  // maximum (the deploy checks), so the maximum is also at least the minimum + 2.
  const minReplicas = minReplicasOf(tree, REFERENCE);
  const maxReplicas = fitMaxReplicas(tree, {
    app,
    perPod: NEW_WORKER_CONCURRENCY,
    least: Math.max(NEW_WORKER_LEAST_MAX_REPLICAS, minReplicas + 2),
    ceiling: NEW_WORKER_MAX_REPLICAS,
  });

  for (const [path, text] of Object.entries({ ...contractLib(n), ...builderLib(n), ...workerApp(n) })) {
    tree.write(path, text);
  }
  addTsPaths(tree, n);
  addFragment(tree, n);
  addInvalidationRules(tree, n);
  addApp(tree, n, port);
  addTableEntries(tree, n);

  const worker = {
    app,
    queue: n.name,
    port,
    concurrency: NEW_WORKER_CONCURRENCY,
    minReplicas,
    maxReplicas,
  };
  const link = deploymentFile(tree, worker);
  workerDocs(tree, worker);
  addToBuildLists(tree, app);
  addComposeService(tree, app, port);

  await formatFiles(tree);
  // A Tree holds files, not links: the top-level link (`kubectl apply -f k8s` reads it) is made once
  // the files are written, as the others are links to k8s/base.
  return () => linkTopLevel(tree.root, link);
}

function linkTopLevel(root, { linkPath, target }) {
  const path = join(root, linkPath);
  if (existsSync(path) || isLink(path)) return;
  symlinkSync(target, path);
}

function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Every place that builds "the deployable apps" by a list of names: the Docker image's build step, the
 * bench script and its recorded command, and the e2e targets' dependsOn (the e2e stack starts every
 * worker of the registry, from dist/apps).
 */
function addToBuildLists(tree, app) {
  // After the gateway: the lists' tails are what the deploy checks' own mutations edit.
  const list = /(-p gateway,)([a-z0-9,-]*invalidation-worker,db-cli)/;
  for (const path of ['docker/Dockerfile', 'package.json', 'bench/src/runner/results.ts']) {
    const text = tree.read(path, 'utf-8');
    if (text === null || !list.test(text))
      throw new Error(`${path}: no "-p gateway,…,invalidation-worker,db-cli" build list to add ${app} to`);
    tree.write(path, text.replace(list, `$1${app},$2`));
  }
  const e2e = 'apps/e2e/project.json';
  const project = JSON.parse(tree.read(e2e, 'utf-8'));
  let added = 0;
  for (const target of Object.values(project.targets)) {
    for (const dep of target.dependsOn ?? []) {
      if (typeof dep === 'object' && dep.projects?.includes('invalidation-worker')) {
        dep.projects.splice(dep.projects.indexOf('invalidation-worker') + 1, 0, app);
        added++;
      }
    }
  }
  if (!added) throw new Error(`${e2e}: no dependsOn that builds the workers to add ${app} to`);
  // And the project graph's own edge, so `nx affected` runs the e2e suite when the worker changes.
  const implicit = project.implicitDependencies ?? [];
  if (!implicit.includes('invalidation-worker'))
    throw new Error(`${e2e}: no implicitDependencies holding invalidation-worker to add ${app} beside`);
  implicit.splice(implicit.indexOf('invalidation-worker') + 1, 0, app);
  tree.write(e2e, `${JSON.stringify(project, null, 2)}\n`);
}

/** A compose service for the worker, as profile-worker's, before the invalidation worker's. */
function addComposeService(tree, app, port) {
  const path = 'docker/compose.yaml';
  const text = tree.read(path, 'utf-8');
  const block = text.match(/\n {2}profile-worker:\n[\s\S]*?\n(?=\n {2}[a-z])/);
  if (!block || !text.includes('\n  invalidation-worker:\n')) {
    throw new Error(`${path}: no profile-worker service to model ${app} on, or no invalidation-worker`);
  }
  const service = block[0]
    .replaceAll('profile-worker', app)
    .replace(/PORT: "3001"/, `PORT: "${port}"`)
    .replace('127.0.0.1:3001/', `127.0.0.1:${port}/`);
  if (/profile|3001/.test(service))
    throw new Error(`${path}: profile-worker's service changed shape; update the generator`);
  // Before the invalidation worker's service and the comment above it.
  const at = /\n((?: {2}#.*\n)*) {2}invalidation-worker:\n/;
  tree.write(
    path,
    text.replace(at, (_, comment) => `${service}\n${comment}  invalidation-worker:\n`),
  );
}

module.exports = fragmentGenerator;
module.exports.default = fragmentGenerator;
module.exports.fragmentNames = fragmentNames;
