/** A stream a logger writes into, and the text it got: what a test reads back from the logs. */
import { Writable } from 'node:stream';

export function sink(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _e, cb) {
      out += String(chunk);
      cb();
    },
  });
  return { stream, text: () => out };
}
