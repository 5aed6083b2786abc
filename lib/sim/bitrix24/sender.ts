/** How the portal's queue server encodes an event (bitrix24-telephony.md §10.1). */
import qs from 'qs';

export function eventBody(
  event: string,
  handlerId: string,
  data: Record<string, unknown>,
  auth: Record<string, string>,
  nowMs: number,
): string {
  return qs.stringify(
    { event, event_handler_id: handlerId, data: stringify(data), ts: String(Math.floor(nowMs / 1000)), auth },
    { skipNulls: true, encodeValuesOnly: false },
  );
}

/** Event values on the wire are strings; nulls and empty arrays are dropped; booleans become 1/0. */
function stringify(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(stringify);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const s = stringify(x);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
  return v;
}
