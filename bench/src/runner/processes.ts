import { findWorkspaceRoot } from '@worker-pattern/platform/processes';

export { ChildApp as BenchProcess, freePort, runToCompletion, waitForHttpOk } from '@worker-pattern/platform/processes';

/** The workspace root (the runner runs from dist/bench/runner, specs from bench/src/runner). */
export const WORKSPACE_ROOT = findWorkspaceRoot(__dirname);
