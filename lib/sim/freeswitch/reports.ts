/** The simulator's read-only API commands: `status`, `show …`, `sofia status profile internal reg`, `xml_locate`. */
import type { Leg } from './leg.js';
import type { SimSwitch } from './switch.js';

export function statusText(sw: SimSwitch): string {
  const s = Math.floor(sw.uptimeUs / 1e6);
  return (
    `UP 0 years, 0 days, ${Math.floor(s / 3600)} hours, ${Math.floor((s % 3600) / 60)} minutes, ${s % 60} seconds, ` +
    '0 milliseconds, 0 microseconds\n' +
    'FreeSWITCH (Version 1.11.1-release  64bit) is ready\n' +
    `${sw.sessionsSinceStart} session(s) since startup\n` +
    `${sw.legs.size} session(s) - peak ${sw.legs.size}, last 5min ${sw.legs.size} \n` +
    '0 session(s) per Sec out of max 30, peak 3, last 5min 3 \n' +
    '200 session(s) max\nmin idle cpu 0.00/90.67\nCurrent Stack Size/Max 240K/8192K\n'
  );
}

/** `{"row_count": 0}\n` when empty (a space, no rows key, a newline); compact JSON otherwise. */
function rowsJson(rows: Array<Record<string, string>>): string {
  if (rows.length === 0) return '{"row_count": 0}\n';
  return JSON.stringify({ row_count: rows.length, rows });
}

/** A channel's columns: all of the `channels` table, or those the basic_calls view takes of either side. */
function channelRow(sw: SimSwitch, l: Leg, side: 'a' | 'b' | null = null): Record<string, string> {
  const created = l.times.created;
  const app = l.getVar('current_application');
  const appData = l.getVar('current_application_data');
  const base: Record<string, string> = {
    uuid: l.uuid,
    direction: l.init.direction,
    created: sw.stamp(created),
    created_epoch: String(Math.floor(created / 1e6)),
    name: l.init.channelName,
    state: l.state,
    cid_name: l.callerIdName,
    cid_num: l.callerIdNumber,
    ip_addr: l.init.networkAddr ?? '',
    dest: l.init.destination,
  };
  if (!side) {
    Object.assign(base, {
      application: typeof app === 'string' ? app : '',
      application_data: typeof appData === 'string' ? appData : '',
      dialplan: 'XML',
      context: l.init.context,
      read_codec: l.hasMedia ? 'PCMA' : '',
      read_rate: l.hasMedia ? '8000' : '',
      read_bit_rate: l.hasMedia ? '64000' : '',
      write_codec: l.hasMedia ? 'PCMA' : '',
      write_rate: l.hasMedia ? '8000' : '',
      write_bit_rate: l.hasMedia ? '64000' : '',
      secure: '',
      hostname: sw.hostname,
    });
  }
  Object.assign(base, {
    presence_id: l.init.presenceId ?? '',
    presence_data: '',
    accountcode: '',
    callstate: l.callState,
    callee_name: l.calleeIdName ?? '',
    callee_num: l.calleeIdNumber ?? '',
    callee_direction: l.calleeIdNumber ? 'SEND' : '',
  });
  return base;
}

export function show(sw: SimSwitch, args: string): string {
  const [what, ...rest] = args.split(/\s+/);
  const json = rest.join(' ') === 'as json';
  const legs = [...sw.legs.values()];
  if (what === 'channels' && rest[0] === 'count') return `\n${legs.length} total.\n\n`;
  if (what === 'channels') {
    const rows = legs.map((l) => ({
      ...channelRow(sw, l),
      call_uuid: l.callUuid,
      sent_callee_name: l.calleeIdName ?? '',
      sent_callee_num: l.calleeIdNumber ?? '',
      initial_cid_name: l.init.callerIdName,
      initial_cid_num: l.init.callerIdNumber,
      initial_ip_addr: l.init.networkAddr ?? '',
      initial_dest: l.init.destination,
      initial_dialplan: 'XML',
      initial_context: l.init.context,
    }));
    return json
      ? rowsJson(rows)
      : rows.map((r) => Object.values(r).join(',')).join('\n') + `\n\n${rows.length} total.\n`;
  }
  if (what === 'calls') {
    // the basic_calls view (src/switch_core_sqldb.c): one row per channel that is not the B side
    // of a bridge, its partner's columns as b_*, all "" (NULL) while it is not bridged;
    // call_created_epoch is when the bridge wrote its `calls` row (fixtures/esl/api-replies)
    const rows: Array<Record<string, string>> = [];
    for (const l of legs) {
      if (l.otherType === 'originator' && l.times.bridged && l.other && sw.legs.has(l.other.uuid)) continue;
      const partner =
        l.otherType === 'originatee' && l.times.bridged && l.other && sw.legs.has(l.other.uuid) && !l.other.hangupCause
          ? l.other
          : null;
      const row: Record<string, string> = {
        ...channelRow(sw, l, 'a'),
        call_uuid: l.callUuid,
        hostname: sw.hostname,
        sent_callee_name: l.calleeIdName ?? '',
        sent_callee_num: l.calleeIdNumber ?? '',
      };
      const b = partner ? channelRow(sw, partner, 'b') : null;
      for (const k of Object.keys(channelRow(sw, l, 'b'))) row[`b_${k}`] = b?.[k] ?? '';
      row.b_sent_callee_name = partner?.callerIdName ?? '';
      row.b_sent_callee_num = partner?.callerIdNumber ?? '';
      row.call_created_epoch = partner ? String(Math.floor(l.times.bridged / 1e6)) : '';
      rows.push(row);
    }
    return json ? rowsJson(rows) : `${rows.length} total.\n`;
  }
  if (what === 'registrations') {
    // every domain's phones; realm is the domain each registered in (tenants/README.md)
    const rows = sw.directory
      .all()
      .filter((u) => u.setup.registered)
      .map(({ ext, domain }) => ({
        reg_user: ext,
        realm: domain,
        token: `1-${sw.phonePort(ext, domain)}@127.0.0.1`,
        url: `sofia/internal/sip:${ext}@127.0.0.1:${sw.phonePort(ext, domain)};transport=UDP`,
        expires: String(Math.floor(sw.nowUs() / 1e6) + 120),
        network_ip: '127.0.0.1',
        network_port: String(sw.phonePort(ext, domain)),
        network_proto: 'udp',
        hostname: sw.hostname,
        metadata: '',
      }));
    return json ? rowsJson(rows) : `${rows.length} total.\n`;
  }
  return (
    '-USAGE: show codec|endpoint|application|api|dialplan|file|timer|calls [count]|' +
    'channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|' +
    'complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n'
  );
}

export function sofia(sw: SimSwitch, args: string): string {
  if (!/^status profile internal reg/.test(args)) return 'Invalid Profile!\n';
  let out = '\nRegistrations:\n' + '='.repeat(97) + '\n';
  let n = 0;
  for (const { ext, domain, setup } of sw.directory.all()) {
    if (!setup.registered) continue;
    n++;
    const port = sw.phonePort(ext, domain);
    out += `Call-ID:    \t1-${port}@127.0.0.1\nUser:       \t${ext}@${domain}\n`;
    out += `Contact:    \t"" <sip:${ext}@127.0.0.1:${port};transport=UDP>\n`;
    out += `Agent:      \tsipp-ext-${ext}\n`;
    out += `Status:     \tRegistered(UDP)(unknown) EXP(${sw.stamp(sw.nowUs() + 120e6)}) EXPSECS(120)\n`;
    out += `Ping-Status:\tReachable\nPing-Time:\t0.00\nHost:       \t${sw.hostname}\n`;
    out += `IP:         \t127.0.0.1\nPort:       \t${port}\n`;
    out += `Auth-User:  \t${ext}\nAuth-Realm: \t${domain}\nMWI-Account:\t${ext}@${domain}\n\n`;
  }
  return out + `Total items returned: ${n}\n` + '='.repeat(97) + '\n';
}

/**
 * `xml_locate dialplan context name <ctx>`: the context's XML as FreeSWITCH re-serialises it, or
 * `can't find anything` (fixtures/esl/xml-locate.*). Only what the simulator knows: extension names.
 */
export function xmlLocate(sw: SimSwitch, args: string): string {
  const [section, tag, attr, value, ...rest] = args.split(' ');
  if (!section || rest.length > 0 || (tag !== undefined && value === undefined)) return '-ERR bad args\n';
  if (section !== 'dialplan' || tag !== 'context' || attr !== 'name' || !value) return "can't find anything\n";
  const extensions = sw.contexts.get(value);
  if (!extensions) return "can't find anything\n";
  const body = extensions.map((e) => `      <extension name="${e}">\n      </extension>\n\n`).join('');
  return `<context name="${value}">\n${body}  </context>\n`;
}
