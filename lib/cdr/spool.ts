/**
 * FreeSWITCH's spool of failed posts (mod_json_cdr's err-log-dir, FSB24_CDR_SPOOL_DIRS): one file
 * per leg, `<uuid>.cdr.json` or `a_<uuid>.cdr.json`, holding the POST body (without `cdr=`) and one
 * LF. The module never reads them back (fixtures/cdr/README.md "Spool after a restart"), so the
 * service does. It writes with open, write, write LF, close (no rename): a file without its LF, or
 * changed within `stableMs`, may still be being written and is left for the next pass. Taken files
 * go to `imported/` once their CDR is durable; files that will never parse go to `rejected/`.
 */
import { mkdir, readFile, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { CdrLeg } from './parse.js';

/** The names mod_json_cdr gives spool files (`a_` with prefix-a-leg=true). */
export const SPOOL_NAME = /^(?:a_)?[0-9a-fA-F-]{36}\.cdr\.json$/;
export const IMPORTED = 'imported';
export const REJECTED = 'rejected';

export interface SpoolEntry {
  dir: string;
  name: string;
  leg: CdrLeg;
}

export interface SpoolScan {
  /** Whole files that parsed, ready to be accepted. */
  ready: SpoolEntry[];
  /** Files left for the next pass (may still be being written). */
  left: number;
  /** Files moved to rejected/ this pass. */
  rejected: number;
}

export interface ScanOptions {
  dirs: readonly string[];
  nowMs: number;
  /** A file changed more recently than this may still be being written. */
  stableMs: number;
  /** A file without its final LF this old was abandoned (a crash mid-write): rejected. */
  abandonMs: number;
  parse: (text: string) => CdrLeg;
  log: Logger;
}

export async function scanSpool(o: ScanOptions): Promise<SpoolScan> {
  const out: SpoolScan = { ready: [], left: 0, rejected: 0 };
  for (const dir of o.dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      o.log.warn({ dir, err }, 'CDR spool directory cannot be read');
      continue;
    }
    for (const name of names.filter((n) => SPOOL_NAME.test(n)).sort()) {
      const path = join(dir, name);
      const st = await stat(path).catch(() => null);
      if (!st?.isFile()) continue;
      const age = o.nowMs - st.mtimeMs;
      if (age < o.stableMs) {
        out.left++;
        continue;
      }
      const text = await readFile(path, 'utf8').catch((err: unknown) => {
        o.log.warn({ dir, file: name, err }, 'CDR spool file cannot be read');
        return null;
      });
      if (text === null) continue;
      if (!text.endsWith('\n')) {
        if (age < o.abandonMs) {
          out.left++;
          continue;
        }
        await reject(dir, name, 'spool file never finished (no final newline)', o.log);
        out.rejected++;
        continue;
      }
      try {
        out.ready.push({ dir, name, leg: o.parse(text) });
      } catch (err) {
        await reject(dir, name, 'spool file does not parse', o.log, err);
        out.rejected++;
      }
    }
  }
  return out;
}

/** Move a file into a subdirectory of its spool directory (same file system: a rename). */
export async function moveInto(dir: string, sub: string, name: string): Promise<void> {
  await mkdir(join(dir, sub), { recursive: true });
  await rename(join(dir, name), join(dir, sub, name));
}

async function reject(dir: string, name: string, why: string, log: Logger, err?: unknown): Promise<void> {
  try {
    await moveInto(dir, REJECTED, name);
    log.warn({ dir, file: name, reason: why, err }, 'CDR spool file rejected (moved to rejected/)');
  } catch (moveErr) {
    log.error({ dir, file: name, reason: why, err: moveErr }, 'CDR spool file rejected but cannot be moved');
  }
}
