// The new worker's k8s manifests, modelled on profile-worker's as they stand (so the hardening,
// probes and labels the deploy checks require come with them): its Deployment and Service, its
// ServiceAccount, PDB, HPA (components/hpa), ScaledObject (components/keda and keda-redis) and its
// image in the production overlay. The network policies select workers by label, not by name.
const REFERENCE = 'profile-worker';
const REFERENCE_QUEUE = 'profile';
const REFERENCE_PORT = 3001;
const REFERENCE_CONCURRENCY = 16;

/** The Deployment + Service file in k8s/base and its resource entry; returns the top-level link to make. */
function deploymentFile(tree, w) {
  const { app } = w;
  const used = tree
    .children('k8s/base')
    .map((f) => /^3(\d)-/.exec(f))
    .filter(Boolean)
    .map((m) => Number(m[1]));
  const slot = Math.max(...used) + 1;
  if (slot > 9) throw new Error('k8s/base has no free 3N- slot for another app');
  const file = `3${slot}-${app}.yaml`;
  const reference = read(tree, `k8s/base/31-${REFERENCE}.yaml`);
  tree.write(`k8s/base/${file}`, header(app) + rewrite(stripHeader(reference), w, file));

  const kustomization = 'k8s/base/kustomization.yaml';
  const text = read(tree, kustomization);
  const last = [...text.matchAll(/^ {2}- 3\d-[a-z0-9-]+\.yaml\n/gm)].pop();
  if (!last) throw new Error(`${kustomization}: no 3N- resource to add ${file} after`);
  const at = last.index + last[0].length;
  tree.write(kustomization, `${text.slice(0, at)}  - ${file}\n${text.slice(at)}`);
  return { linkPath: `k8s/${file}`, target: `base/${file}` };

  function header(name) {
    return `# ${name}: generated from ${REFERENCE}'s manifest (tools/generators/fragment).
# Consumes its own Bull queue and nothing else, and writes fragments to Redis. Scaled on that queue's
# backlog by 61-hpa-workers.yaml (or components/keda). On SIGTERM it stops taking jobs and lets
# in-flight builds finish within SHUTDOWN_TIMEOUT_MS; terminationGracePeriodSeconds leaves room
# above that before the kubelet's SIGKILL.
`;
  }
}

/** Every per-worker document beside the Deployment: each a copy of profile-worker's, appended. */
function workerDocs(tree, w) {
  appendDoc(tree, 'k8s/base/15-service-accounts.yaml', w);
  appendDoc(tree, 'k8s/base/40-pod-disruption-budgets.yaml', w);
  appendDoc(tree, 'k8s/components/hpa/hpa-workers.yaml', w);
  appendDoc(tree, 'k8s/components/keda/scaledobjects.yaml', w);
  addKedaRedisPatch(tree, w);
  addProductionImage(tree, w.app);
}

function appendDoc(tree, path, w) {
  const docs = read(tree, path).split(/^---\n/m);
  const doc = docs.find((d) => new RegExp(`^metadata:\\n {2}name: ${REFERENCE}\\n`, 'm').test(d));
  if (!doc) throw new Error(`${path}: no ${REFERENCE} document to model ${w.app}'s on`);
  const text = read(tree, path);
  tree.write(path, `${text.replace(/\n*$/, '\n')}---\n${rewrite(stripHeader(doc), w, path)}`);
}

function addKedaRedisPatch(tree, w) {
  const path = 'k8s/components/keda-redis/kustomization.yaml';
  const text = read(tree, path);
  const patch = text.match(
    new RegExp(
      `^ {2}- target:\\n {6}kind: ScaledObject\\n {6}name: ${REFERENCE}\\n[\\s\\S]*?(?=^ {2}- target:|(?![\\s\\S]))`,
      'm',
    ),
  );
  if (!patch) throw new Error(`${path}: no ${REFERENCE} patch to model ${w.app}'s on`);
  tree.write(path, `${text.replace(/\n*$/, '\n')}${rewrite(patch[0], w, path).replace(/\n*$/, '\n')}`);
}

function addProductionImage(tree, app) {
  const path = 'k8s/overlays/production/kustomization.yaml';
  const text = read(tree, path);
  const entry = text.match(new RegExp(`^ {2}- name: worker-pattern/${REFERENCE}\\n(?: {4}.*\\n)+`, 'm'));
  if (!entry || !text.includes('  - name: worker-pattern/db-cli\n')) {
    throw new Error(`${path}: no ${REFERENCE} image entry to model ${app}'s on`);
  }
  const next = entry[0].replaceAll(REFERENCE, app);
  tree.write(path, text.replace('  - name: worker-pattern/db-cli\n', `${next}  - name: worker-pattern/db-cli\n`));
}

/** profile-worker's document as the new worker's: its name, queue, port and concurrency. */
function rewrite(doc, w, path) {
  const target = Math.max(1, Math.floor(w.concurrency * 0.75));
  const refTarget = Math.floor(REFERENCE_CONCURRENCY * 0.75);
  const out = doc
    .replaceAll(REFERENCE, w.app)
    .replaceAll(`queue="${REFERENCE_QUEUE}"`, `queue="${w.queue}"`)
    .replaceAll(`queue: ${REFERENCE_QUEUE}\n`, `queue: ${w.queue}\n`)
    .replaceAll(`{${REFERENCE_QUEUE}}:${REFERENCE_QUEUE}:`, `{${w.queue}}:${w.queue}:`)
    .replaceAll(`WORKER_CONCURRENCY (${REFERENCE_CONCURRENCY})`, `WORKER_CONCURRENCY (${w.concurrency})`)
    .replaceAll(`"${refTarget}"`, `"${target}"`)
    .replace(
      /(- name: (?:WORKER_CONCURRENCY|DATABASE_POOL_SIZE)\n\s+value: )"\d+"/g,
      (_, name) => `${name}"${w.concurrency}"`,
    )
    .replaceAll(String(REFERENCE_PORT), String(w.port))
    .replace(/^( +max(?:Replicas|ReplicaCount): )\d+$/m, (_, key) => `${key}${w.maxReplicas}`)
    .replace(
      /^( +fallback:\n +failureThreshold: \d+\n +replicas: )\d+$/m,
      // Half the maximum, strictly between minimum and maximum (as the deploy checks require).
      (_, head) => `${head}${Math.min(w.maxReplicas - 1, Math.max(w.minReplicas + 1, Math.floor(w.maxReplicas / 2)))}`,
    );
  if (new RegExp(`\\b${REFERENCE_QUEUE}\\b`).test(out.replaceAll('seccompProfile', ''))) {
    throw new Error(
      `${path}: ${REFERENCE}'s document names its queue somewhere the generator does not rewrite; update it`,
    );
  }
  return out;
}

/** A document without its leading comment (which describes the reference worker). */
function stripHeader(doc) {
  return doc.replace(/^(#.*\n)+/, '');
}

function read(tree, path) {
  const text = tree.read(path, 'utf-8');
  if (text === null) throw new Error(`${path} is missing`);
  return text;
}

module.exports = { deploymentFile, workerDocs, REFERENCE };
