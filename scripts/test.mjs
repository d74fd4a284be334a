#!/usr/bin/env node
// scripts/test.mjs — runs the test tiers (layer: tooling) and ends with one line `N passed, N failed`.
//   node scripts/test.mjs [unit|netns|kernel]...   (default: every tier this machine can run)
// unit: no privileges. netns: root + `ip netns` on this kernel. kernel: a stock Debian kernel under qemu
// (scripts/kernel-vm/). A tier that cannot run here is reported as SKIPPED with the reason, never as passed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const tiers = args.length ? args : ['unit', 'netns', 'kernel'];
const explicit = args.length > 0;

if (!process.env.KEYFLEET_NO_BUILD) {
  const b = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), 'asm', 'ts'], { stdio: 'inherit' });
  if (b.status !== 0) { console.log('0 passed, 1 failed'); process.exit(1); }
}

function netnsUsable() {
  if (process.getuid?.() !== 0) return 'not root';
  const name = `kf-probe-${process.pid}`;
  const a = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (a.status !== 0) return `ip netns add failed: ${(a.stderr || '').trim()}`;
  spawnSync('ip', ['netns', 'del', name]);
  return null;
}

/** Runs uvu on one directory; resolves with {passed, failed, skipped}. Streams output through. */
function runUvu(dir, env = {}) {
  return new Promise((resolve) => {
    const uvu = path.join(root, 'node_modules/uvu/bin.js');
    // --atomic journals (src/engine/journal.ts) go to a scratch directory, not the host's /var/lib/keyfleet.
    const journal = process.env.KEYFLEET_JOURNAL_DIR ?? path.join(os.tmpdir(), `kf-test-journal-${process.pid}`);
    const child = spawn(process.execPath, [uvu, dir, '\\.test\\.js$'], { cwd: root, env: { ...process.env, KEYFLEET_JOURNAL_DIR: journal, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.on('close', (code) => {
      const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      let failed = total - passed - skipped;
      if (code !== 0 && failed === 0) failed = 1; // a crash or load error counts as a failure
      resolve({ passed, failed, skipped });
    });
  });
}

let passed = 0, failed = 0;
const skippedTiers = [];
for (const tier of tiers) {
  const dir = path.join('dist/test', tier === 'kernel-inside' ? 'kernel' : tier); // kernel-inside: the kernel tests, in the VM
  if (!existsSync(path.join(root, dir)) || !readdirSync(path.join(root, dir)).some((f) => f.endsWith('.test.js'))) {
    if (tier !== 'kernel') { skippedTiers.push(`${tier}: no tests built`); continue; }
  }
  if (tier === 'netns') {
    const why = netnsUsable();
    if (why) { skippedTiers.push(`netns: ${why}`); if (explicit) failed++; continue; }
  }
  if (tier === 'kernel') {
    const runner = path.join(root, 'scripts/kernel-vm/run.mjs');
    if (!existsSync(runner)) { skippedTiers.push('kernel: harness not present'); continue; }
    const probe = spawnSync(process.execPath, [runner, '--check'], { encoding: 'utf8' });
    if (probe.status !== 0) { skippedTiers.push(`kernel: ${(probe.stdout + probe.stderr).trim()}`); if (explicit) failed++; continue; }
    console.log(`\n== tier kernel (qemu) ==`);
    const r = await new Promise((resolve) => {
      // The host already built dist/ and the wasm: the VM only runs them (a rebuild there costs minutes under TCG).
      const child = spawn(process.execPath, [runner, '--', 'node', 'scripts/test.mjs', 'kernel-inside'], { cwd: root, env: { ...process.env, KEYFLEET_NO_BUILD: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
      child.on('close', (code) => {
        const m = /^(?:\w+: )?(\d+) passed, (\d+) failed/m.exec(out.split('\n').filter((l) => /passed, \d+ failed/.test(l)).pop() ?? '');
        const p = Number(m?.[1] ?? 0), f = Number(m?.[2] ?? 0);
        resolve({ passed: p, failed: f + (code !== 0 && f === 0 ? 1 : 0) });
      });
    });
    passed += r.passed; failed += r.failed;
    continue;
  }
  const uvuDir = tier === 'kernel-inside' ? 'dist/test/kernel' : dir;
  console.log(`\n== tier ${tier} ==`);
  const r = await runUvu(uvuDir, tier === 'kernel-inside' ? { KEYFLEET_IN_VM: '1' } : {});
  passed += r.passed; failed += r.failed;
}
for (const s of skippedTiers) console.log(`SKIPPED tier ${s}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
