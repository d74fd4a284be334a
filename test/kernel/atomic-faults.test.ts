// test/kernel/atomic-faults.test.ts — atomicity under faults with real ESP SAs (kernel tier, inside the qemu
// VM). Random atomic batches of SA and policy operations, each with one failing operation at a random place
// (duplicate SA, unknown algorithm, bad SA selector, duplicate policy, bad selector or direction, delete of a
// missing SA or policy): after each, the SAD and SPD equal the before-state exactly. Under TCG a batch costs
// ~10x what it does natively (150 batches: 142 s), so 40 by default here (KEYFLEET_FAULT_BATCHES), the 1,000-batch run
// being test/netns/atomic-faults.test.ts. Seeded; KEYFLEET_FAULT_SEED replays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { runFaultBatches, faultSeed, SA_FAULTS } from '../netns/fault-batches.js';

test('random atomic batches with SAs, each with one failing operation: the SAD and SPD after each equal the state before', async () => {
  const ns = `kf-${process.pid}-safaults`;
  assert.is(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  const seed = faultSeed();
  const count = Number(process.env.KEYFLEET_FAULT_BATCHES ?? 40);
  console.log(`  SA fault batches: seed ${seed}, ${count} batches (replay: KEYFLEET_FAULT_SEED=${seed})`);
  try {
    const t = Date.now();
    const seen = await runFaultBatches(ns, seed, count, SA_FAULTS, true);
    console.log(`  ${count} batches in ${((Date.now() - t) / 1000).toFixed(1)} s: ${JSON.stringify(seen)}`);
    for (const k of SA_FAULTS) assert.ok((seen[k] ?? 0) > 0 || count < 200, `fault kind ${k} was drawn`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

test.run();
