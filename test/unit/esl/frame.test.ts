import t from 'tap';
import { FrameParser, encodeFrame, frameHeader } from '../../../lib/esl/frame.js';
import { decodeJsonEvent, decodePlainEvent, encodeJsonEvent, encodePlainEvent } from '../../../lib/esl/codec.js';
import { createHash } from 'node:crypto';
import { documentedFixtures, fixtureBytes, fixtureFiles } from '../../helpers/fixtures.js';

t.test('the captures in test/fixtures/esl are the ones the READMEs describe, byte for byte', async (t) => {
  const documented = documentedFixtures();
  t.ok(documented.size >= 39, `${documented.size} captures described`);
  t.same(fixtureFiles(), [...documented.keys()].sort(), 'every capture described, every described capture present');
  for (const [name, sha] of documented)
    t.equal(createHash('sha256').update(fixtureBytes(name)).digest('hex'), sha, `${name}: sha256`);
});

t.test('every capture parses into whole frames and re-encodes byte for byte', async (t) => {
  for (const name of fixtureFiles()) {
    const bytes = fixtureBytes(name);
    const frames = new FrameParser().push(bytes);
    t.ok(frames.length > 3, `${name}: frames`);
    const again = Buffer.concat(
      frames.map((f) =>
        encodeFrame(
          f.headers.filter(([k]) => k !== 'Content-Length'),
          f.body ?? undefined,
        ),
      ),
    );
    t.equal(again.compare(bytes), 0, `${name}: frame round trip`);
    // event bodies: decode and serialise again as FreeSWITCH does
    for (const f of frames) {
      const type = frameHeader(f, 'Content-Type');
      if (!f.body || !type?.startsWith('text/event-')) continue;
      const ev = type === 'text/event-plain' ? decodePlainEvent(f.body) : decodeJsonEvent(f.body);
      const out =
        type === 'text/event-plain' ? encodePlainEvent(ev.headers, ev.body) : encodeJsonEvent(ev.headers, ev.body);
      if (out.compare(f.body) !== 0) {
        t.fail(`${name}: ${ev.name} ${ev.get('Unique-ID')} does not re-encode identically`);
        return;
      }
    }
  }
});

t.test('frames split at every byte parse the same as whole', async (t) => {
  const bytes = fixtureBytes('click2call-user-not-registered.plain.txt');
  const whole = new FrameParser().push(bytes);
  for (let cut = 1; cut < bytes.length; cut++) {
    const p = new FrameParser();
    const frames = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
    if (frames.length !== whole.length) {
      t.fail(`split at ${cut}: ${frames.length} frames`);
      return;
    }
  }
  const p = new FrameParser();
  const bytewise = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(...p.push(bytes.subarray(i, i + 1)));
  t.same(
    bytewise.map((f) => f.headers),
    whole.map((f) => f.headers),
  );
  t.same(
    bytewise.map((f) => f.body?.toString('hex')),
    whole.map((f) => f.body?.toString('hex')),
  );
});

t.test('a bad Content-Length is a FrameError, not a crash', async (t) => {
  t.throws(() => new FrameParser().push(Buffer.from('Content-Length: banana\nContent-Type: x\n\n')), {
    code: 'ESL_ERR_FRAME',
  });
});

t.test('plain values: literal %, arrays, non-UTF-8 bytes never throw', async (t) => {
  const body = Buffer.from(
    'Event-Name: CUSTOM\nvariable_x: 100%25%20sure%\nvariable_y: ARRAY%3A%3Aa%7C%3Ab\nvariable_z: %FF%FE\n\n',
    'latin1',
  );
  const ev = decodePlainEvent(body);
  t.equal(ev.get('variable_x'), '100% sure%');
  t.same(ev.list('variable_y'), ['a', 'b']);
  t.equal(ev.get('variable_z'), '\ufffd\ufffd');
});
