// Which processes `npm start` runs and on which ports. Pure.
//
// Every process gets its own port, counting up from the port base in a fixed order: first the
// gateway replicas, then each worker's replicas. With one of each (no --scale) that is the
// familiar 3000 (gateway), 3001-3004 (workers); with --scale gateway=2 the gateways take 3000
// and 3001 and the workers move up by one, so a port can never belong to two processes.

/**
 * @param {{ name: string }[]} apps the apps in port order (config.mjs APPS)
 * @param {Record<string, number>} scale replicas per app name (absent: 1)
 * @returns {{ app: string, replica: number, replicas: number, name: string, port: number }[]}
 *   `name` is the app's name alone when it runs once, `app.N` (Heroku's process names) otherwise.
 */
export function planInstances(apps, scale, portBase) {
  const instances = [];
  let port = portBase;
  for (const app of apps) {
    const replicas = scale[app.name] ?? 1;
    for (let replica = 1; replica <= replicas; replica++) {
      instances.push({
        app: app.name,
        replica,
        replicas,
        name: replicas === 1 ? app.name : `${app.name}.${replica}`,
        port: port++,
      });
    }
  }
  return instances;
}

/** `feed-worker ×3 (:3002-3004)`-style summary of a plan, one entry per app. */
export function summarizePlan(instances) {
  const byApp = new Map();
  for (const instance of instances) {
    const list = byApp.get(instance.app) ?? [];
    list.push(instance);
    byApp.set(instance.app, list);
  }
  return [...byApp.entries()].map(([app, list]) => {
    const ports = list.length === 1 ? `:${list[0].port}` : `:${list[0].port}-${list.at(-1).port}`;
    return list.length === 1 ? `${app} (${ports})` : `${app} ×${list.length} (${ports})`;
  });
}
