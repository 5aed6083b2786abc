/** The portal's `batch` (bitrix24-telephony.md §3.3). */
import qs from 'qs';
import { RestError } from './errors.js';
import type { Params } from './telephony.js';

/**
 * batch: sequential, `$result[key][field]` references, 50-command cap, halt, `[]` for empty maps,
 * `result_time` per command (§3.3).
 */
export async function runBatch(
  params: Params,
  call: (method: string, p: Params) => Promise<{ result: unknown; total?: number; next?: number; time?: unknown }>,
  journal: (e: { method: string; params: Params; status: number; result?: unknown; error?: string }) => void,
): Promise<{ result: unknown }> {
  const keys = Object.keys(params);
  const cmdKey = keys.find((k) => k.toLowerCase() === 'cmd');
  const haltKey = keys.find((k) => k.toLowerCase() === 'halt');
  const halt = haltKey ? ['1', 'true', 1, true].includes(params[haltKey] as string) : false;
  const cmd = cmdKey ? params[cmdKey] : undefined;
  const entries: Array<[string, unknown]> = Array.isArray(cmd)
    ? cmd.map((v, i) => [String(i), v])
    : cmd && typeof cmd === 'object'
      ? Object.entries(cmd)
      : [];
  const result: Record<string, unknown> = {};
  const errors: Record<string, unknown> = {};
  const totals: Record<string, unknown> = {};
  const nexts: Record<string, unknown> = {};
  const times: Record<string, unknown> = {};
  let n = 0;
  for (const [key, value] of entries) {
    if (typeof value !== 'string') continue;
    n++;
    if (n > 50) {
      errors[key] = { error: 'ERROR_BATCH_LENGTH_EXCEEDED', error_description: 'Max batch length exceeded' };
      continue;
    }
    const q = value.indexOf('?');
    const sub = (q < 0 ? value : value.slice(0, q)).replace(/\.json$/i, '').toLowerCase();
    const query = substitute(q < 0 ? '' : value.slice(q + 1), result);
    const subParams = qs.parse(query, { depth: 10, arrayLimit: 1000 }) as Params;
    delete subParams.auth;
    try {
      if (sub === 'batch')
        throw new RestError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage');
      const out = await call(sub, subParams);
      result[key] = out.result;
      if (out.total !== undefined) totals[key] = out.total;
      if (out.next !== undefined) nexts[key] = out.next;
      if (out.time !== undefined) times[key] = out.time;
      journal({ method: sub, params: subParams, status: 200, result: out.result });
    } catch (err) {
      if (!(err instanceof RestError)) throw err;
      errors[key] = { error: err.error, error_description: err.description };
      journal({ method: sub, params: subParams, status: err.status, error: err.error });
      if (halt) break;
    }
  }
  const map = (o: Record<string, unknown>): unknown => (Object.keys(o).length === 0 ? [] : o);
  return {
    result: {
      result: map(result),
      result_error: map(errors),
      result_total: map(totals),
      result_next: map(nexts),
      result_time: map(times),
    },
  };
}

/** `$result[key][field][0]` → the value from an earlier command (double-encoded in forms). */
function substitute(query: string, results: Record<string, unknown>): string {
  const decoded = query.replace(
    /%24result((?:%5B[^%&=]*%5D)+)/gi,
    (_m, path: string) => `$result${decodeURIComponent(path)}`,
  );
  return decoded.replace(/\$result((?:\[[^\]]*\])+)/g, (_m, path: string) => {
    const keys = [...path.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] as string);
    let v: unknown = results;
    for (const k of keys) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    return v === undefined || v === null ? '' : encodeURIComponent(String(v));
  });
}
