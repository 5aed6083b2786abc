/**
 * The legs a switch creates, with the variables FreeSWITCH puts on them (compare
 * fixtures/esl: the trunk leg of inbound-ringgroup-*, the extension leg of outbound-*,
 * user/ and gateway legs of bridge and originate).
 */
import { randomUUID } from 'node:crypto';
import type { HeaderValue } from '../../esl/codec.js';
import { Leg, type Switchboard } from './leg.js';
/** What the leg factories read of the switch (an interface, so no import cycle with switch.ts). */
export interface SwitchFacts extends Switchboard {
  readonly carrierIp: string;
  readonly trunkProfile: string;
  readonly domain: string;
  readonly gateway: string;
  nextSession(): string;
  phonePort(ext: string, domain?: string): number;
  /** A tenant domain's domain_uuid; null for the switch's own. */
  domainUuid(domain?: string): string | null;
}

export interface UserLegOptions {
  uuid?: string;
  vars?: Array<[string, string]>;
  callerIdName?: string;
  callerIdNumber?: string;
  context?: string;
  /** The directory domain of `user/<ext>@<domain>` (default: the switch's). */
  domain?: string;
}

export interface GatewayLegOptions {
  uuid?: string;
  callerIdNumber?: string;
  vars?: Array<[string, string]>;
}

/** An INVITE from the carrier on the trunk profile (fixtures: inbound-ringgroup-*). */
export function trunkInbound(
  sw: SwitchFacts,
  caller: string,
  did: string,
  opts: { uuid?: string; viaGateway?: string } = {},
): Leg {
  const uuid = opts.uuid ?? randomUUID();
  const ip = sw.carrierIp;
  const name = `sofia/${sw.trunkProfile}/${caller}@${ip}:5070`;
  const vars: Array<[string, HeaderValue]> = [
    ['direction', 'inbound'],
    ['uuid', uuid],
    ['call_uuid', uuid],
    ['session_id', sw.nextSession()],
    ['sip_from_user', caller],
    ['sip_from_port', '5070'],
    ['sip_from_uri', `${caller}@${ip}:5070`],
    ['sip_from_host', ip],
    ['channel_name', name],
    ['sip_call_id', `${randomUUID().slice(0, 8)}@${ip}`],
    ['sip_local_network_addr', ip],
    ['sip_network_ip', ip],
    ['sip_network_port', '5070'],
    ['sip_received_ip', ip],
    ['sip_received_port', '5070'],
    ['sip_via_protocol', 'udp'],
    ['sip_from_user_stripped', caller.replace(/^\+/, '')],
    ['sofia_profile_name', sw.trunkProfile],
    ['sofia_profile_url', `sip:mod_sofia@${ip}:5080`],
    ['recovery_profile_name', sw.trunkProfile],
    ['sip_from_display', caller],
    ['sip_full_from', `"${caller}" <sip:${caller}@${ip}:5070>;tag=${uuid.slice(0, 8)}`],
    ['sip_full_to', `<sip:${did}@${ip}:5080>`],
    ['sip_req_user', opts.viaGateway ? `gw+${opts.viaGateway}` : did],
    ['sip_req_port', '5080'],
    ['sip_req_uri', `${opts.viaGateway ? `gw+${opts.viaGateway}` : did}@${ip}:5080`],
    ['sip_req_host', ip],
    ['sip_to_user', did],
    ['sip_to_port', '5080'],
    ['sip_to_uri', `${did}@${ip}:5080`],
    ['sip_to_host', ip],
    ['sip_contact_user', caller],
    ['sip_contact_uri', `${caller}@${ip}:5070`],
    ['sip_contact_host', ip],
    ['sip_user_agent', 'sipp-carrier'],
    ['max_forwards', '70'],
  ];
  if (opts.viaGateway) vars.push(['sip_gateway', opts.viaGateway]);
  vars.push(
    ['read_codec', 'PCMA'],
    ['read_rate', '8000'],
    ['write_codec', 'PCMA'],
    ['write_rate', '8000'],
    ['endpoint_disposition', 'RECEIVED'],
  );
  const leg = new Leg(sw, {
    uuid,
    direction: 'inbound',
    profile: sw.trunkProfile,
    channelName: name,
    callerIdName: caller,
    callerIdNumber: caller,
    destination: did,
    context: 'public',
    source: 'mod_sofia',
    username: caller,
    networkAddr: ip,
    hitDialplan: true,
    variables: vars,
  });
  leg.hasMedia = true;
  return leg;
}

/** A call from a registered phone on the internal profile (fixtures: outbound-*). */
export function extensionInbound(
  sw: SwitchFacts,
  ext: string,
  dialled: string,
  opts: { uuid?: string; domain?: string } = {},
): Leg {
  const uuid = opts.uuid ?? randomUUID();
  const port = sw.phonePort(ext, opts.domain);
  const domain = opts.domain ?? sw.domain;
  const name = `sofia/internal/${ext}@${domain}`;
  // a tenant's phone (fixtures/esl/tenants): it lands in its user_context, named after the domain,
  // with its directory's variables from CREATE on
  const domainUuid = sw.domainUuid(opts.domain);
  const tenant: Array<[string, string]> = opts.domain
    ? [
        ['sip_req_host', domain],
        ['sip_to_host', domain],
        ['user_context', domain],
        ['accountcode', domain],
        ['sip_auth_realm', domain],
        ...(domainUuid ? ([['domain_uuid', domainUuid]] as Array<[string, string]>) : []),
      ]
    : [];
  const leg = new Leg(sw, {
    uuid,
    direction: 'inbound',
    profile: 'internal',
    channelName: name,
    callerIdName: ext,
    callerIdNumber: ext,
    destination: dialled,
    context: opts.domain ?? 'default',
    source: 'mod_sofia',
    username: ext,
    networkAddr: '127.0.0.1',
    hitDialplan: true,
    variables: [
      ['direction', 'inbound'],
      ['uuid', uuid],
      ['call_uuid', uuid],
      ['session_id', sw.nextSession()],
      ['sip_from_user', ext],
      ['sip_from_uri', `${ext}@${domain}`],
      ['sip_from_host', domain],
      ...tenant,
      ['channel_name', name],
      ['sip_network_ip', '127.0.0.1'],
      ['sip_network_port', String(port)],
      ['sofia_profile_name', 'internal'],
      ['recovery_profile_name', 'internal'],
      ['sip_req_user', dialled],
      ['sip_req_uri', `${dialled}@${domain}`],
      ['sip_to_user', dialled],
      ['sip_to_uri', `${dialled}@${domain}`],
      ['sip_user_agent', `sipp-ext-${ext}`],
      ['user_name', ext],
      ['domain_name', domain],
      ['sip_authorized', 'true'],
      ['read_codec', 'PCMA'],
      ['read_rate', '8000'],
      ['endpoint_disposition', 'RECEIVED'],
    ],
  });
  leg.hasMedia = true;
  return leg;
}

/** A leg that `bridge user/<ext>` or `originate user/<ext>` creates towards a phone. */
export function userOutbound(sw: SwitchFacts, ext: string, a: Leg | null, opts: UserLegOptions = {}): Leg {
  const uuid = opts.uuid ?? randomUUID();
  const port = sw.phonePort(ext, opts.domain);
  const domain = opts.domain ?? sw.domain;
  const name = `sofia/internal/${ext}@127.0.0.1:${port}`;
  const vars: Array<[string, HeaderValue]> = [
    ['direction', 'outbound'],
    ['is_outbound', 'true'],
    ['uuid', uuid],
    ['session_id', sw.nextSession()],
    ['sip_profile_name', 'internal'],
    ['channel_name', name],
    ['sip_destination_url', `sip:${ext}@127.0.0.1:${port};transport=UDP`],
  ];
  if (opts.vars) vars.push(...opts.vars);
  vars.push(['dialed_user', ext], ['dialed_domain', domain], ['presence_id', `${ext}@${domain}`]);
  // the dial-string's sip_invite_domain=${dialed_domain}: the INVITE comes from the domain (tenants/README.md)
  vars.push(['sip_invite_domain', domain], ['sip_from_host', domain]);
  if (a)
    vars.push(['originator', a.uuid], ['signal_bond', a.uuid], ['call_uuid', a.uuid], ['originating_leg_uuid', a.uuid]);
  else vars.push(['call_uuid', uuid]);
  vars.push(
    ['sip_req_uri', `${ext}@127.0.0.1:${port};transport=UDP`],
    ['sip_to_host', `127.0.0.1:${port}`],
    ['sofia_profile_name', 'internal'],
    ['recovery_profile_name', 'internal'],
  );
  const leg = new Leg(sw, {
    uuid,
    direction: 'outbound',
    profile: 'internal',
    channelName: name,
    presenceId: `${ext}@${domain}`,
    callerIdName: opts.callerIdName ?? a?.callerIdName ?? ext,
    callerIdNumber: opts.callerIdNumber ?? a?.callerIdNumber ?? ext,
    calleeIdName: 'Outbound Call',
    calleeIdNumber: ext,
    destination: ext,
    context: opts.context ?? a?.init.context ?? 'default',
    source: a ? 'mod_sofia' : 'src/switch_ivr_originate.c',
    username: a?.init.username,
    networkAddr: a?.init.networkAddr,
    hitDialplan: false,
    variables: vars,
  });
  if (a) link(a, leg);
  return leg;
}

/** A leg to the PSTN through the gateway (`sofia/gateway/<gw>/<number>`). */
export function gatewayOutbound(sw: SwitchFacts, number: string, a: Leg | null, opts: GatewayLegOptions = {}): Leg {
  const uuid = opts.uuid ?? randomUUID();
  const name = `sofia/${sw.trunkProfile}/${number}`;
  const vars: Array<[string, HeaderValue]> = [
    ['direction', 'outbound'],
    ['is_outbound', 'true'],
    ['uuid', uuid],
    ['session_id', sw.nextSession()],
    ['sip_profile_name', sw.trunkProfile],
    ['channel_name', name],
    ['sip_destination_url', `sip:${number}@127.0.0.1:5090`],
  ];
  if (opts.vars) vars.push(...opts.vars);
  // the gateway's host (the lab's pstn gateway at 127.0.0.1:5090), never a tenant domain (tenants/README.md)
  vars.push(['sip_gateway_name', sw.gateway], ['sip_from_host', '127.0.0.1']);
  if (a)
    vars.push(['originator', a.uuid], ['signal_bond', a.uuid], ['call_uuid', a.uuid], ['originating_leg_uuid', a.uuid]);
  vars.push(
    ['sip_req_user', number],
    ['sip_to_user', number],
    ['sofia_profile_name', sw.trunkProfile],
    ['recovery_profile_name', sw.trunkProfile],
  );
  const leg = new Leg(sw, {
    uuid,
    direction: 'outbound',
    profile: sw.trunkProfile,
    channelName: name,
    callerIdName: 'Outbound Call',
    callerIdNumber: opts.callerIdNumber ?? '4951234567',
    calleeIdName: 'Outbound Call',
    calleeIdNumber: number,
    destination: number,
    context: a?.init.context ?? 'default',
    source: a?.init.source === 'src/switch_ivr_originate.c' ? 'src/switch_ivr_originate.c' : 'mod_sofia',
    username: a?.init.username,
    networkAddr: a?.init.networkAddr,
    hitDialplan: false,
    variables: vars,
  });
  if (a) link(a, leg);
  return leg;
}

/** B knows its originator from CREATE on; A names a B only once it bridges, loses one, or hangs up (captures). */
function link(a: Leg, b: Leg): void {
  b.other = a;
  b.otherType = 'originator';
  b.callUuid = a.uuid;
  a.originated.push(b);
}
