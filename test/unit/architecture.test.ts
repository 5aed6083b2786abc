/**
 * The code keeps the shape the README's map promises: no import cycle in lib/ (type imports
 * count too: two modules in a cycle cannot be understood apart), every room on the map
 * exists and every folder is on it, and each room imports only what its row allows.
 */
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BASICS = [
  'lib/config.ts',
  'lib/config-schema.ts',
  'lib/config-schema-cdr.ts',
  'lib/config-formats.ts',
  'lib/log.ts',
  'lib/errors.ts',
  'lib/clock.ts',
  'lib/patterns.ts',
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a module resolved to files: `import`, `export … from`, type-only and dynamic too. */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [
    ...[...src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) => m[1]!),
    ...[...src.matchAll(/import\('(\.{1,2}\/[^']+)'\)/g)].map((m) => m[1]!),
  ];
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

export function findCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (n: string): void => {
    path.push(n);
    onPath.add(n);
    for (const d of graph.get(n) ?? []) {
      if (onPath.has(d)) cycles.push([...path.slice(path.indexOf(d)), d].map((p) => relative(root, p)));
      else if (!done.has(d) && graph.has(d)) visit(d);
    }
    path.pop();
    onPath.delete(n);
    done.add(n);
  };
  for (const f of graph.keys()) if (!done.has(f)) visit(f);
  return cycles;
}

/** The room a file of lib/ lives in: a top-level file is its own room; lib/sim/ has a room per stand-in. */
function roomOf(file: string): string {
  const parts = relative(root, file).split('/');
  if (parts.length === 2) return parts.join('/');
  if (parts[1] === 'sim') return parts.length > 3 ? `lib/sim/${parts[2]}/` : 'lib/sim/';
  return `lib/${parts[1]}/`;
}

/** The map: room → the rooms it may import (backticked names in the first and third cells). */
function readMap(): Map<string, Set<string>> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Map of the code'));
  const map = new Map<string, Set<string>>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (!line.startsWith('| `') || cells.length < 5) continue;
    const names = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const room of names(cells[1]!)) map.set(room, new Set(names(cells[3]!)));
  }
  return map;
}

const files = sources(join(root, 'lib'));

t.test('no import cycle in lib/', async (t) => {
  t.ok(files.length > 50, 'read the sources');
  t.same(findCycles(files), [], 'cycles (a -> b -> a)');
});

t.test('the detector finds a cycle when there is one', async (t) => {
  const dir = t.testdir({
    'a.ts': "import { b } from './b.js';\nexport const a = b;\n",
    'b.ts': "import type { A } from './c.js';\nexport const b = 1 as unknown as A;\n",
    'c.ts': "export type { a as A } from './a.js';\n",
  });
  t.equal(findCycles(['a.ts', 'b.ts', 'c.ts'].map((f) => join(dir, f))).length, 1);
});

t.test("every room of lib/ is on the README's map, and the map names only rooms that exist", async (t) => {
  const map = readMap();
  const rooms = new Set(files.map(roomOf));
  for (const r of rooms) t.ok(map.has(r), `${r} is on the map`);
  for (const r of map.keys()) if (r !== 'bin/') t.ok(rooms.has(r), `${r} exists`);
  t.ok(map.has('bin/'), 'bin/ is on the map');
});

t.test('each room imports only what its row allows', async (t) => {
  const map = readMap();
  const wrong: string[] = [];
  for (const f of files) {
    const from = roomOf(f);
    const allowed = map.get(from) ?? new Set<string>();
    for (const target of importsOf(f)) {
      if (!target.startsWith(join(root, 'lib'))) {
        wrong.push(`${relative(root, f)} imports ${relative(root, target)} (outside lib/)`);
        continue;
      }
      const to = roomOf(target);
      if (to === from || BASICS.includes(to) || allowed.has(to)) continue;
      wrong.push(`${relative(root, f)} (${from}) imports ${relative(root, target)} (${to})`);
    }
  }
  t.same(wrong, [], 'imports against the map');
});

t.test('no file in lib/ over 400 lines, no line over 120 characters', async (t) => {
  const over: string[] = [];
  for (const f of files) {
    const lines = readFileSync(f, 'utf8').split('\n');
    if (lines.length > 401) over.push(`${relative(root, f)}: ${lines.length} lines`);
    lines.forEach((l, i) => {
      if (l.length > 120) over.push(`${relative(root, f)}:${i + 1}: ${l.length} characters`);
    });
  }
  t.same(over, [], 'files and lines over the limit');
});
