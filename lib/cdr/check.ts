/**
 * `freeswitch-bitrix24 check`, the CDR path: the spool directories FreeSWITCH writes failed posts
 * to (readable and writable here, since taken files are moved), files waiting or set aside there,
 * and who may post CDRs.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigShape } from '../config.js';
import { REJECTED, SPOOL_NAME } from './spool.js';

export interface CdrCheckResult {
  name: string;
  ok: boolean;
  warn?: boolean;
  detail: string;
  fix?: string;
}

const SNIPPET = 'conf/freeswitch/autoload_configs/json_cdr.conf.xml';

export async function checkCdr(c: Readonly<ConfigShape>, add: (r: CdrCheckResult) => void): Promise<void> {
  const name = 'CDR spool';
  if (c.cdr.spoolDirs.length === 0) {
    add({
      name,
      ok: true,
      warn: true,
      detail:
        'FSB24_CDR_SPOOL_DIRS is not set: calls that end while the service is down are finished from what ' +
        "it stored (a lower-bound duration), not from FreeSWITCH's CDRs",
      fix: `load mod_json_cdr with ${SNIPPET} and set FSB24_CDR_SPOOL_DIRS to its err-log-dir`,
    });
  }
  for (const dir of c.cdr.spoolDirs) {
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) {
      const fix =
        `set err-log-dir in ${SNIPPET} to it (mod_json_cdr creates it when loaded), ` +
        'or correct FSB24_CDR_SPOOL_DIRS';
      add({ name, ok: false, detail: `${dir} does not exist or is not a directory`, fix });
      continue;
    }
    try {
      await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch {
      add({
        name,
        ok: false,
        detail: `${dir} is not readable and writable by this user (taken files are moved to imported/)`,
        fix:
          "mod_json_cdr creates it 0750: run the service as FreeSWITCH's user (conf/freeswitch-bitrix24.service), " +
          `or give it FreeSWITCH's group and make the directory group-writable (chmod g+rwxs ${dir})`,
      });
      continue;
    }
    const waiting = (await readdir(dir)).filter((f) => SPOOL_NAME.test(f)).length;
    const rejected = (await readdir(join(dir, REJECTED)).catch(() => [] as string[])).length;
    const detail = `${dir}: readable and writable; ${waiting} file(s) waiting, ${rejected} rejected`;
    if (rejected > 0)
      add({
        name,
        ok: true,
        warn: true,
        detail,
        fix: `${join(dir, REJECTED)} holds CDRs that do not parse: use encode=false (${SNIPPET}), then look at them`,
      });
    else if (waiting > 0)
      add({
        name,
        ok: true,
        warn: true,
        detail,
        fix: 'FreeSWITCH could not post these: the service imports them when it starts and after each reconnect',
      });
    else add({ name, ok: true, detail });
  }
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(c.http.host);
  if (!c.cdr.credentials && !loopback) {
    add({
      name: 'CDR posts',
      ok: true,
      warn: true,
      detail: `POST /freeswitch/cdr on ${c.http.host} takes a CDR from anyone who reaches it`,
      fix: "set FSB24_CDR_CREDENTIALS and the same user:password as mod_json_cdr's cred",
    });
  }
}
