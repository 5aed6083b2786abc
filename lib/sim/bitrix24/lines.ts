/** telephony.externalLine.*: the application's lines (bitrix24-telephony.md §9), with the portal's error texts. */
import { core } from './errors.js';
import { requireAppAuth, scalar, type CallContext, type Params } from './telephony.js';

export function lineAdd(ctx: CallContext, p: Params): unknown {
  requireAppAuth(ctx);
  const number = (scalar(p, 'NUMBER') ?? '').trim();
  if (!number) throw core('NUMBER should not be empty');
  if (ctx.state.lines.some((l) => l.appId === ctx.appId && l.NUMBER === number)) throw core('Line already exists');
  ctx.state.lines.push({
    appId: ctx.appId,
    NUMBER: number,
    NAME: scalar(p, 'NAME') ?? '',
    CRM_AUTO_CREATE: p.CRM_AUTO_CREATE === undefined || p.CRM_AUTO_CREATE === 'Y' ? 'Y' : 'N',
  });
  return { ID: ctx.state.lines.length };
}

export function lineUpdate(ctx: CallContext, p: Params): unknown {
  requireAppAuth(ctx);
  if (p.NAME === undefined && p.CRM_AUTO_CREATE === undefined) throw core('There are no fields to update');
  const number = (scalar(p, 'NUMBER') ?? '').trim();
  if (!number) throw core('NUMBER should not be empty');
  const i = ctx.state.lines.findIndex((l) => l.appId === ctx.appId && l.NUMBER === number);
  if (i < 0) throw core(`Could not find line with number ${number}`);
  const line = ctx.state.lines[i]!;
  if (p.NAME !== undefined) line.NAME = scalar(p, 'NAME') ?? '';
  if (p.CRM_AUTO_CREATE !== undefined) line.CRM_AUTO_CREATE = p.CRM_AUTO_CREATE === 'Y' ? 'Y' : 'N';
  return { ID: String(i + 1) };
}

export function lineDelete(ctx: CallContext, p: Params): unknown {
  requireAppAuth(ctx);
  const number = (scalar(p, 'NUMBER') ?? '').trim();
  if (!number) throw core('NUMBER should not be empty');
  const i = ctx.state.lines.findIndex((l) => l.appId === ctx.appId && l.NUMBER === number);
  if (i < 0) throw core(`Could not find line with number ${number}`);
  ctx.state.lines.splice(i, 1);
  return [];
}

export function lineGet(ctx: CallContext): unknown {
  requireAppAuth(ctx);
  return ctx.state.lines
    .filter((l) => l.appId === ctx.appId)
    .map((l) => ({ NUMBER: l.NUMBER, NAME: l.NAME, CRM_AUTO_CREATE: l.CRM_AUTO_CREATE }));
}
