/**
 * A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` from the server
 * binaries (Debian: /usr/lib/postgresql/<version>/bin, else on PATH) in a temporary
 * directory, listening on a Unix socket in that directory only (no TCP port to collide
 * with anyone's), without fsync (nothing here must survive a power cut). As root (initdb
 * refuses root) the cluster belongs to the `postgres` system user and runs through
 * `runuser`; as anyone else it is theirs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface Cluster {
  /** The temporary directory: the data directory, the socket and the server's log are in it. */
  dir: string;
  /** The server's own database, as its superuser `postgres`, through the socket. */
  url: string;
}

const PORT = 5432; // names the socket file only: the socket is in the cluster's own directory

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

export const MISSING =
  "PostgreSQL's server binaries (initdb, pg_ctl) are not in /usr/lib/postgresql/*/bin nor on PATH: " +
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
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-pg-'));
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
