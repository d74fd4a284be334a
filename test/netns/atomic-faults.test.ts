// test/netns/atomic-faults.test.ts — atomicity under faults on this kernel (tier netns: root): 1,000 random
// atomic batches of policy operations (adds, deletes, updates, flushes; 1-300 operations, some of 3,000 in
// several sends), each with one failing operation at a random place (duplicate policy, delete of a missing
// policy, bad selector, bad direction, delete of a missing SA): after each, the SAD and SPD equal the
// before-state exactly. Seeded; the seed is printed and KEYFLEET_FAULT_SEED replays it. SA faults that need
// esp4 run in test/kernel/atomic-faults.test.ts.
import { test } from 'uvu';
import { faultTest, POLICY_FAULTS } from './fault-batches.js';

test('1,000 random atomic batches, each with one failing operation: the kernel state after each equals the state before, exactly', () => faultTest('faults', POLICY_FAULTS, false, 1000));

test.run();
