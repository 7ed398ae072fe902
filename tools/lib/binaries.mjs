// Finding server binaries (redis-server, initdb/postgres) and system users. Reads the file
// system only; everything it looks at comes in as arguments so tests can point it at temp dirs.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_PG_LIB_ROOT = '/usr/lib/postgresql';

function isExecutableFile(file) {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `which`: the first executable `name` on the PATH string, or undefined. */
export function findExecutable(name, pathEnv = process.env.PATH ?? '') {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Sorts version directory names like "9.6", "13", "15" highest first; non-versions last. */
export function compareVersionsDesc(a, b) {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10));
  const pb = b.split('.').map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isNaN(pa[i]) ? -1 : (pa[i] ?? 0);
    const y = Number.isNaN(pb[i]) ? -1 : (pb[i] ?? 0);
    if (x !== y) return y - x;
  }
  return 0;
}

/**
 * Finds a Postgres server installation: `initdb` and `postgres` from the same bin directory
 * (pg_ctl and pg_basebackup reported when present, from there or else from PATH). Looks on PATH first, then under <libRoot>/<version>/bin
 * (Debian/Ubuntu keep the server binaries there, off PATH), highest version first.
 * @returns {{ binDir?: string, initdb?: string, postgres?: string, pgCtl?: string, pgBasebackup?: string, searched: string[] }}
 *   binDir is set when an installation was found; `searched` lists the bin dirs looked at.
 */
export function findPostgresBinaries({ pathEnv = process.env.PATH ?? '', libRoot = DEFAULT_PG_LIB_ROOT } = {}) {
  const candidates = [];
  const initdbOnPath = findExecutable('initdb', pathEnv);
  if (initdbOnPath) {
    // A symlinked initdb (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb): its
    // real directory has the matching postgres binary and the other tools, so it comes first.
    try {
      candidates.push(path.dirname(fs.realpathSync(initdbOnPath)));
    } catch {
      /* dangling link: ignore */
    }
    candidates.push(path.dirname(initdbOnPath));
  }
  let versions = [];
  try {
    versions = fs.readdirSync(libRoot).sort(compareVersionsDesc);
  } catch {
    /* no such root */
  }
  for (const v of versions) candidates.push(path.join(libRoot, v, 'bin'));

  const searched = [];
  for (const dir of candidates) {
    if (searched.includes(dir)) continue;
    searched.push(dir);
    const initdb = path.join(dir, 'initdb');
    const postgres = path.join(dir, 'postgres');
    if (isExecutableFile(initdb) && isExecutableFile(postgres)) {
      const optional = (name) =>
        isExecutableFile(path.join(dir, name)) ? path.join(dir, name) : findExecutable(name, pathEnv);
      return {
        binDir: dir,
        initdb,
        postgres,
        pgCtl: optional('pg_ctl'),
        pgBasebackup: optional('pg_basebackup'),
        searched,
      };
    }
  }
  if (!versions.length) searched.push(`${libRoot}/*/bin`);
  return { searched };
}

/** Parses /etc/passwd text for a user. @returns {{ uid: number, gid: number, home: string } | undefined} */
export function parsePasswd(text, name) {
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7 || f[0] !== name) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { uid, gid, home: f[5] };
  }
  return undefined;
}

/** Looks a system user up in /etc/passwd. */
export function lookupSystemUser(name, passwdFile = '/etc/passwd') {
  try {
    return parsePasswd(fs.readFileSync(passwdFile, 'utf8'), name);
  } catch {
    return undefined;
  }
}

/**
 * The Postgres server binaries and, when we are root (initdb refuses to run as root), the
 * system user "postgres" to run them as.
 * @returns {{ bins: ReturnType<typeof findPostgresBinaries>, runAs?: { name: string, uid: number, gid: number, home: string },
 *   problem?: 'no-binaries' | 'root-without-postgres-user' }}
 */
export function findPostgresSetup({
  pathEnv = process.env.PATH ?? '',
  libRoot = DEFAULT_PG_LIB_ROOT,
  uid = typeof process.getuid === 'function' ? process.getuid() : undefined,
  passwdFile,
} = {}) {
  const bins = findPostgresBinaries({ pathEnv, libRoot });
  if (!bins.binDir) return { bins, problem: 'no-binaries' };
  if (uid !== 0) return { bins };
  const user = lookupSystemUser('postgres', passwdFile);
  if (!user) return { bins, problem: 'root-without-postgres-user' };
  return { bins, runAs: { name: 'postgres', ...user } };
}

/** What to do about a findPostgresSetup problem, in a sentence or two; undefined when none. */
export function describePostgresSetupProblem(setup, libRoot = DEFAULT_PG_LIB_ROOT) {
  if (setup.problem === 'no-binaries') {
    return `There are no Postgres server binaries (initdb and postgres) on PATH or in ${libRoot}/*/bin.\nInstall PostgreSQL:  sudo apt-get install postgresql    (Debian/Ubuntu)`;
  }
  if (setup.problem === 'root-without-postgres-user') {
    return `The Postgres server binaries are in ${setup.bins.binDir}, but initdb refuses to run as root and there is no "postgres" system user to run it as.\nRun as a normal (non-root) user, or create the user:  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres`;
  }
  return undefined;
}
