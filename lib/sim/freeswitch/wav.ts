/** A small but valid PCM WAV (8 kHz, 16-bit mono): what record_session leaves on disk. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function wavBytes(seconds: number, sampleRate = 8000): Buffer {
  const samples = Math.max(1, Math.round(seconds * sampleRate));
  const dataLen = samples * 2;
  const buf = Buffer.alloc(44 + dataLen);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataLen, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataLen, 40);
  // a quiet 440 Hz tone, so the file is not all zeros: one second of it computed once, then copied
  const second = toneSecond(sampleRate);
  for (let at = 0; at < dataLen; at += second.length)
    second.copy(buf, 44 + at, 0, Math.min(second.length, dataLen - at));
  return buf;
}

const tones = new Map<number, Buffer>();
function toneSecond(sampleRate: number): Buffer {
  let b = tones.get(sampleRate);
  if (!b) {
    b = Buffer.alloc(sampleRate * 2);
    for (let i = 0; i < sampleRate; i++)
      b.writeInt16LE(Math.round(800 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), i * 2);
    tones.set(sampleRate, b);
  }
  return b;
}

export function writeWav(path: string, seconds: number): number {
  const bytes = wavBytes(seconds);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return bytes.length;
}
