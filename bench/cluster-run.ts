/**
 * The benchmark's PostgreSQL column (issue 15): the same schedule through two instances of the
 * service on one PostgreSQL database (FSB24_DATABASE_URL, FSB24_INSTANCE_ID A and B), one
 * simulator, one emulator. A starts first and takes the switch's and the portal's leases (an
 * instance takes the free leases before its start resolves); the portal installs the application
 * through A; B starts then and stands by, as a second instance does in production. The server:
 * `--pg <url>` (its user may create databases: each run gets a database of its own, dropped
 * after it), else a throwaway cluster (test/helpers/pg-cluster.ts, as the tests start one) stopped when
 * the benchmark exits; without PostgreSQL's binaries the column is skipped, saying why.
 */
import pg from 'pg';
import {
  NO_BINARIES,
  createDatabase,
  dropDatabase,
  serverBinaries,
  startCluster,
  stopCluster,
} from '../test/helpers/pg-cluster.js';

export interface PgServer {
  /** The server's maintenance database: where each run's database is created and dropped. */
  url: string;
}

/** The figures an instance reports (bench/service-child.ts). */
interface InstanceStats {
  rss: number;
  peak: number;
  cpu: number;
  holds?: string[];
}

/** A started service: the SQLite one (bench/calls.ts) or the pair. */
export interface Started<S> {
  ask(): Promise<S>;
  stop(): Promise<void>;
}

/** Start one service process with these variables added; `install`: the portal installs the application through it. */
export type StartOne<S> = (env: Record<string, string>, install: boolean) => Promise<Started<S>>;

/**
 * The server for the column, from the command line: `false` (--no-pg) none; a URL (--pg) that
 * server; '' a throwaway cluster when PostgreSQL's binaries are here. `note` says what was used or
 * why the column is skipped.
 */
export async function pgServer(given: string | false): Promise<{ server: PgServer | null; note: string }> {
  if (given === false) return { server: null, note: '' };
  if (!given && !serverBinaries())
    return {
      server: null,
      note: `PostgreSQL column skipped: ${NO_BINARIES} (install them, or give --pg <url>; --no-pg skips it quietly)`,
    };
  let url = given;
  let where = 'the server of --pg';
  if (!url) {
    const own = startCluster();
    process.once('exit', () => stopCluster(own));
    // Ctrl-C: through 'exit', so the cluster is stopped
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => process.exit(130));
    url = own.url;
    where = 'a throwaway cluster: initdb, Unix socket, fsync off';
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const v = await c.query<{ server_version: string }>('SHOW server_version');
    return {
      server: { url },
      note:
        `PostgreSQL column: two instances on one database (a new one per run) of PostgreSQL ` +
        `${v.rows[0]?.server_version ?? '?'}, ${where}; A holds the switch's and the portal's leases, ` +
        'B stands by; RSS and CPU: both summed, each in brackets',
    };
  } finally {
    await c.end();
  }
}

let runs = 0;

/**
 * Two instances on a fresh database of `server`: A (installed through, holding the leases), then
 * B. Their figures summed, each kept in `each`; stopping stops B, then A (so nothing is taken
 * over), then drops the database.
 */
export async function startPair<S extends InstanceStats>(
  server: PgServer,
  start: StartOne<S>,
): Promise<Started<S & { each: S[] }>> {
  const name = `fsb24_bench_${process.pid}_${++runs}`;
  const url = await createDatabase(server.url, name);
  const a = await start({ FSB24_DATABASE_URL: url, FSB24_INSTANCE_ID: 'A' }, true);
  const b = await start({ FSB24_DATABASE_URL: url, FSB24_INSTANCE_ID: 'B' }, false);
  const [sa, sb] = await Promise.all([a.ask(), b.ask()]);
  if (sa.holds?.length !== 2 || sb.holds?.length !== 0)
    console.error(`note: A holds ${JSON.stringify(sa.holds)}, B ${JSON.stringify(sb.holds)} (expected A both, B none)`);
  return {
    async ask() {
      const each = await Promise.all([a.ask(), b.ask()]);
      const sum = (f: (s: S) => number): number => each.reduce((n, s) => n + f(s), 0);
      return { ...each[0]!, rss: sum((s) => s.rss), peak: sum((s) => s.peak), cpu: sum((s) => s.cpu), each };
    },
    async stop() {
      await b.stop();
      await a.stop();
      await dropDatabase(server.url, name);
    },
  };
}

/** " (A x + B y)" after a summed figure, when it is one of the pair's. */
export function perInstance<T>(each: readonly T[] | undefined, f: (s: T) => string): string {
  return each ? ` (${each.map((s, i) => `${String.fromCharCode(65 + i)} ${f(s)}`).join(' + ')})` : '';
}
