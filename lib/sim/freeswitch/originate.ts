/**
 * What the simulator understands of an originate string (freeswitch-esl.md §3.4, §4):
 * `originate {vars}<endpoint> <&app(args) | exten [dialplan] [context]> ...`.
 * It parses the grammar FreeSWITCH uses: space-separated arguments with '…' groups,
 * `{a=b,c='d,e'}` variable blocks, `user/<ext>[@domain]` and `sofia/gateway/<gw>/<num>`.
 */

export interface Endpoint {
  vars: Map<string, string>;
  kind: 'user' | 'gateway' | 'other';
  /** Extension for `user/`, number for a gateway. */
  target: string;
  gateway?: string;
  /** `user/<ext>@<domain>`: the directory domain (a tenant's). */
  domain?: string;
}

export interface ParsedOriginate {
  endpoint: Endpoint;
  app: { name: string; args: string } | null;
  exten: string | null;
  dialplan: string | null;
  context: string | null;
}

export class OriginateSyntaxError extends Error {}

/** Split on spaces, keeping '…' groups together (quotes removed) and honouring backslash escapes. */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      continue;
    }
    if (c === "'") {
      quoted = !quoted;
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    if (c === '}' || c === ']' || c === ')') depth = Math.max(0, depth - 1);
    if (c === ' ' && !quoted && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (quoted) throw new OriginateSyntaxError('unbalanced quote');
  if (cur) out.push(cur);
  return out;
}

/** `{a=1,b='x,y'}rest` → vars and rest. */
export function parseVarBlock(s: string): { vars: Map<string, string>; rest: string } {
  const vars = new Map<string, string>();
  if (!s.startsWith('{')) return { vars, rest: s };
  let i = 1;
  let key = '';
  let val = '';
  let inVal = false;
  let quoted = false;
  for (; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) {
      if (inVal) val += s[++i];
      else key += s[++i];
      continue;
    }
    if (c === "'") {
      quoted = !quoted;
      continue;
    }
    if (!quoted && (c === ',' || c === '}')) {
      if (key) vars.set(key, val);
      key = '';
      val = '';
      inVal = false;
      if (c === '}') break;
      continue;
    }
    if (!inVal && c === '=') {
      inVal = true;
      continue;
    }
    if (inVal) val += c;
    else key += c;
  }
  if (s[i] !== '}') throw new OriginateSyntaxError('unterminated {} block');
  return { vars, rest: s.slice(i + 1) };
}

export function parseEndpoint(s: string): Endpoint {
  const { vars, rest } = parseVarBlock(s);
  let m = /^user\/([^@/]+)(?:@(.+))?$/.exec(rest);
  if (m) return { vars, kind: 'user', target: m[1] as string, ...(m[2] ? { domain: m[2] } : {}) };
  m = /^sofia\/gateway\/([^/]+)\/(.+)$/.exec(rest);
  if (m) return { vars, kind: 'gateway', gateway: m[1] as string, target: m[2] as string };
  return { vars, kind: 'other', target: rest };
}

export function parseOriginate(args: string): ParsedOriginate {
  const parts = splitArgs(args.trim());
  if (parts.length < 2)
    throw new OriginateSyntaxError(
      '-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] ' +
        '[<cid_name>] [<cid_num>] [<timeout_sec>]',
    );
  const endpoint = parseEndpoint(parts[0] as string);
  const second = parts[1] as string;
  if (second.startsWith('&')) {
    const m = /^&([A-Za-z0-9_]+)(?:\((.*)\))?$/.exec(second);
    if (!m) throw new OriginateSyntaxError('bad application');
    return { endpoint, app: { name: m[1] as string, args: m[2] ?? '' }, exten: null, dialplan: null, context: null };
  }
  return { endpoint, app: null, exten: second, dialplan: parts[2] ?? 'XML', context: parts[3] ?? 'default' };
}
