// test/netns/atomic-faults.test.ts — atomicity under faults on this kernel (tier netns: root): 1,000 random
// atomic batches of policy operations (adds, deletes, updates, flushes; 1-300 operations, some of 3,000 in
// several sends), each with one failing operation at a random place (duplicate policy, delete of a missing
// policy, bad selector, bad direction, delete of a missing SA): after each, the SAD and SPD equal the
// before-state exactly. Seeded; the seed is printed and KEYFLEET_FAULT_SEED replays it. SA faults that need
// esp4 run in test/kernel/atomic-faults.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { runFaultBatches, faultSeed, POLICY_FAULTS } from './fault-batches.js';

test('1,000 random atomic batches, each with one failing operation: the kernel state after each equals the state before, exactly', async () => {
  const ns = `kf-${process.pid}-faults`;
  assert.is(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  const seed = faultSeed();
  const count = Number(process.env.KEYFLEET_FAULT_BATCHES ?? 1000);
  console.log(`  fault batches: seed ${seed}, ${count} batches (replay: KEYFLEET_FAULT_SEED=${seed})`);
  try {
    const t = Date.now();
    const seen = await runFaultBatches(ns, seed, count, POLICY_FAULTS, false);
    console.log(`  ${count} batches in ${((Date.now() - t) / 1000).toFixed(1)} s: ${JSON.stringify(seen)}`);
    for (const k of POLICY_FAULTS) assert.ok((seen[k] ?? 0) > 0 || count < 50, `fault kind ${k} was drawn`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

test.run();
