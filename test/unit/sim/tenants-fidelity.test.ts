/**
 * The simulator's tenant domains against the captures of a real FreeSWITCH with two
 * FusionPBX-style domains (fixtures/esl/tenants/README.md, "Which headers carry the tenant
 * domain"): per leg and event, the same domain headers.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { SimSwitch, inboundCall, outboundCall } from '../../../lib/sim/freeswitch/index.js';
import { EslEvent, type HeaderValue } from '../../../lib/esl/codec.js';

const HEADERS = [
  'Caller-Context',
  'variable_domain_name',
  'variable_domain_uuid',
  'variable_dialed_domain',
  'variable_presence_id',
  'variable_user_context',
  'variable_accountcode',
  'variable_sip_from_host',
  'variable_sip_invite_domain',
];

/** The lab's two FusionPBX-style domains, with their domain_uuid, each with its own 1001 (README). */
const DOMAINS = {
  'a.pbx.test': { uuid: 'b20e19fb-86d7-4256-9c57-9b4986d04df7', extensions: { '1001': {} } },
  'b.pbx.test': { uuid: '37fc5e14-a99a-4b3d-879f-57426d45955f', extensions: { '1001': {} } },
};

/** Per leg (numbered by first appearance): event name and the domain headers, the uuid-free ones. */
function perLeg(events: EslEvent[]): Array<Array<Record<string, string | undefined>>> {
  const order: string[] = [];
  const out: Array<Array<Record<string, string | undefined>>> = [];
  for (const e of events) {
    if (!/^CHANNEL_/.test(e.name)) continue;
    const uuid = e.get('Unique-ID')!;
    if (!order.includes(uuid)) order.push(uuid);
    const i = order.indexOf(uuid);
    const row: Record<string, string | undefined> = { event: e.name };
    for (const h of HEADERS) row[h] = e.get(h);
    (out[i] ??= []).push(row);
  }
  return out;
}

function record(sw: SimSwitch): EslEvent[] {
  const got: EslEvent[] = [];
  sw.subscribe((e) => got.push(new EslEvent(e.headers as Array<[string, HeaderValue]>, e.body)));
  return got;
}

for (const tenant of ['a', 'b']) {
  const domain = `${tenant}.pbx.test`;
  const did = tenant === 'a' ? '4951110000' : '4952220000';

  t.test(
    `tenant ${tenant}, inbound: the trunk leg names its domain after the transfer, the user/ leg from CREATE`,
    async (t) => {
      const sw = new SimSwitch({ recordingsDir: mkdtempSync(join(tmpdir(), 'fsb24-tfid-')), domains: DOMAINS });
      sw.setExtension('1001', { mode: 'answer', ringMs: 2000 }, domain);
      const got = record(sw);
      await inboundCall(sw, { caller: '+79161234567', did, extensions: ['1001'], domain, record: false, talkMs: 5000 });
      const real = perLeg(fixtureEvents(`tenants/tenant-${tenant}-inbound-answered.plain.txt`));
      const sim = perLeg(got);
      for (const leg of [0, 1]) t.same(sim[leg], real[leg], `leg ${leg}`);
    },
  );

  t.test(
    `tenant ${tenant}, outbound: the phone's leg names its domain from CREATE, the gateway leg never`,
    async (t) => {
      const sw = new SimSwitch({ pstn: { '79161234567': { mode: 'answer', ringMs: 1000 } }, domains: DOMAINS });
      const got = record(sw);
      await outboundCall(sw, { extension: '1001', number: '79161234567', domain, talkMs: 5000 });
      const real = perLeg(fixtureEvents(`tenants/tenant-${tenant}-outbound-answered.json.txt`));
      const sim = perLeg(got);
      for (const leg of [0, 1]) t.same(sim[leg], real[leg], `leg ${leg}`);
    },
  );
}
