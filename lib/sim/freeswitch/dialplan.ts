/**
 * A small XML dialplan as mod_dialplan_xml (FreeSWITCH 1.11) reads it, enough to run the
 * shipped snippets (conf/freeswitch/dialplan) against the simulator instead of a copy of
 * their logic: extensions in order, conditions with field/expression/break, actions and
 * anti-actions, `inline="true"` actions run during the hunt (so later conditions see
 * what they set), `$1` captures, `$${global}` pre-processing, and `${var}` /
 * `${api(args)}` expansion. Whatever it does not know it refuses loudly.
 *
 * Source: src/mod/dialplans/mod_dialplan_xml/mod_dialplan_xml.c (parse_exten: a
 * condition without field is absolute; break defaults to on-false; inline actions go
 * through exec_app at hunt time, after the $N substitution), switch_utils.c
 * (switch_url_encode_opt, SWITCH_URL_UNSAFE in switch_utils.h).
 */

export interface DpAction {
  app: string;
  data: string;
  inline: boolean;
}

export type BreakRule = 'on-false' | 'on-true' | 'always' | 'never';

export interface DpCondition {
  field: string | null;
  expression: string;
  break: BreakRule;
  actions: DpAction[];
  antiActions: DpAction[];
}

export interface DpExtension {
  name: string;
  continue: boolean;
  conditions: DpCondition[];
}

export class DialplanError extends Error {
  override readonly name = 'DialplanError';
  readonly code = 'SIM_ERR_DIALPLAN';
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function attrs(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of raw.matchAll(/([\w-]+)="([^"]*)"/g))
    out[m[1]!] = m[2]!.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e]!);
  return out;
}

/** Parse the extensions of a snippet (an `<include>` or a `<context>`), `$${...}` filled from `globals`. */
export function parseDialplan(xml: string, globals: Record<string, string> = {}): DpExtension[] {
  const text = xml
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\$\$\{(\w+)\}/g, (all, name: string) => globals[name] ?? all);
  const out: DpExtension[] = [];
  let ext: DpExtension | null = null;
  let cond: DpCondition | null = null;
  for (const m of text.matchAll(/<(\/?)([\w-]+)((?:\s+[\w-]+="[^"]*")*)\s*(\/?)>/g)) {
    const [, closing, tag, rawAttrs, selfClosing] = m as unknown as [string, string, string, string, string];
    const a = attrs(rawAttrs);
    if (tag === 'extension') {
      if (closing) ext = null;
      else out.push((ext = { name: a.name ?? '', continue: a.continue === 'true', conditions: [] }));
    } else if (tag === 'condition') {
      if (closing) cond = null;
      else {
        if (!ext) throw new DialplanError('<condition> outside an <extension>');
        const rule = (a.break ?? 'on-false') as BreakRule;
        if (!['on-false', 'on-true', 'always', 'never'].includes(rule))
          throw new DialplanError(`unknown break="${rule}"`);
        cond = { field: a.field ?? null, expression: a.expression ?? '', break: rule, actions: [], antiActions: [] };
        ext.conditions.push(cond);
        if (selfClosing) cond = null;
      }
    } else if (tag === 'action' || tag === 'anti-action') {
      if (!cond) throw new DialplanError(`<${tag}> outside a <condition>`);
      const action = { app: a.application ?? '', data: a.data ?? '', inline: a.inline === 'true' };
      (tag === 'action' ? cond.actions : cond.antiActions).push(action);
    } else if (!['include', 'context', 'section', 'document'].includes(tag)) {
      throw new DialplanError(`unsupported dialplan element <${tag}>`);
    }
  }
  return out;
}

/** switch_url_encode (not double-encoding an existing %XX), as the url_encode API does. */
export function urlEncode(s: string): string {
  const unsafe = '\r\n #%&+:;<=>?@[\\]^`{|}"';
  let out = '';
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const c = String.fromCharCode(b);
    const escaped = c === '%' && /^[0-9A-F]{2}$/.test(bytes.subarray(i + 1, i + 3).toString('latin1'));
    if (!escaped && (b < 0x20 || b > 0x7e || unsafe.includes(c)))
      out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

/** The API commands a dialplan may call inside `${...}`. */
const APIS: Record<string, (arg: string) => string> = { url_encode: urlEncode };

/** switch_channel_expand_variables: `${name}` and `${api(args)}`, nested, unknown variables empty. */
export function expand(s: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const at = s.indexOf('${', i);
    if (at < 0) return out + s.slice(i);
    out += s.slice(i, at);
    let depth = 0;
    let end = at + 1;
    for (; end < s.length; end++) {
      if (s[end] === '{') depth++;
      else if (s[end] === '}' && --depth === 0) break;
    }
    if (end >= s.length) throw new DialplanError(`unbalanced \${ in ${JSON.stringify(s)}`);
    const inner = s.slice(at + 2, end);
    const call = /^(\w+)\(([\s\S]*)\)$/.exec(inner);
    if (call) {
      const api = APIS[call[1]!];
      if (!api) throw new DialplanError(`the simulator has no API ${call[1]}`);
      out += api(expand(call[2]!, vars));
    } else {
      out += vars.get(expand(inner, vars)) ?? '';
    }
    i = end + 1;
  }
  return out;
}

/** switch_perform_substitution: $1..$9 from the condition's captures. */
function substitute(data: string, m: RegExpExecArray | null): string {
  return m ? data.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? '') : data;
}

export interface HuntChannel {
  /** Caller-profile fields a condition may name (destination_number, caller_id_number...). */
  profile: Record<string, string>;
  vars: Map<string, string>;
  /** Run an inline action now (during the hunt). */
  inline(app: string, data: string): Promise<void>;
}

/** The dialplan hunt: the first extension whose conditions pass, with the actions it queued. */
export async function hunt(
  exts: DpExtension[],
  ch: HuntChannel,
): Promise<{ extension: string; actions: Array<{ app: string; data: string }> } | null> {
  for (const ext of exts) {
    const queued: Array<{ app: string; data: string }> = [];
    let proceed = false;
    for (const c of ext.conditions) {
      let matched: RegExpExecArray | null = null;
      let pass: boolean;
      if (c.field === null && c.expression === '') {
        pass = true; // "Absolute Condition"
      } else {
        const field = c.field ?? '';
        const value = field.includes('$') ? expand(field, ch.vars) : (ch.profile[field] ?? ch.vars.get(field) ?? '');
        matched = new RegExp(expand(c.expression, ch.vars)).exec(value);
        pass = matched !== null;
      }
      const list = pass ? c.actions : c.antiActions;
      for (const act of list) {
        const data = pass ? substitute(act.data, matched) : act.data;
        if (act.inline) await ch.inline(act.app, data);
        else queued.push({ app: act.app, data });
      }
      proceed = pass || list.length > 0;
      if ((pass && c.break === 'on-true') || (!pass && c.break === 'on-false') || c.break === 'always') break;
    }
    if (proceed && !ext.continue) return { extension: ext.name, actions: queued };
  }
  return null;
}
