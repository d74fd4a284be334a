// Kernel tier (inside the qemu VM): the PF_KEY requests setkey 0.8.2 has no statement for — SADB_X_SPDGET and
// SADB_X_SPDDELETE2 (a policy by its index) and SADB_GETSPI (a larval SA with an SPI from a range) — encoded from
// the records `ip xfrm policy get|delete index N` and `ip xfrm state allocspi` parse into, sent by PfkeyKernel to
// af_key. Checked against the kernel: what af_key answers (the SPDGET reply carries the very extensions of that
// policy's SPDDUMP message, and prints like the real setkey's -DP block of it), what the tables hold afterwards
// (ip xfrm), and GETSPI against XFRM_MSG_ALLOCSPI of `ip` on an identical namespace. One VM boot, one process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PfkeyKernel } from '../../src/kernel/pfkey.js';
import { KernelError } from '../../src/kernel/errors.js';
import { markRecords, restoreRecords } from '../../src/kernel/xfrm.js';
import { parseIpArgv } from '../../src/wasm/ip-parse.js';
import { encodePfkey, decodePfkey } from '../../src/wasm/pfkey-codec.js';
import { formatSetkeySPs } from '../../src/wasm/setkey-format.js';
import { readRecord } from '../../src/wasm/records.js';
import { wasm } from '../../src/wasm/index.js';
import { SETKEY, sh as run, normalise, type Ran } from './lib/compat.js';
import { REGION_RECORDS, REC_SIZE } from '../../asm/shared/layout.js';
import { SADB_X_SPDGET, SADB_GETSPI, SADB_EXT_SA, MSG_SIZE, MSG_TYPE, MSG_ERRNO } from '../../asm/shared/pfkey.js';

const ns = `kf-byid-${process.pid}`;
const nsIp = `kf-byid-ip-${process.pid}`;
let k: PfkeyKernel;
let seq = 0x7f000000;

/** A command that must succeed. */
function sh(cmd: string, args: string[], input?: string): Ran {
  const r = run(cmd, args, input);
  assert.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.out}${r.err}`);
  return r;
}

/** The one request of record `i`, sent alone; the reply af_key addresses to us. */
async function ask(i: number): Promise<Buffer> {
  const msg = encodePfkey(i, i + 1, { seqBase: seq++, pid: k.pid }).messages[0];
  assert.ok(msg, `record ${i} encodes to a PF_KEY request`);
  return k.request(msg!);
}

/** Records of one `ip` command line (ip-parse), which must parse cleanly. */
function ipRecord(words: string): number {
  const r = parseIpArgv(['xfrm', ...words.split(' ')]);
  assert.equal(r.diags.map((d) => d.code), [], `ip ${words}: no diagnostics`);
  assert.is(r.end - r.first, 1, `ip ${words}: one record`);
  return r.first;
}

/** The extension of `type` in a PF_KEY message (sadb_ext_len in 8-byte units), or null. */
function ext(m: Buffer, type: number): Buffer | null {
  for (let off = MSG_SIZE; off + 4 <= m.length;) {
    const len = m.readUInt16LE(off) * 8;
    if (len === 0) return null;
    if (m.readUInt16LE(off + 2) === type) return m.subarray(off, off + len);
    off += len;
  }
  return null;
}

/** The policies of `ip xfrm policy list`, one block each. */
const policyBlocks = (n: string): string[] => sh('ip', ['-n', n, 'xfrm', 'policy', 'list']).out.split(/\n(?=src )/).filter((b) => b.trim());

test.before(async () => {
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['netns', 'add', nsIp]);
  // the policies come from the real setkey (RFC mode adds the fwd copy of the in policy)
  sh('ip', ['netns', 'exec', ns, SETKEY, '-c'], [
    'spdadd 10.0.1.0/24 10.0.2.0/24 any -P out ipsec esp/transport//require;',
    'spdadd 10.0.2.0/24[80] 10.0.1.0/24 tcp -P in ipsec esp/tunnel/10.0.2.1-10.0.1.1/unique;',
    'spdadd 192.168.7.7 192.168.8.8 icmp -P out discard;', ''].join('\n'));
  k = PfkeyKernel.open({ netns: ns });
});

test.after(() => {
  k?.close();
  run('ip', ['netns', 'del', ns]);
  run('ip', ['netns', 'del', nsIp]);
});

test('SADB_X_SPDGET of each policy index answers with that policy: the extensions of its SPDDUMP message, printed as setkey -DP prints it', async () => {
  const dump = await k.dumpMessages('policy');
  assert.is(dump.length, 4, 'out, in, fwd (RFC mode) and the discard policy');
  const real = sh('ip', ['netns', 'exec', ns, SETKEY, '-DP']);
  const blocks = real.out.split(/\n(?=\S)/).map((b) => (b.endsWith('\n') ? b : `${b}\n`));
  assert.is(blocks.length, 4, real.out);
  const mark = markRecords();
  try {
    for (const d of dump) {
      const first = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
      decodePfkey(d, { append: true });
      const p = readRecord(first);
      const dir = ['in', 'out', 'fwd'][p.dir]!;
      const reply = await ask(ipRecord(`policy get index ${p.index} dir ${dir}`));
      assert.is(reply[MSG_TYPE], SADB_X_SPDGET);
      assert.is(reply[MSG_ERRNO], 0, `spdget index ${p.index}`);
      assert.is(reply.subarray(MSG_SIZE).toString('hex'), d.subarray(MSG_SIZE).toString('hex'), `index ${p.index}: the reply's extensions are the dump's`);
      // printed as the real setkey printed this policy in its -DP (same position: same seq line)
      const at = blocks.findIndex((b) => b.includes(`spid=${p.index} `));
      assert.ok(at >= 0, `setkey -DP lists spid=${p.index}`);
      const r0 = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
      decodePfkey(reply, { append: true });
      const text = formatSetkeySPs(r0, r0 + 1, { all: false, ports: false, short: false, now: Date.now() / 1000, pid: process.pid, firstSeq: at + 1, total: blocks.length }).toString('latin1');
      assert.is(normalise(text), normalise(blocks[at]!));
    }
  } finally {
    restoreRecords(mark);
  }
});

test('SADB_X_SPDGET of an index no policy has fails with ENOENT', async () => {
  const reply = await ask(ipRecord('policy get index 999993 dir out')); // 999993 & 7 = 1: an out index
  assert.is(reply[MSG_ERRNO], 2);
});

test('SADB_X_SPDDELETE2 deletes exactly the policy with that index; a second one fails with ENOENT', async () => {
  const before = policyBlocks(ns);
  const mark = markRecords();
  let index = 0;
  try {
    const { first, end } = await k.dump('policy');
    for (let i = first; i < end; i++) { const p = readRecord(i); if (p.dir === 1 && p.sel.proto === 1) index = p.index; }
  } finally {
    restoreRecords(mark);
  }
  assert.ok(index > 0, 'the discard policy has an index');
  const del = ipRecord(`policy delete index ${index} dir out`);
  assert.is(encodePfkey(del, del + 1, {}).messages[0]![MSG_TYPE], 22, 'index only: SADB_X_SPDDELETE2');
  const r = await k.apply(del, del + 1);
  assert.equal(r.failures, []);
  const after = policyBlocks(ns);
  assert.is(after.length, before.length - 1);
  assert.ok(!after.some((b) => b.includes('proto icmp')), 'the icmp discard policy is gone');
  assert.equal(after, before.filter((b) => !b.includes('proto icmp')), 'the others are untouched');
  const again = await k.apply(del, del + 1);
  assert.is(again.failures.length, 1);
  assert.ok(again.failures[0]!.error instanceof KernelError);
  assert.is(again.failures[0]!.error.code, 'ENOENT');
});

test('SADB_GETSPI makes a larval SA with an SPI from the range, as XFRM_MSG_ALLOCSPI (ip xfrm state allocspi) does', async () => {
  const words = 'state allocspi src 10.0.1.1 dst 10.0.2.1 proto esp min 0x2000 max 0x2fff';
  await k.register(); // af_key answers GETSPI for any satype, but setkey/racoon register first: so do we
  const reply = await ask(ipRecord(words));
  assert.is(reply[MSG_TYPE], SADB_GETSPI);
  assert.is(reply[MSG_ERRNO], 0);
  const sa = ext(reply, SADB_EXT_SA);
  assert.ok(sa, 'the reply has an SA extension');
  const spi = sa!.readUInt32BE(4);
  assert.ok(spi >= 0x2000 && spi <= 0x2fff, `spi 0x${spi.toString(16)} in 0x2000-0x2fff`);
  sh('ip', ['-n', nsIp, 'xfrm', ...words.split(' ')]);
  const list = (n: string) => sh('ip', ['-n', n, 'xfrm', 'state', 'list']).out;
  const pf = list(ns), ip = list(nsIp);
  assert.ok(pf.includes(`spi 0x${spi.toString(16).padStart(8, '0')}`), `ip lists the SA af_key made:\n${pf}`);
  const maskSpi = (t: string) => t.replace(/spi 0x[0-9a-f]{8}/g, 'spi S');
  assert.is(maskSpi(pf), maskSpi(ip), 'the same larval SA as ip allocspi makes');
  // a range of one SPI that is taken: af_key finds no free SPI in it
  const taken = ipRecord(`state allocspi src 10.0.1.9 dst 10.0.2.1 proto esp min 0x${spi.toString(16)} max 0x${spi.toString(16)}`);
  const r2 = await ask(taken);
  assert.ok(r2[MSG_ERRNO] !== 0, 'no free SPI in a taken one-SPI range');
});

test.run();
