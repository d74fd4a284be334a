// test/unit/fuzz-smoke.test.ts — a small fixed-seed run of the fuzzer (layer: tests). Owns: proving that
// scripts/fuzz/run.mjs (the `npm run fuzz` driver) finds no trap, hang, malformed record, bad diagnostic or
// round-trip break in a few thousand generated and mutated inputs, keeps wasm memory flat when the same inputs
// are re-run, and replays a single case from a seed and a fast-check path. Child processes: the fuzzer uses
// its own wasm instances and formatter configuration, which must not leak into the other unit tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const runner = path.join(root, 'scripts', 'fuzz', 'run.mjs');

function fuzz(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [runner, '--quiet', ...args], {
    cwd: root, encoding: 'utf8', timeout: 60000, env: { ...process.env, KEYFLEET_FUZZ_FAILURES: path.join(tmpdir(), `kf-fuzz-smoke-${process.pid}`) },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('a fixed-seed run of 4000 generated and mutated inputs finds no failure and keeps memory flat', () => {
  const { status, out } = fuzz(['--inputs', '4000', '--seed', '20240601', '--chunk', '1000']);
  assert.is(status, 0, out);
  assert.match(out, /no failures/);
  const total = /total\s+(\d+)\s+0\n/.exec(out);
  assert.ok(total && Number(total[1]) >= 4000, out);
  assert.match(out, /memory plateau: .*\(no growth: blocks reused\)/);
  for (const t of ['setkey-valid', 'setkey-near-valid', 'setkey-hostile', 'setkey-mutate', 'xfrm-mutate', 'pfkey-mutate', 'xfrm-records']) {
    assert.match(out, new RegExp(`${t}\\s+[1-9]\\d*\\s+0\\s`), `${t} ran without failures`);
  }
});

test('replays one case from a seed and a fast-check path', () => {
  const { status, out } = fuzz(['--target', 'xfrm-mutate', '--seed', '12345', '--path', '7']);
  assert.is(status, 0, out);
  assert.match(out, /xfrm-mutate\s+1\s+0\s/);
});

test('exits non-zero and names the replay when an input breaks a property', () => {
  // --limit-ms 0 makes every input a "hang": the failure path (report, replay command, exit status) runs.
  const { status, out } = fuzz(['--target', 'xfrm-records', '--inputs', '5', '--seed', '1', '--limit-ms', '-1', '--no-plateau', '--no-shrink']);
  assert.is(status, 1, out);
  assert.match(out, /hang: one input took/);
  assert.match(out, /replay: npm run fuzz -- --target xfrm-records --seed \d+ --path \d+/);
});

test.run();
