// test/netns/fault-netlink.test.ts — netlink faults against this kernel (tier netns: root): replies that
// overflow a tiny receive buffer (ENOBUFS), batches larger than the send buffer (EMSGSIZE), a message that
// cannot fit at all, and a dump while the table changes. Each is retried or reported, never silently wrong.
// XFRM dumps never carry NLM_F_DUMP_INTR (xfrm_user.c has no nl_dump_check_consistent), so the retry of an
// interrupted dump is proven against the scripted fake kernel in test/unit/fault-channel.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseSetkey } from '../../src/wasm/setkey-parse.js';
import { XfrmKernel, markRecords, restoreRecords } from '../../src/kernel/xfrm.js';
import { KernelError } from '../../src/kernel/errors.js';
import { applyAtomic } from '../../src/engine/atomic.js';
import { openNetlinkXfrm } from '../../src/native/index.js';
import { kernelState } from './fault-batches.js';
import { readRecord } from '../../src/wasm/records.js';

const work = mkdtempSync(path.join(tmpdir(), 'kf-nlfault-'));
process.env.KEYFLEET_JOURNAL_DIR = path.join(work, 'journal');
let n = 0;
function ns(): string { const name = `kf-${process.pid}-nl${n++}`; assert.is(spawnSync('ip', ['netns', 'add', name]).status, 0); return name; }
function del(name: string): void { spawnSync('ip', ['netns', 'del', name]); }
const policies = (from: number, count: number, net = 20): string =>
  Array.from({ length: count }, (_, i) => `spdadd 10.${net}.${(from + i) >> 8 & 255}.${(from + i) & 255} 10.99.${(from + i) >> 16}.1 any -P out none;`).join('\n') + '\n';

/** Parses setkey text into records 0.. and returns their count. */
function records(text: string): number {
  const p = parseSetkey(Buffer.from(text), { file: 'gen', rfc: false });
  assert.is(p.diagnostics.length, 0);
  return p.records;
}
async function load(k: XfrmKernel, text: string): Promise<void> {
  const r = await k.apply(0, records(text));
  assert.is(r.failures.length, 0);
}
function count(name: string): number {
  return (spawnSync('ip', ['-n', name, 'xfrm', 'policy', 'list'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.match(/^src /gm) ?? []).length;
}

test('ENOBUFS: replies overflowing a tiny receive buffer fail the batch with "outcome unknown", never a short list of failures', async () => {
  const name = ns();
  const big = XfrmKernel.open({ netns: name });
  const tiny = XfrmKernel.open({ netns: name, rcvbuf: 4096 });
  try {
    await load(big, policies(0, 2000));
    const nrec = records(policies(0, 2000)); // all 2,000 exist: 2,000 error replies
    try {
      const r = await tiny.apply(0, nrec);
      assert.unreachable(`resolved with ${r.failures.length} failures of 2000`);
    } catch (e) {
      assert.instance(e, KernelError);
      assert.is((e as KernelError).code, 'ENOBUFS');
      assert.match((e as KernelError).message, 'the outcome of the 2000 operation(s) of this batch is unknown');
    }
    const m = markRecords();
    const d = await tiny.dump('policy');
    assert.is(d.end - d.first, 2000, 'the channel still works after the overrun');
    restoreRecords(m);
  } finally { big.close(); tiny.close(); del(name); }
});

test('ENOBUFS during --atomic: the batch is rolled back from its journal and the error reported; the kernel is as before', async () => {
  const name = ns();
  const big = XfrmKernel.open({ netns: name });
  const tiny = XfrmKernel.open({ netns: name, rcvbuf: 4096 });
  try {
    await load(big, policies(0, 500));
    const before = kernelState(name);
    // 3,000 new policies with the 500 existing ones interleaved: hundreds of error replies in the first send.
    const lines = policies(10000, 3000).split('\n').filter(Boolean);
    const dup = policies(0, 500).split('\n').filter(Boolean);
    for (let i = 0; i < dup.length; i++) lines.splice(i * 7, 0, dup[i]!);
    const nrec = records(lines.join('\n') + '\n');
    let notices = '';
    try {
      await applyAtomic(tiny, 0, nrec, { onNotice: (t) => { notices += t; } });
      assert.unreachable('the overrun must be reported');
    } catch (e) {
      assert.is((e as KernelError).code, 'ENOBUFS', String(e));
    }
    assert.match(notices, 'rolled back');
    assert.equal(kernelState(name), before);
    assert.equal(readdirSync(path.join(work, 'journal', name)), []);
  } finally { big.close(); tiny.close(); del(name); }
});

test('EMSGSIZE: 1 MiB batches on a socket with a 32 KiB send buffer are split and resent until they fit; all 20,000 apply', async () => {
  const name = ns();
  // The premise: this socket refuses a 1 MiB sendmsg outright.
  const raw = openNetlinkXfrm({ netns: name, sndbuf: 16384, rcvbuf: 1 << 20 });
  try {
    assert.ok(raw.getBuffers().sndbuf < 1 << 20);
    let code = '';
    try { raw.send(Buffer.alloc(1 << 20)); } catch (e) { code = (e as NodeJS.ErrnoException).code ?? ''; }
    assert.is(code, 'EMSGSIZE');
  } finally { raw.close(); }
  const k = XfrmKernel.open({ netns: name, sndbuf: 16384 });
  try {
    const r = await k.apply(0, records(policies(0, 20000)));
    assert.is(r.failures.length, 0);
    assert.is(r.sent, 20000);
    assert.is(count(name), 20000);
    // Errors in split parts still map to their records.
    const again = await k.apply(0, records(policies(19990, 20)));
    assert.equal(again.failures.map((f) => [f.record, f.error.code]), Array.from({ length: 10 }, (_, i) => [i, 'EEXIST']));
  } finally { k.close(); del(name); }
});

test('EMSGSIZE: one message larger than the send buffer is reported as such and nothing is sent', async () => {
  const name = ns();
  const k = XfrmKernel.open({ netns: name, sndbuf: 16384 });
  try {
    const seq = k.channel.allocSeq(1);
    const m = Buffer.alloc(64 << 10);
    m.writeUInt32LE(m.length, 0); m.writeUInt16LE(0x13, 4); m.writeUInt16LE(0x5, 6); m.writeUInt32LE(seq, 8);
    try {
      await k.channel.transact(m, seq, 1, 'spdadd');
      assert.unreachable('must be refused');
    } catch (e) {
      assert.instance(e, KernelError);
      assert.is((e as KernelError).code, 'EMSGSIZE');
      assert.match((e as KernelError).message, 'one message of 65536 bytes is larger than the socket send buffer allows; nothing was sent');
    }
    assert.is(count(name), 0);
  } finally { k.close(); del(name); }
});

test('a dump while ip deletes and adds thousands of policies completes, well-formed, with every untouched policy in it', async () => {
  const name = ns();
  const k = XfrmKernel.open({ netns: name });
  try {
    await load(k, policies(0, 30000));
    const f = path.join(work, 'churn.ip');
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) {
      lines.push(`xfrm policy delete src 10.20.${i >> 8 & 255}.${i & 255}/32 dst 10.99.0.1/32 dir out`);
      lines.push(`xfrm policy add src 10.30.${i >> 8 & 255}.${i & 255}/32 dst 10.99.0.1/32 dir out`);
    }
    writeFileSync(f, lines.join('\n') + '\n');
    const churn = spawn('ip', ['-n', name, '-batch', f], { stdio: 'ignore' });
    const done = new Promise((r) => churn.once('exit', r));
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      const m = markRecords();
      const d = await k.dump('policy');
      seen.push(d.end - d.first);
      // Every entry decodes as a policy of one of the two ranges, and the 25,000 never touched are all there.
      let untouched = 0;
      const keys = new Set<string>();
      for (let i = d.first; i < d.end; i++) {
        const r = readRecord(i);
        const key = JSON.stringify(r.sel);
        assert.not.ok(keys.has(key), 'no entry twice');
        keys.add(key);
        const oct = r.sel.saddr.split('.').map(Number);
        if (oct[1] === 20 && (oct[2]! << 8 | oct[3]!) >= 5000) untouched++;
      }
      assert.is(untouched, 25000, 'every policy the churn does not touch is in the dump');
      restoreRecords(m);
    }
    await done;
    assert.is(count(name), 30000);
    console.log(`  dump sizes during the churn: ${seen.join(', ')}`);
  } finally { k.close(); del(name); }
});

test.after(() => { rmSync(work, { recursive: true, force: true }); });

test.run();
