/** The REST methods the emulated portal answers, and the scope each family needs. */
import * as tel from './telephony.js';
import * as lines from './lines.js';
import { appInfo, eventGet, userGet } from './methods.js';
import { OFFLINE_METHODS } from './offline.js';

export type Method = (ctx: tel.CallContext, p: tel.Params) => unknown;

export const METHODS: Record<string, Method> = {
  'telephony.externalcall.register': tel.register,
  'telephony.externalcall.finish': tel.finish,
  'telephony.externalcall.attachrecord': tel.attachRecord,
  'telephony.externalcall.show': tel.showHide('show'),
  'telephony.externalcall.hide': tel.showHide('hide'),
  'telephony.externalcall.searchcrmentities': tel.searchCrmEntities,
  'telephony.externalline.add': lines.lineAdd,
  'telephony.externalline.update': lines.lineUpdate,
  'telephony.externalline.delete': lines.lineDelete,
  'telephony.externalline.get': lines.lineGet,
  'user.get': userGet,
  'event.get': eventGet,
  'app.info': appInfo,
  // event.bind/unbind (online and offline) and the offline queue
  ...OFFLINE_METHODS,
  scope: (ctx) => ctx.scopes,
  profile: (ctx) => ({ ID: String(ctx.userId), ADMIN: true, NAME: ctx.state.users.get(ctx.userId)?.NAME ?? '' }),
};

export const SCOPE_OF: Record<string, string> = { telephony: 'telephony', user: 'user' };
