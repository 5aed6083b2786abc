/** The value shapes shared by the originate whitelist, the event parser, the routing lookup and the simulator. */
import t from 'tap';
import { EXTENSION, PHONE, UUID } from '../../lib/patterns.js';
import { extension, phoneNumber, uuid } from '../../lib/originate/build.js';

t.test('one shape per kind of value, used by the originate whitelist', async (t) => {
  const table: Array<[RegExp, (f: string, v: string) => string, string[], string[]]> = [
    [
      PHONE,
      phoneNumber,
      ['+79161234567', '79161234567', '112'],
      ['', '12', '+7 916', '7916123456789012345', '79161234567,x', '+', '++7916'],
    ],
    [EXTENSION, extension, ['10', '1001', '12345678'], ['1', '123456789', '10a', ' 1001', '1001\n']],
    [
      UUID,
      uuid,
      ['f001d57b-1a63-44d4-b27d-3f019304fb31'],
      ['F001D57B-1A63-44D4-B27D-3F019304FB31', 'f001d57b1a6344d4b27d3f019304fb31', 'x'],
    ],
  ];
  for (const [re, check, good, bad] of table) {
    for (const v of good) t.equal(check('f', v), v, `${re.source} accepts ${JSON.stringify(v)}`);
    for (const v of bad) {
      t.notOk(re.test(v), `${re.source} refuses ${JSON.stringify(v)}`);
      t.throws(() => check('f', v), { code: 'ORIG_ERR_UNSAFE' });
    }
  }
});
