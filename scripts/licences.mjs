#!/usr/bin/env node
// Writes ui/src/lib/licences.json: Mailroom's licence and every open-source
// component the desktop app is built from, with its licence, for Help ▸ About.
// The components are the Rust crates the app links on any platform (the normal
// dependencies of mailroom-app, followed through `cargo metadata`; build and
// test tools are left out, as they are not shipped) and the npm packages
// bundled into the window (its runtime dependencies, and Svelte's runtime).
// `--check` fails if the committed file is out of date (ui/tests run it).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const output = join(root, 'ui/src/lib/licences.json');

const metadata = JSON.parse(
  execFileSync('cargo', ['metadata', '--format-version', '1', '--locked'], {
    cwd: root,
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8',
  }),
);
const packages = new Map(metadata.packages.map((p) => [p.id, p]));
const nodes = new Map(metadata.resolve.nodes.map((n) => [n.id, n]));
const members = new Set(metadata.workspace_members);
const app = metadata.packages.find((p) => p.name === 'mailroom-app');
if (!app) throw new Error('no mailroom-app package in this workspace');

// Every package reachable from the app through normal (linked) dependencies.
const seen = new Set([app.id]);
const queue = [app.id];
while (queue.length > 0) {
  const node = nodes.get(queue.pop());
  for (const dep of node?.deps ?? []) {
    const linked = dep.dep_kinds.some((k) => k.kind === null);
    if (linked && !seen.has(dep.pkg)) {
      seen.add(dep.pkg);
      queue.push(dep.pkg);
    }
  }
}

/**
 * One spelling per licence: `MIT/Apache-2.0` and `Apache-2.0 OR MIT` are
 * `Apache-2.0 OR MIT` (alternatives sorted; anything with AND or brackets as is).
 */
function spelling(licence) {
  if (!licence) return 'see its licence file';
  if (/\bAND\b|[()]/.test(licence)) return licence;
  return [...new Set(licence.split(/\s+OR\s+|\//).map((l) => l.trim()))].sort().join(' OR ');
}

const components = [];
for (const id of seen) {
  if (members.has(id)) continue;
  const p = packages.get(id);
  components.push({ name: p.name, version: p.version, licence: spelling(p.license) });
}

const ui = JSON.parse(readFileSync(join(root, 'ui/package.json'), 'utf8'));
for (const name of [...Object.keys(ui.dependencies ?? {}), 'svelte']) {
  const p = JSON.parse(readFileSync(join(root, 'ui/node_modules', name, 'package.json'), 'utf8'));
  components.push({ name: p.name, version: p.version, licence: spelling(p.license) });
}

components.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
const workspace = readFileSync(join(root, 'Cargo.toml'), 'utf8');
const licence = /^license = "(.+)"$/m.exec(workspace)?.[1] ?? 'MIT OR Apache-2.0';
// One component a line: small, and a dependency change is a one-line diff.
const lines = components.map((c) => `  ${JSON.stringify(c)}`).join(',\n');
const text = `{\n "mailroom": ${JSON.stringify(licence)},\n "components": [\n${lines}\n ]\n}\n`;

if (process.argv.includes('--check')) {
  const committed = readFileSync(output, 'utf8');
  if (committed !== text) {
    console.error('ui/src/lib/licences.json is out of date: run `node scripts/licences.mjs` and commit it.');
    process.exit(1);
  }
} else {
  writeFileSync(output, text);
  console.log(`${components.length} components written to ui/src/lib/licences.json`);
}
