/** The portal's /rest/upload.json: a recording uploaded to the single-use address attachRecord handed out. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as tel from './telephony.js';
import type { PortalRequest, PortalState } from './state.js';
import { parseMultipart } from './multipart.js';
import { timeBlock } from './operating.js';

/** What an upload needs of the emulator (an interface, so no import cycle with portal.ts). */
export interface UploadPortal {
  readonly state: PortalState;
  readonly journal: { push(entry: PortalRequest): void };
  readonly now: () => number;
}

/** `uploads`: upload token → CALL_ID; `tokens`: the access tokens the emulator issued. */
export function upload(
  emu: UploadPortal,
  uploads: Map<string, string>,
  tokens: Map<string, unknown>,
  req: FastifyRequest,
  reply: FastifyReply,
): unknown {
  const q = req.query as Record<string, string>;
  const token = String(q.token ?? '').split('|')[2] ?? '';
  const callId = uploads.get(token);
  const t = tokens.get(String(q.auth ?? ''));
  const send = (status: number, body: unknown): unknown => reply.code(status).send(body);
  if (!t || !callId) return send(401, { error: 'NO_AUTH_FOUND', error_description: 'Wrong authorization data' });
  const ct = String(req.headers['content-type'] ?? '');
  const parts = Buffer.isBuffer(req.body) ? parseMultipart(req.body, ct) : [];
  const file = parts.find((p) => p.name === 'file' && p.filename !== undefined);
  emu.journal.push({
    method: 'upload',
    params: { callId, filename: file?.filename, size: file?.data.length },
    auth: 'oauth',
    status: file ? 200 : 400,
    at: emu.now(),
  });
  if (!file)
    return send(400, { error: 'ERROR_CORE', error_description: 'Error: required parameter file is not found' });
  if (!/\.(mp3|wav)$/i.test(file.filename ?? ''))
    return send(400, { error: 'ERROR_CORE', error_description: 'Wrong file extension. Only wav and mp3 are allowed' });
  uploads.delete(token);
  const fileId = tel.storeFile(emu.state, callId, file.filename as string, file.data, 'upload');
  const started = emu.now();
  return send(200, { result: { FILE_ID: fileId }, time: timeBlock(started, emu.now()) });
}
