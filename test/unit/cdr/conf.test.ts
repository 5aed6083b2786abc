/**
 * The shipped mod_json_cdr snippet (conf/freeswitch/autoload_configs/json_cdr.conf.xml) against
 * the module's parameters as captured (test/fixtures/cdr/json_cdr.conf.xml) and the service's
 * defaults: it points at the route, in the encoding the parser reads best, retrying within the
 * time the service waits for a CDR, spooling where FSB24_CDR_SPOOL_DIRS is told to look.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../lib/config.js';
import { CDR_FIXTURES_DIR } from '../../helpers/fixtures.js';

const params = (xml: string): Map<string, string> =>
  new Map(
    [...xml.replace(/<!--[\s\S]*?-->/g, '').matchAll(/<param name="([^"]+)" value="([^"]*)"\/>/g)].map(
      (m) => [m[1] as string, m[2] as string] as const,
    ),
  );

const shipped = params(
  readFileSync(new URL('../../../conf/freeswitch/autoload_configs/json_cdr.conf.xml', import.meta.url), 'utf8'),
);
const captured = params(readFileSync(join(CDR_FIXTURES_DIR, 'json_cdr.conf.xml'), 'utf8'));

t.test('every parameter is one the module reads (the capture used them)', async (t) => {
  const known = new Set([...captured.keys(), 'err-log-dir', 'log-errors-to-disk', 'cred']);
  for (const k of shipped.keys()) t.ok(known.has(k), k);
});

t.test('it points at the service and sends what the parser reads best', async (t) => {
  const c = loadConfig();
  t.equal(shipped.get('url'), `http://127.0.0.1:${c.http.port}/freeswitch/cdr`);
  t.equal(shipped.get('encode'), 'false', 'raw JSON (encode=true cannot be decoded)');
  t.equal(shipped.get('encode-values'), 'true');
  t.equal(shipped.get('log-b-leg'), 'true', 'one CDR per leg: the B legs say who rang and answered');
  t.equal(shipped.get('err-log-dir'), '$${log_dir}/json_cdr', 'where FSB24_CDR_SPOOL_DIRS is told to look');
  const retrying = Number(shipped.get('retries')) * Number(shipped.get('delay')) * 1000;
  t.ok(retrying > 0 && retrying < c.cdr.graceMs, 'its retries end within the grace period of a guessed finish');
  t.ok(Number(shipped.get('timeout')) > 0, 'a hung service never holds a channel for ever');
});
