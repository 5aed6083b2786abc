/**
 * The config's own value formats (lists, maps, number rules, optional URLs, the tenant map),
 * registered with convict once; lib/config-schema.ts names them.
 */
import convict from 'convict';

const nonEmptyList = {
  name: 'string-list',
  validate(v: unknown): void {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === ''))
      throw new Error('must be a comma-separated list of names');
  },
  coerce(v: unknown): unknown {
    return typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v;
  },
};

const stringMap = {
  name: 'string-map',
  validate(v: unknown): void {
    if (
      v === null ||
      typeof v !== 'object' ||
      Array.isArray(v) ||
      Object.values(v).some((x) => typeof x !== 'string')
    ) {
      throw new Error('must be a JSON object of strings, e.g. {"4951234567":"Main line"}');
    }
  },
  coerce(v: unknown): unknown {
    return typeof v === 'string' ? JSON.parse(v) : v;
  },
};

const ruleList = {
  name: 'rule-list',
  validate(v: unknown): void {
    if (!Array.isArray(v)) throw new Error('must be a JSON array of {"match":"<regex>","replace":"<text>"}');
    for (const r of v) {
      if (!r || typeof r.match !== 'string' || typeof r.replace !== 'string')
        throw new Error('each rule needs "match" and "replace" strings');
      new RegExp(r.match);
    }
  },
  coerce(v: unknown): unknown {
    return typeof v === 'string' ? JSON.parse(v) : v;
  },
};

const optionalUrl = {
  name: 'optional-url',
  validate(v: unknown): void {
    if (v === '') return;
    if (typeof v !== 'string') throw new Error('must be a URL');
    const u = new URL(v);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('must be an http(s) URL');
  },
};

/** Portal address → the domains, lines (DIDs) and gateways of the switch that belong to it (issue 14). */
export interface TenantShape {
  domains?: string[];
  lines?: string[];
  gateways?: string[];
}

const TENANT_KEYS = ['domains', 'lines', 'gateways'] as const;

const tenantMap = {
  name: 'tenant-map',
  validate(raw: unknown): void {
    // kept as JSON text in convict (portal addresses have dots, which convict reads as key paths)
    if (raw === '') return;
    const v: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new Error('must be a JSON object {"https://<portal>": {"domains": [], "lines": [], "gateways": []}}');
    }
    const owner = new Map<string, string>();
    for (const [portal, t] of Object.entries(v as Record<string, unknown>)) {
      const u = new URL(portal);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`${portal}: must be an http(s) URL`);
      if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new Error(`${portal}: must be an object`);
      const entry = t as Record<string, unknown>;
      const unknownKey = Object.keys(entry).find((k) => !(TENANT_KEYS as readonly string[]).includes(k));
      if (unknownKey) throw new Error(`${portal}: unknown key "${unknownKey}" (domains, lines, gateways)`);
      if (!TENANT_KEYS.some((k) => Array.isArray(entry[k]) && (entry[k] as unknown[]).length > 0)) {
        throw new Error(`${portal}: give at least one of domains, lines, gateways`);
      }
      for (const k of TENANT_KEYS) {
        const list = entry[k];
        if (list === undefined) continue;
        if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x === '')) {
          throw new Error(`${portal}: ${k} must be a list of names`);
        }
        for (const name of list as string[]) {
          const key = `${k.slice(0, -1)} ${k === 'domains' ? name.toLowerCase() : name}`;
          const other = owner.get(key);
          if (other !== undefined) throw new Error(`${key} belongs to both ${other} and ${portal}`);
          owner.set(key, portal);
        }
      }
    }
  },
};

/** One FreeSWITCH event socket of FSB24_SWITCHES (issue 15). */
export interface SwitchShape {
  name: string;
  host: string;
  port: number;
  password: string;
}

const SWITCH_KEYS = ['name', 'host', 'port', 'password'] as const;
const SWITCH_NAME = /^[A-Za-z0-9_.-]{1,32}$/;

/** FSB24_SWITCHES as JSON text → the checked list (throws what is wrong, never the password). */
export function parseSwitches(raw: unknown): SwitchShape[] {
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch (err) {
      // JSON.parse quotes the text it read, passwords included: neither its message nor itself goes on
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      // eslint-disable-next-line preserve-caught-error -- the cause would carry the passwords
      throw new Error(`is not valid JSON${at ? ` (at character ${at})` : ''}`);
    }
  }
  const shape = 'must be a JSON list [{"name": "fs1", "host": "10.0.0.1", "port": 8021, "password": "…"}, …]';
  if (!Array.isArray(v) || v.length === 0) throw new Error(shape);
  const names = new Set<string>();
  const sockets = new Map<string, string>();
  return v.map((entry: unknown, i): SwitchShape => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw new Error(`entry ${i + 1}: ${shape}`);
    const e = entry as Record<string, unknown>;
    const label = typeof e.name === 'string' ? `switch "${e.name}"` : `entry ${i + 1}`;
    const unknownKey = Object.keys(e).find((k) => !(SWITCH_KEYS as readonly string[]).includes(k));
    if (unknownKey) throw new Error(`${label}: unknown key "${unknownKey}" (name, host, port, password)`);
    if (typeof e.name !== 'string' || !SWITCH_NAME.test(e.name))
      throw new Error(`${label}: "name" must be 1 to 32 letters, digits, _ . -`);
    if (typeof e.host !== 'string' || e.host === '' || /\s/.test(e.host))
      throw new Error(`${label}: "host" must be a host name or address`);
    if (typeof e.port !== 'number' || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535)
      throw new Error(`${label}: "port" must be a number from 1 to 65535`);
    if (typeof e.password !== 'string' || e.password === '')
      throw new Error(`${label}: "password" must be the event socket's password (event_socket.conf.xml)`);
    if (names.has(e.name)) throw new Error(`${label}: the name is given twice (each switch needs its own)`);
    names.add(e.name);
    const socket = `${e.host.toLowerCase()}:${e.port}`;
    const other = sockets.get(socket);
    if (other !== undefined) throw new Error(`${label}: ${socket} is switch "${other}" already`);
    sockets.set(socket, e.name);
    return { name: e.name, host: e.host, port: e.port, password: e.password };
  });
}

const switchList = {
  name: 'switch-list',
  validate(raw: unknown): void {
    // kept as JSON text in convict, like the tenant map; '' = the single FSB24_ESL_* socket
    if (raw !== '') parseSwitches(raw);
  },
};

/** Empty (SQLite), or a PostgreSQL connection URL. The value is a secret: never in the message. */
const databaseUrl = {
  name: 'database-url',
  validate(v: unknown): void {
    if (v === '') return;
    let u: URL;
    try {
      u = new URL(String(v));
    } catch {
      throw new Error('must be a URL: postgres://user:password@host:5432/database');
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
      throw new Error('must be a postgres:// (or postgresql://) URL');
  },
};

convict.addFormats({
  'switch-list': switchList,
  'string-list': nonEmptyList,
  'string-map': stringMap,
  'rule-list': ruleList,
  'optional-url': optionalUrl,
  'tenant-map': tenantMap,
  'database-url': databaseUrl,
});
