import { builtApp, ChildApp, runToCompletion as runChild } from '@worker-pattern/platform/processes';

export { ChildApp as AppProcess, freePort, waitForHttpOk } from '@worker-pattern/platform/processes';

/** Runs the built `app` (`label` tells replicas of one app apart in messages). */
export function startApp(app: string, env: Record<string, string>, args: string[] = [], label = app): ChildApp {
  return ChildApp.start({ label, script: builtApp(app), env, args, nodeArgs: ['--enable-source-maps'] });
}

/** Runs a built CLI to completion; rejects with its output on a non-zero exit. */
export function runToCompletion(
  app: string,
  env: Record<string, string>,
  args: string[],
  ms = 120_000,
): Promise<string> {
  return runChild({ label: app, script: builtApp(app), env, args, nodeArgs: ['--enable-source-maps'] }, ms);
}
