/**
 * Two calls as a real FreeSWITCH 1.11 sent them, cut to the headers the service reads
 * (test/fixtures/esl/inbound-ringgroup-answered.json.txt and outbound-answered.json.txt): an
 * incoming call recorded and ringing 1001 and 1002, answered by 1001 while 1002 loses the race;
 * 1003 calling out through the gateway `pstn`. The start-up warm-up (./warm.ts) replays them.
 */
type Headers = Readonly<Record<string, string>>;

/** µs: the capture's first CHANNEL_CREATE. */
const T0 = 1795562084893418;
const at = (us: number): string => String(T0 + us);
const TRUNK = '532aa7be-0ad0-470b-8512-c81cfc23e034';
const P1 = '2d7c3b32-4870-4997-95ff-006fff9ab3e4';
const P2 = 'a0d7dc8e-1ac6-4a29-8dac-f700917e5100';
const EXT = '84228811-de50-4521-92bc-9cc5622c8036';
const GW = 'e098d52b-c6b9-4a0d-93b5-03b4997605a2';
const REC = `/var/lib/freeswitch/recordings/${TRUNK}.wav`;
const CLIENT = '+79161234567';
const OUT = 142_340_124; // µs: the outgoing call began this long after the incoming one

const SIP = {
  variable_sip_network_ip: '127.0.0.1',
  variable_sip_req_host: '127.0.0.1',
  variable_sip_to_host: '127.0.0.1',
};
const ringing = (ext: string, port: number): Headers => ({
  'Call-Direction': 'outbound',
  'Channel-Name': `sofia/internal/${ext}@127.0.0.1:${port}`,
  'Caller-Caller-ID-Number': CLIENT,
  'Caller-Destination-Number': ext,
  'Caller-Callee-ID-Number': ext,
  'Other-Leg-Unique-ID': TRUNK,
  'Other-Type': 'originator',
  variable_sofia_profile_name: 'internal',
  variable_originator: TRUNK,
  variable_originating_leg_uuid: TRUNK,
  variable_dialed_user: ext,
  variable_dialed_domain: '127.0.0.1',
});
const hungUp = (us: number, cause: string, billmsec: number, disposition: string): Headers => ({
  'Channel-Call-State': 'HANGUP',
  'Hangup-Cause': cause,
  'Caller-Channel-Hangup-Time': at(us),
  variable_sip_hangup_disposition: disposition,
  variable_billsec: String(Math.floor(billmsec / 1000)),
  variable_billmsec: String(billmsec),
});
const bridged = (a: string, b: string, us: number): Headers => ({
  'Channel-Call-State': 'ACTIVE',
  'Other-Leg-Unique-ID': b,
  'Other-Type': 'originatee',
  'Bridge-A-Unique-ID': a,
  'Bridge-B-Unique-ID': b,
  'Caller-Channel-Bridged-Time': at(us),
  variable_originate_disposition: 'SUCCESS',
});

/** Each leg's headers on its CHANNEL_CREATE. */
const LEGS: Readonly<Record<string, Headers>> = {
  [TRUNK]: {
    'Call-Direction': 'inbound',
    'Channel-Name': `sofia/external/${CLIENT}@127.0.0.1:5070`,
    'Caller-Caller-ID-Number': CLIENT,
    'Caller-Destination-Number': '4951234567',
    variable_sofia_profile_name: 'external',
    variable_sip_from_user: CLIENT,
    variable_sip_to_user: '4951234567',
    variable_sip_req_user: '4951234567',
    ...SIP,
  },
  [P1]: ringing('1001', 5101),
  [P2]: ringing('1002', 5102),
  [EXT]: {
    'Call-Direction': 'inbound',
    'Channel-Name': 'sofia/internal/1003@127.0.0.1',
    'Caller-Caller-ID-Number': '1003',
    'Caller-Destination-Number': '79161234567',
    variable_sofia_profile_name: 'internal',
    variable_user_name: '1003',
    variable_sip_from_user: '1003',
    variable_sip_to_user: '79161234567',
    variable_domain_name: '127.0.0.1',
    ...SIP,
  },
  [GW]: {
    'Call-Direction': 'outbound',
    'Channel-Name': 'sofia/external/79161234567',
    'Caller-Caller-ID-Number': '4951234567',
    'Caller-Destination-Number': '79161234567',
    'Other-Leg-Unique-ID': EXT,
    'Other-Type': 'originator',
    variable_sofia_profile_name: 'external',
    variable_sip_gateway_name: 'pstn',
    variable_originator: EXT,
    variable_originating_leg_uuid: EXT,
  },
};

/** [leg, event, µs after the first event, what it changes in the leg's headers ('' removes one)], in order. */
const STEPS: ReadonlyArray<readonly [string, string, number, Headers?]> = [
  [TRUNK, 'CHANNEL_CREATE', 0],
  [TRUNK, 'CHANNEL_PROGRESS_MEDIA', 20_003, { 'Channel-Call-State': 'RINGING', variable_domain_name: '127.0.0.1' }],
  [TRUNK, 'RECORD_START', 20_003, { 'Channel-Call-State': 'EARLY', 'Record-File-Path': REC }],
  [P1, 'CHANNEL_CREATE', 20_003],
  [P2, 'CHANNEL_CREATE', 39_966],
  [P2, 'CHANNEL_PROGRESS', 39_966],
  [P1, 'CHANNEL_PROGRESS', 39_966],
  [P1, 'CHANNEL_ANSWER', 2_039_991, { 'Channel-Call-State': 'RINGING', 'Caller-Channel-Answered-Time': at(2_039_991) }],
  [P2, 'CHANNEL_HANGUP', 2_039_991, { 'Channel-Call-State': 'RINGING', 'Hangup-Cause': 'LOSE_RACE' }],
  [P2, 'CHANNEL_HANGUP_COMPLETE', 2_060_075, hungUp(2_039_991, 'LOSE_RACE', 0, 'send_cancel')],
  [TRUNK, 'CHANNEL_ANSWER', 2_039_991, { 'Record-File-Path': '', 'Caller-Channel-Answered-Time': at(2_039_991) }],
  [P2, 'CHANNEL_DESTROY', 2_060_075],
  [TRUNK, 'CHANNEL_BRIDGE', 2_060_075, bridged(TRUNK, P1, 2_060_075)],
  [TRUNK, 'CHANNEL_HANGUP', 7_099_955, { 'Hangup-Cause': 'NORMAL_CLEARING', variable_sip_term_status: '200' }],
  [P1, 'CHANNEL_HANGUP', 7_099_955, { 'Channel-Call-State': 'ACTIVE', 'Hangup-Cause': 'NORMAL_CLEARING' }],
  [TRUNK, 'CHANNEL_UNBRIDGE', 7_099_955, { variable_sip_hangup_disposition: 'recv_bye' }],
  [P1, 'CHANNEL_HANGUP_COMPLETE', 7_099_955, hungUp(7_099_955, 'NORMAL_CLEARING', 5060, 'send_bye')],
  [P1, 'CHANNEL_DESTROY', 7_099_955],
  [TRUNK, 'RECORD_STOP', 7_099_955, { 'Record-File-Path': REC, 'Caller-Channel-Hangup-Time': at(7_099_955) }],
  [
    TRUNK,
    'CHANNEL_HANGUP_COMPLETE',
    7_099_955,
    { ...hungUp(7_099_955, 'NORMAL_CLEARING', 5060, 'recv_bye'), 'Record-File-Path': '' },
  ],
  [TRUNK, 'CHANNEL_DESTROY', 7_099_955],
  [EXT, 'CHANNEL_CREATE', OUT],
  [GW, 'CHANNEL_CREATE', OUT],
  [GW, 'CHANNEL_PROGRESS', OUT, { variable_sip_from_user: '4951234567', variable_sip_to_user: '79161234567' }],
  [EXT, 'CHANNEL_PROGRESS_MEDIA', OUT, { 'Channel-Call-State': 'RINGING', variable_originate_disposition: 'failure' }],
  [
    GW,
    'CHANNEL_ANSWER',
    OUT + 1_000_257,
    { 'Channel-Call-State': 'RINGING', 'Caller-Channel-Answered-Time': at(OUT + 1_000_257) },
  ],
  [
    EXT,
    'CHANNEL_ANSWER',
    OUT + 1_000_257,
    { 'Channel-Call-State': 'EARLY', 'Caller-Channel-Answered-Time': at(OUT + 1_000_257) },
  ],
  [EXT, 'CHANNEL_BRIDGE', OUT + 1_000_257, bridged(EXT, GW, OUT + 1_000_257)],
  [EXT, 'CHANNEL_HANGUP', OUT + 5_039_856, { 'Hangup-Cause': 'NORMAL_CLEARING', variable_sip_term_status: '200' }],
  [GW, 'CHANNEL_HANGUP', OUT + 5_039_856, { 'Channel-Call-State': 'ACTIVE', 'Hangup-Cause': 'NORMAL_CLEARING' }],
  [GW, 'CHANNEL_HANGUP_COMPLETE', OUT + 5_039_856, hungUp(OUT + 5_039_856, 'NORMAL_CLEARING', 4040, 'send_bye')],
  [EXT, 'CHANNEL_UNBRIDGE', OUT + 5_039_856, { variable_sip_hangup_disposition: 'recv_bye' }],
  [EXT, 'CHANNEL_HANGUP_COMPLETE', OUT + 5_059_943, hungUp(OUT + 5_059_943, 'NORMAL_CLEARING', 4060, 'recv_bye')],
  [EXT, 'CHANNEL_DESTROY', OUT + 5_059_943],
  [GW, 'CHANNEL_DESTROY', OUT + 5_059_943],
];

/** The sample as the event socket sends it: `text/event-json` frames, one after the other. */
export function sampleBytes(): Buffer {
  const legs = new Map<string, Record<string, string>>();
  const frames: Buffer[] = [];
  for (const [uuid, name, us, changes] of STEPS) {
    const h = legs.get(uuid) ?? { ...LEGS[uuid], 'Channel-Call-State': 'DOWN' };
    for (const [k, v] of Object.entries(changes ?? {})) {
      if (v === '') delete h[k];
      else h[k] = v;
    }
    legs.set(uuid, h);
    // compact JSON, as FreeSWITCH's cJSON prints it (plain strings need no escapes)
    const body = Buffer.from(
      JSON.stringify({ 'Event-Name': name, 'Unique-ID': uuid, 'Event-Date-Timestamp': at(us), ...h }),
    );
    frames.push(Buffer.from(`Content-Length: ${body.length}\nContent-Type: text/event-json\n\n`), body);
  }
  return Buffer.concat(frames);
}
