import { fixtureEvents } from './test/helpers/fixtures.js';
for (const f of process.argv.slice(2)) {
  console.log('##', f);
  const order: string[] = [];
  for (const e of fixtureEvents(f)) {
    if (!/^(CHANNEL_|RECORD_)/.test(e.name)) continue;
    const u = e.get('Unique-ID')!; if (!order.includes(u)) order.push(u);
    console.log(order.indexOf(u), e.name.padEnd(24), ['Channel-Call-State','Answer-State','Other-Type','variable_originate_disposition','variable_sip_hangup_disposition','variable_sip_term_status','variable_billsec'].map(h => `${h.replace('variable_','').slice(0,14)}=${e.get(h) ?? '-'}`).join(' '));
  }
}
