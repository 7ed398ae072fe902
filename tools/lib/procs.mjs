// Child-process management for the launcher.
//
// Every child is started in its own process group (detached), so a Ctrl-C in the terminal
// reaches only the launcher, which then stops the children in order: apps first (SIGTERM,
// bounded wait, SIGKILL), Redis/Postgres after them. Without this, the terminal's SIGINT
// would hit the apps and the throwaway servers at the same moment, and a Nest app that already
// began its shutdown on SIGINT would be killed outright by the launcher's SIGTERM.
import { spawn } from 'node:child_process';
import { createLineSplitter, createPrefixer } from './prefix.mjs';

/** Every child still running, so that an unexpected launcher exit can still kill them. */
export const liveChildren = new Set();

/** Best-effort synchronous SIGKILL of every live child's process group (for process 'exit'). */
export function killAllChildrenSync() {
  for (const managed of liveChildren) managed.signalGroup('SIGKILL');
}

/**
 * Spawns `command args` and returns a handle:
 *   { name, pid, child, startedAt, exited: Promise<{ code, signal, error? }>, exit, tail(),
 *     signal(sig), signalGroup(sig), stop({ signal, timeoutMs }) }
 * output: 'prefix'  every line of stdout/stderr goes to out/err behind a `[name]` prefix
 *         'inherit' the child writes to our stdout/stderr directly (stdin is never shared)
 *         'capture' lines are only kept in memory (see tail()), e.g. for a server's log that is
 *                   shown only when it fails
 * The last `keepLines` lines are kept in every mode but 'inherit', as the child wrote them;
 * `format` (line => text) changes how lines are shown in 'prefix' mode, e.g. pretty logs.
 */
export function startChild(name, command, args, opts = {}) {
  const {
    env = process.env,
    cwd,
    uid,
    gid,
    output = 'prefix',
    prefixWidth = name.length,
    color,
    format,
    out = (s) => process.stdout.write(s),
    err = (s) => process.stderr.write(s),
    keepLines = 200,
  } = opts;

  const recent = [];
  const keep = (line) => {
    recent.push(line);
    if (recent.length > keepLines) recent.shift();
  };

  const child = spawn(command, args, {
    cwd,
    env,
    uid,
    gid,
    detached: true,
    stdio: output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  });

  const managed = {
    name,
    child,
    startedAt: Date.now(),
    get pid() {
      return child.pid;
    },
    exit: null,
    tail: () => recent.slice(),
    signal(sig) {
      if (managed.exit) return false;
      try {
        return child.kill(sig);
      } catch {
        return false;
      }
    },
    signalGroup(sig) {
      if (!child.pid) return false;
      try {
        process.kill(-child.pid, sig);
        return true;
      } catch {
        return managed.signal(sig);
      }
    },
    /**
     * Sends `signal` to the child (not its group), waits up to timeoutMs, then SIGKILLs the whole
     * group. Resolves with the exit info plus `killed: true` when SIGKILL was needed.
     */
    async stop({ signal = 'SIGTERM', timeoutMs = 10_000 } = {}) {
      if (managed.exit) return { ...managed.exit, killed: false };
      managed.signal(signal);
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const first = await Promise.race([managed.exited, timedOut]);
      clearTimeout(timer);
      if (first !== 'timeout') {
        // The leader is gone; make sure nothing it started lingers in its group.
        managed.signalGroup('SIGKILL');
        return { ...first, killed: false };
      }
      managed.signalGroup('SIGKILL');
      return { ...(await managed.exited), killed: true };
    },
  };

  if (output !== 'inherit') {
    for (const [stream, write] of [
      [child.stdout, out],
      [child.stderr, err],
    ]) {
      const shown =
        output === 'prefix' ? createPrefixer({ name, width: prefixWidth, color, write, format }) : undefined;
      const kept = createLineSplitter(keep);
      stream.on('data', (chunk) => {
        shown?.push(chunk);
        kept.push(chunk);
      });
      stream.on('end', () => {
        shown?.flush();
        kept.flush();
      });
    }
  }

  liveChildren.add(managed);
  managed.exited = new Promise((resolve) => {
    let settled = false;
    const settle = (info) => {
      if (settled) return;
      settled = true;
      managed.exit = info;
      liveChildren.delete(managed);
      resolve(info);
    };
    child.once('error', (error) => settle({ code: null, signal: null, error }));
    // 'close' waits for stdio to be drained, so every line is printed before we report the exit.
    child.once('close', (code, signal) => settle({ code, signal }));
  });
  return managed;
}

/** "exit code 1", "signal SIGKILL", or the spawn error. */
export function describeExit({ code, signal, error }) {
  if (error) return `could not be started: ${error.message}`;
  if (signal) return `was killed by ${signal}`;
  return `exited with code ${code}`;
}
