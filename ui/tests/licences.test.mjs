// The licences Help ▸ About lists (ui/src/lib/licences.json) are those of
// what the app is built from today: scripts/licences.mjs, run in check mode,
// compares the committed list with `cargo metadata` and ui/node_modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('the About dialog lists the components the app is built from', () => {
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'licences.mjs');
  const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
});
