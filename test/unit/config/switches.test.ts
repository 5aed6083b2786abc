/**
 * FSB24_SWITCHES (issue 15): a list of event sockets, checked with clear errors; the single
 * FSB24_ESL_* socket is the one-switch list named `default`; both forms at once are refused;
 * the passwords never reach an error, a log line or `freeswitch-bitrix24 config`.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';
import { main } from '../../../bin/cli.js';

const two = [
  { name: 'fs1', host: '10.0.0.1', port: 8021, password: 's3cret-one' },
  { name: 'fs2', host: '10.0.0.2', port: 8021, password: 's3cret-two' },
];
const env = (list: unknown): Record<string, string> => ({ FSB24_SWITCHES: JSON.stringify(list) });

t.test('FSB24_SWITCHES is the list; without it, FSB24_ESL_* is a one-switch list named default', async (t) => {
  t.same(loadConfig({ env: env(two) }).switches, two);
  t.same(loadConfig({ env: { FSB24_ESL_HOST: 'pbx', FSB24_ESL_PASSWORD: 'p' } }).switches, [
    { name: 'default', host: 'pbx', port: 8021, password: 'p' },
  ]);
  t.same(loadConfig().switches, [{ name: 'default', host: '127.0.0.1', port: 8021, password: 'ClueCon' }]);
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-sw-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ switches: JSON.stringify(two) }));
  t.same(loadConfig({ file }).switches, two, 'from the config file too');
});

t.test('both forms at once are refused, whichever way the esl keys came', async (t) => {
  const both = /switches \(FSB24_SWITCHES\) and esl \(FSB24_ESL_HOST .* both given/;
  t.throws(() => loadConfig({ env: { ...env(two), FSB24_ESL_HOST: '10.0.0.9' } }), { message: both });
  t.throws(() => loadConfig({ env: { ...env(two), FSB24_ESL_PORT: '8021' } }), { message: both }, 'even the default');
  t.throws(() => loadConfig({ env: env(two), overrides: { 'esl.password': 'x' } }), { message: both });
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-sw-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ esl: { host: '127.0.0.1' } }));
  t.throws(() => loadConfig({ file, env: env(two) }), { message: both }, 'an esl section in the file');
});

t.test('each entry is checked: what is wrong, with the key and its variable, never the password', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[two[0], { ...two[1], name: 'fs1' }], /switch "fs1": the name is given twice/],
    [[two[0], { ...two[1], host: '10.0.0.1' }], /switch "fs2": 10\.0\.0\.1:8021 is switch "fs1" already/],
    [[{ ...two[0], port: 70000 }], /switch "fs1": "port" must be a number from 1 to 65535/],
    [[{ ...two[0], port: '8021' }], /"port" must be a number/],
    [[{ ...two[0], password: '' }], /switch "fs1": "password" must be the event socket's password/],
    [[{ name: 'fs1', host: 'h', port: 1 }], /"password" must be/],
    [[{ ...two[0], name: 'fs 1' }], /"name" must be 1 to 32 letters, digits, _ \. -/],
    [[{ ...two[0], host: '' }], /"host" must be a host name or address/],
    [[{ ...two[0], pasword: 'x' }], /unknown key "pasword" \(name, host, port, password\)/],
    [[], /must be a JSON list/],
    [{ fs1: two[0] }, /must be a JSON list/],
  ];
  for (const [list, message] of bad) {
    const err = t.throws(() => loadConfig({ env: env(list) }), { name: 'ConfigError', message }, String(message));
    t.match(String((err as Error | undefined)?.message), /switches \(FSB24_SWITCHES\)/);
    t.notMatch(String((err as Error | undefined)?.message), /s3cret/, 'no password in the error');
  }
  for (const text of ['[{"name": "fs1", s3cret', '[{"name": "fs1", "password": "s3cret", ']) {
    const err = t.throws(() => loadConfig({ env: { FSB24_SWITCHES: text } }), {
      message: /switches \(FSB24_SWITCHES\): is not valid JSON \(at character \d+\)/,
    });
    t.notMatch(String((err as Error | undefined)?.message), /s3cret/, 'the text is not quoted back');
  }
});

t.test('the passwords never reach the log, nor `freeswitch-bitrix24 config`', async (t) => {
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
  const c = loadConfig({ env: env(two) });
  log.info({ switches: c.switches }, 'switches');
  log.info({ config: { switches: c.switches } }, 'config');
  t.notMatch(out, /s3cret/, 'redacted');
  t.match(out, /10\.0\.0\.2/, 'the addresses stay');
  const printed: string[] = [];
  const original = console.log;
  console.log = (...a: unknown[]) => void printed.push(a.join(' '));
  try {
    t.equal(await main(['config'], env(two)), 0);
  } finally {
    console.log = original;
  }
  t.match(printed.join('\n'), /FSB24_SWITCHES\s+switches/);
  t.notMatch(printed.join('\n'), /s3cret/);
});
