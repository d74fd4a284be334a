// test/kernel/atomic-faults.test.ts — atomicity under faults with real ESP SAs (kernel tier, inside the qemu
// VM). Random atomic batches of SA and policy operations, each with one failing operation at a random place
// (duplicate SA, unknown algorithm, bad SA selector, duplicate policy, bad selector or direction, delete of a
// missing SA or policy): after each, the SAD and SPD equal the before-state exactly. Under TCG a batch costs
// ~10x what it does natively (150 batches: 142 s), so 40 by default here (KEYFLEET_FAULT_BATCHES), the 1,000-batch run
// being test/netns/atomic-faults.test.ts. Seeded; KEYFLEET_FAULT_SEED replays.
import { test } from 'uvu';
import { faultTest, SA_FAULTS } from '../netns/fault-batches.js';

test('random atomic batches with SAs, each with one failing operation: the SAD and SPD after each equal the state before', () => faultTest('safaults', SA_FAULTS, true, 40));

test.run();
