// An error whose message is meant for the person running `npm start`: printed as it is, without
// a stack trace, and the launcher exits non-zero.
export class LauncherError extends Error {
  constructor(message, { exitCode = 1 } = {}) {
    super(message);
    this.name = 'LauncherError';
    this.exitCode = exitCode;
  }
}

/** Thrown by a phase that noticed a shutdown was requested (Ctrl-C / SIGTERM). */
export class ShutdownRequested extends Error {
  constructor() {
    super('shutdown requested');
    this.name = 'ShutdownRequested';
  }
}
