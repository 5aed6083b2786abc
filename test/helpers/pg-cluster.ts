/**
 * A throwaway PostgreSQL cluster for the tests (test/pg/before.ts, test/helpers/pg.ts) and the
 * benchmark (bench/cluster-run.ts): `initdb` and `pg_ctl` from the server binaries (Debian:
 * /usr/lib/postgresql/<version>/bin, else on PATH) in a temporary directory, listening on a
 * Unix socket in that directory only (no TCP port to collide with anyone's), without fsync
 * (nothing here must survive a power cut). As root (initdb refuses root) the cluster belongs to
 * the `postgres` system user and runs through `runuser`; as anyone else it is theirs. The build
 * compiles this file too (tsconfig.build.json), for the benchmark. It stays under test/: tap records
 * coverage of what its before/after hooks load even with coverage disabled and leaves only test/
 * out of the report, so anywhere else `npm test` would fail on this file's coverage.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export interface Cluster {
  /** The temporary directory: the data directory, the socket and the server's log are in it. */
  dir: string;
  /** The server's own database, as its superuser `postgres`, through the socket. */
  url: string;
}

const PORT = 5432; // names the socket file only: the socket is in the cluster's own directory
/** The checkout this file is in (bench/ or, built, dist/bench/): the nearest directory with a package.json. */
function checkout(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}
/** Which checkout started a cluster (written into its directory): a later run of it removes what a crash left. */
const OWNER = checkout();
const PREFIX = 'fsb24-pg-';

/** Where initdb and pg_ctl are: the newest Debian version directory, else PATH; null if neither has them. */
export function serverBinaries(): string | null {
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return join(debian, versions[0], 'bin');
  for (const d of (process.env.PATH ?? '').split(delimiter))
    if (d && existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl'))) return d;
  return null;
}

export const NO_BINARIES =
  "PostgreSQL's server binaries (initdb, pg_ctl) are not in /usr/lib/postgresql/*/bin nor on PATH";

export const MISSING =
  `${NO_BINARIES}: ` +
  'install them (Debian: apt-get install postgresql; .ci/run does) or point FSB24_TEST_DATABASE_URL at a server ' +
  'where the user may create databases';

const asRoot = (): boolean => process.getuid?.() === 0;

/** Run a server binary as the cluster's owner; its output is kept for the error. */
function run(bin: string, args: string[]): void {
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout || r.error}`);
}

export function startCluster(): Cluster {
  const bin = serverBinaries();
  if (!bin) throw new Error(MISSING);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner'), OWNER);
  writeFileSync(join(dir, 'pid'), String(process.pid));
  if (asRoot()) {
    let ids: number[];
    try {
      ids = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, 'postgres'], { encoding: 'utf8' })));
    } catch {
      rmSync(dir, { recursive: true, force: true });
      throw new Error('initdb refuses to run as root, and there is no `postgres` user to run it as: create one');
    }
    chownSync(dir, ids[0]!, ids[1]!);
  }
  const data = join(dir, 'data');
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const options = [
      `-k ${dir}`,
      "-c listen_addresses=''",
      `-p ${PORT}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
    ].join(' ');
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, url: `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dir)}&port=${PORT}` };
}

/** Stop the server at once (its data is thrown away) and remove its directory. */
export function stopCluster(c: Pick<Cluster, 'dir'>): void {
  const bin = serverBinaries();
  const data = join(c.dir, 'data');
  try {
    if (bin && existsSync(join(data, 'postmaster.pid')))
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
}

/** Whether the process that started a cluster still runs (a benchmark, a test file's own cluster). */
function starterAlive(dir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Clusters of this checkout that a killed or crashed run left behind (never another checkout's,
 * nor one whose starter still runs: a benchmark's). tap's `before` hook starts the run's cluster
 * and exits, so that one counts as left behind at the next run, as it should.
 */
export function stopLeftovers(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: string;
    try {
      owner = readFileSync(join(dir, 'owner'), 'utf8');
    } catch {
      continue; // not ours to judge
    }
    if (owner !== OWNER || starterAlive(dir)) continue;
    try {
      stopCluster({ dir });
    } catch {
      // stopped already; its directory is gone with it
    }
  }
}

/** Create database `name` on `server` (its user may create databases); the new database's URL. */
export async function createDatabase(server: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.href;
}

/** Drop database `name` on `server`, whoever is still connected to it. */
export async function dropDatabase(server: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
