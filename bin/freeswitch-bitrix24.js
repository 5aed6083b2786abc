#!/usr/bin/env node
// The command-line entry point; the TypeScript source is bin/cli.ts (built by `npm ci`).
import('../dist/bin/cli.js').then((m) => m.main(process.argv.slice(2), process.env)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err && err.message ? err.message : err);
    process.exit(1);
  },
);
