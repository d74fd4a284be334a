// test/kernel/journal-crash.test.ts — crash safety of --atomic with real ESP SAs (kernel tier, inside the
// qemu VM): kill -9 of `keyfleet setkey --atomic` applying 3,000 SAs (two sends) (with deletes and key/lifetime
// replacements of existing ones) at each phase (failpoints) and at random times; the next keyfleet run on the namespace
// leaves the SAD and SPD exactly as before the batch or exactly as after it (entries compared as sets with
// `ip -s`, add/use times left out). The policy-only and agent variants are test/netns/journal-crash.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelState } from '../netns/fault-batches.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
const work = mkdtempSync(path.join(tmpdir(), 'kf-kjournal-'));
const journals = path.join(work, 'journal');
const env = { ...process.env, KEYFLEET_JOURNAL_DIR: journals };
const ns = `kf-${process.pid}-kj`;
const K16 = '0x00112233445566778899aabbccddeeff', K20 = '0x00112233445566778899aabbccddeeff00112233';

function write(name: string, text: string): string { const p = path.join(work, name); writeFileSync(p, text); return p; }
// The before-state is loaded with ip -batch (no node start: cheap under TCG).
const preIp = write('pre.ip', [
  ...Array.from({ length: 200 }, (_, i) => `xfrm state add src 10.80.0.1 dst 10.80.0.2 proto esp spi 0x${(0x1000 + i).toString(16)} mode ${i % 2 ? 'tunnel' : 'transport'} enc 'cbc(aes)' ${K16} auth 'hmac(sha1)' ${K20}`),
  // Explicit indexes (dir out = 1 in the low bits): every reset must recreate the same before-state.
  ...Array.from({ length: 20 }, (_, i) => `xfrm policy add src 10.50.0.${i} dst 10.60.0.${i} dir out index ${8 * (100 + i) + 1} tmpl proto esp mode transport`),
].join('\n') + '\n');
function batch(fail: boolean): string {
  const l: string[] = [];
  for (let i = 0; i < 3000; i++) {
    // Each new SA its own destination: SAs of one (src, dst) share a hash chain every insert walks.
    l.push(`add 10.80.0.1 10.82.${i >> 8}.${i & 255} esp 0x${(0x10000 + i).toString(16)} -E aes-cbc ${K16} -A hmac-sha1 ${K20};`);
    if (i % 200 === 10) l.push(`delete 10.80.0.1 10.80.0.2 esp 0x${(0x1000 + i / 200 | 0).toString(16)};`);
    if (i % 200 === 100) { // replaced: same SPI, other key and lifetimes (a restore must bring the old key back)
      const spi = (0x1080 + i / 200 | 0).toString(16);
      l.push(`delete 10.80.0.1 10.80.0.2 esp 0x${spi};`, `add 10.80.0.1 10.80.0.2 esp 0x${spi} -lh 7200 -ls 3600 -E aes-cbc ${K16.replace('00', 'ff')} -A hmac-sha1 ${K20};`);
    }
    if (i === 1500) l.push('spddelete 10.50.0.3 10.60.0.3 any -P out;');
  }
  if (fail) l.push(`add 10.80.0.1 10.80.0.2 esp 0x10c0 -E aes-cbc ${K16} -A hmac-sha1 ${K20};`);
  return l.join('\n') + '\n';
}
const okFile = write('ok.conf', batch(false));
const failFile = write('fail.conf', batch(true));

function keyfleet(args: string[], extra: Record<string, string> = {}): { code: number | null; signal: string | null; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...env, ...extra }, maxBuffer: 1 << 28 });
  return { code: r.status, signal: r.signal, err: r.stderr };
}
function reset(): void {
  spawnSync('ip', ['-n', ns, 'xfrm', 'state', 'flush']);
  spawnSync('ip', ['-n', ns, 'xfrm', 'policy', 'flush']);
  const r = spawnSync('ip', ['-n', ns, '-batch', preIp], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
}
const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((s, i) => s === b[i]);
/** For a failure message: a few entries only one side has. */
const delta = (got: string[], want: string[]): string => `${got.length} vs ${want.length} entries; extra ${JSON.stringify(got.filter((s) => !want.includes(s)).slice(0, 2))}; missing ${JSON.stringify(want.filter((s) => !got.includes(s)).slice(0, 2))}`;

assert.is(spawnSync('ip', ['netns', 'add', ns]).status, 0);
reset();
const before = kernelState(ns);
const t0 = Date.now();
assert.is(keyfleet(['setkey', '--netns', ns, '--atomic', '-f', okFile]).code, 0);
const okMs = Date.now() - t0;
const after = kernelState(ns);

test('the uninterrupted batch changes the SAD (so before and after can be told apart)', () => {
  assert.is(before.length, 220);
  assert.is(after.length, 220 + 3000 - 15 - 1);
});

for (const [fp, which, conf] of [
  ['journaled', 'before', okFile], ['chunk:1', 'before', okFile], ['sent', 'before', okFile], ['committed', 'after', okFile], ['undo:30', 'before', failFile],
] as const) {
  test(`SAs: kill -9 at '${fp}', then the next keyfleet run leaves the SAD and SPD exactly as ${which} the batch`, () => {
    reset();
    const r = keyfleet(['setkey', '--netns', ns, '--atomic', '-f', conf], { KEYFLEET_FAILPOINT: fp });
    assert.is(r.signal, 'SIGKILL', r.err);
    const next = keyfleet(['setkey', '--netns', ns, '-D']);
    assert.is(next.code, 0, next.err);
    assert.match(next.err, which === 'after' ? 'all of it stays applied' : 'rolled back');
    const s = kernelState(ns), want = which === 'after' ? after : before;
    assert.ok(same(s, want), `state equals the ${which}-state: ${same(s, want) ? '' : delta(s, want)}`);
    assert.equal(readdirSync(path.join(journals, ns)), []);
  });
}

test('SAs: kill -9 at random times; after the next run the SAD and SPD are all-old or all-new', async () => {
  const outcomes: string[] = [];
  for (let k = 0; k < 2; k++) {
    reset();
    const child = spawn(process.execPath, [bin, 'setkey', '--netns', ns, '--atomic', '-f', okFile], { env, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const delay = Math.floor(okMs * (0.3 + 0.6 * Math.random()));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    assert.is(keyfleet(['setkey', '--netns', ns, '-D']).code, 0);
    const s = kernelState(ns);
    const state = same(s, before) ? 'before' : same(s, after) ? 'after' : 'MIXED';
    outcomes.push(`@${delay}ms:${state}`);
    assert.is.not(state, 'MIXED', `kill after ${delay} ms left ${s.length} entries`);
  }
  console.log(`  SA random kills (apply ~${okMs} ms): ${outcomes.join(' ')}`);
});

test.after(() => { spawnSync('ip', ['netns', 'del', ns]); rmSync(work, { recursive: true, force: true }); });

test.run();
