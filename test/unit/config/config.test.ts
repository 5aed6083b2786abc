/** The configuration: env over file over defaults, strict keys, errors that name the key, secrets redacted. */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, ConfigError, configReference } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';

t.test('defaults, file, environment, in that order', async (t) => {
  const d = loadConfig();
  t.equal(d.esl.port, 8021);
  t.equal(d.esl.password, 'ClueCon');
  t.same(d.calls.trunkProfiles, ['external']);
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ esl: { port: 9000, host: 'pbx' }, calls: { lines: { '495': 'Main' } } }));
  const c = loadConfig({
    file,
    env: { FSB24_ESL_PORT: '9100', FSB24_TRUNK_PROFILES: 'external, carrier2', FSB24_LINE_GATEWAYS: '{"495":"gw1"}' },
  });
  t.equal(c.esl.port, 9100, 'env wins over the file');
  t.equal(c.esl.host, 'pbx', 'file wins over the default');
  t.same(c.calls.trunkProfiles, ['external', 'carrier2']);
  t.same(c.calls.lines, { '495': 'Main' });
  t.same(c.calls.lineGateways, { '495': 'gw1' });
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.esl), 'frozen');
});

t.test('errors name the key, its variable and what is wrong', async (t) => {
  t.throws(() => loadConfig({ env: { FSB24_ESL_PORT: 'eighty' } }), {
    name: 'ConfigError',
    message: /esl\.port \(FSB24_ESL_PORT\)/,
  });
  t.throws(() => loadConfig({ env: { FSB24_CARD_POLICY: 'sometimes' } }), {
    message: /calls\.cardPolicy \(FSB24_CARD_POLICY\)/,
  });
  t.throws(() => loadConfig({ env: { FSB24_B24_PORTAL_URL: 'not a url' } }), { message: /b24\.portalUrl/ });
  t.throws(() => loadConfig({ env: { FSB24_B24_WEBHOOK_URL: 'https://x.bitrix24.com/rest/abc/' } }), {
    message: /FSB24_B24_WEBHOOK_URL\) must look like/,
  });
  t.throws(() => loadConfig({ env: { FSB24_NUMBER_RULES: '[{"match":"("}]' } }), ConfigError);
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ esl: { prot: 1 } }));
  t.throws(() => loadConfig({ file }), { message: /esl\.prot/ }, 'a mistyped key fails');
  t.throws(() => loadConfig({ file: join(dir, 'missing.json') }), { message: /does not exist/ });
});

t.test('every key has an FSB24_ variable and a description', async (t) => {
  for (const r of configReference()) {
    t.match(r.env, /^FSB24_[A-Z0-9_]+$/, r.key);
    t.ok(r.doc.length > 10, `${r.key} documented`);
  }
  t.ok(
    configReference().some((r) => r.key === 'esl.password' && r.default === '(secret)'),
    'secret defaults are not printed',
  );
});

t.test('secrets never reach the log', async (t) => {
  let out = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      out += String(chunk);
      cb();
    },
  });
  const log = createLogger('info', {
    destination: sink as unknown as NodeJS.WritableStream & { write: (s: string) => boolean },
  });
  log.info(
    {
      esl: { password: 'p4ss' },
      b24: { webhookUrl: 'https://x/rest/1/s3cret/', clientSecret: 'cs' },
      access_token: 'at',
      refresh_token: 'rt',
      auth: { application_token: 'apt' },
    },
    'config',
  );
  for (const secret of ['p4ss', 's3cret', 'cs', '"at"', '"rt"', 'apt']) t.notMatch(out, secret, `${secret} redacted`);
  t.match(out, /\[redacted\]/);
});

t.test('the README carries the current configuration reference', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { withConfigReference } = await import('../../../lib/config.js');
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  t.equal(readme, withConfigReference(readme), 'run `npm run docs` after changing the schema');
});
