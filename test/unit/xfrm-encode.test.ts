// test/unit/xfrm-encode.test.ts — specification of encodeXfrm (asm/src/xfrm-encode.ts) (layer: tests).
// Golden bytes: every test/fixtures/xfrm/*.hex capture of `ip xfrm …` must come out of the encoder, seq/pid masked,
// from a record meaning the same command (test/unit/xfrm-golden.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wasm } from '../../src/wasm/index.js';
import { writeRecord } from '../../src/wasm/records.js';
import { encodeXfrm, netlinkMessages } from '../../src/wasm/xfrm-codec.js';
import * as L from '../../asm/shared/layout.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../../asm/shared/xfrm.js';
import { GOLDEN_RECORDS, goldenNames, loadGolden, maskSeqPid } from './xfrm-golden.js';

function fresh(): void {
  wasm().exports.resetAll();
}

test('every golden capture has a record that means the same command', () => {
  const names = goldenNames().filter((n) => !n.startsWith('kernel-'));
  assert.ok(names.length >= 40, `only ${names.length} captures`);
  for (const n of names) assert.ok(GOLDEN_RECORDS[n], `no record for ${n}`);
});

for (const name of Object.keys(GOLDEN_RECORDS)) {
  test(`encodes the record for \`${name}\` to the bytes ip sent`, () => {
    const g = loadGolden(name);
    fresh();
    const idx = writeRecord(GOLDEN_RECORDS[name]!);
    const enc = encodeXfrm(idx, idx + 1, { seqBase: 1234, ack: 'ip' });
    assert.is(enc.consumed, 1);
    assert.equal(Array.from(enc.recordOfMessage), [idx]);
    const want = g.messages[0]!;
    assert.is(enc.bytes.length, (want.length + 3) & ~3, `${g.command}: padded length`);
    const got = enc.bytes.subarray(0, want.length);
    if (!maskSeqPid(got).equals(maskSeqPid(want))) {
      // Show the first differing offset to make failures readable.
      let i = 0;
      const a = maskSeqPid(got), b = maskSeqPid(want);
      while (i < a.length && a[i] === b[i]) i++;
      assert.unreachable(`${g.command}\nfirst difference at byte ${i}\n got  ${a.subarray(i, i + 24).toString('hex')}\n want ${b.subarray(i, i + 24).toString('hex')}`);
    }
    assert.is(enc.bytes.readUInt32LE(8), 1234, 'nlmsg_seq = seqBase');
    assert.is(enc.bytes.readUInt32LE(12), 0, 'nlmsg_pid 0');
    assert.ok(enc.bytes.subarray(want.length).every((x) => x === 0), 'padding is zero');
  });
}

test('numbers messages seqBase + k, pads each to 4 bytes and maps each to its record', () => {
  fresh();
  const a = writeRecord(GOLDEN_RECORDS['sa-flush']!); // 17-byte message
  const b = writeRecord(GOLDEN_RECORDS['pol-tmpl1']!);
  const c = writeRecord({ kind: L.OP_EXIT }); // makes no message
  const d = writeRecord(GOLDEN_RECORDS['sa-delete']!);
  const enc = encodeXfrm(a, d + 1, { seqBase: 100 });
  assert.is(enc.consumed, 4);
  assert.equal(Array.from(enc.recordOfMessage), [a, b, d]);
  const msgs = [...netlinkMessages(enc.bytes)];
  assert.equal(msgs.map((m) => m.seq), [100, 101, 102]);
  assert.equal(msgs.map((m) => m.offset), [0, 20, 272]);
  assert.is(enc.bytes.length, 20 + 252 + 60);
  void c;
});

test('sets NLM_F_ACK on every message with ack: true, never with ack: false or RF_NO_ACK', () => {
  fresh();
  const a = writeRecord(GOLDEN_RECORDS['pol-get']!);
  const b = writeRecord({ ...GOLDEN_RECORDS['pol-tmpl1']!, flags: L.RF_NO_ACK });
  const on = [...netlinkMessages(encodeXfrm(a, b + 1, { ack: true }).bytes)];
  assert.equal(on.map((m) => m.flags), [NLM_F_REQUEST | NLM_F_ACK, NLM_F_REQUEST]);
  const off = [...netlinkMessages(encodeXfrm(a, b + 1, { ack: false }).bytes)];
  assert.equal(off.map((m) => m.flags), [NLM_F_REQUEST, NLM_F_REQUEST]);
});

test('stops before maxBytes but always emits at least one message', () => {
  fresh();
  const first = writeRecord(GOLDEN_RECORDS['pol-tmpl1']!);
  for (let i = 0; i < 9; i++) writeRecord(GOLDEN_RECORDS['pol-tmpl1']!);
  const one = encodeXfrm(first, first + 10, { maxBytes: 10 });
  assert.is(one.consumed, 1);
  assert.is(one.bytes.length, 252);
  const three = encodeXfrm(first, first + 10, { maxBytes: 252 * 3 + 100 });
  assert.is(three.consumed, 3);
  assert.is(three.recordOfMessage.length, 3);
  const rest = encodeXfrm(first + 3, first + 10, {});
  assert.is(rest.consumed, 7);
});

test('clamps end to the records that exist and consumes nothing for an empty range', () => {
  fresh();
  const a = writeRecord(GOLDEN_RECORDS['pol-flush']!);
  assert.is(encodeXfrm(a, a + 100, {}).consumed, 1);
  assert.is(encodeXfrm(a + 1, a + 5, {}).consumed, 0);
});

test('drops an algorithm whose blob offsets point outside the blob instead of reading stray memory', () => {
  fresh();
  const idx = writeRecord(GOLDEN_RECORDS['sa-auth-enc-tunnel']!);
  const w = wasm();
  const rec = w.regionPtr(L.REGION_RECORDS) + idx * L.REC_SIZE;
  w.dv.setUint32(rec + L.R_ALG_ENC + L.ALG_KEY_OFF, 0x7ffffff0, true);
  const enc = encodeXfrm(idx, idx + 1, {});
  const types: number[] = [];
  for (let off = 16 + 224; off + 4 <= enc.bytes.length;) {
    types.push(enc.bytes.readUInt16LE(off + 2));
    off += (enc.bytes.readUInt16LE(off) + 3) & ~3;
  }
  assert.equal(types, [1]); // XFRMA_ALG_AUTH only
});

test('encodes 100k policy records (speed logged, not asserted)', () => {
  fresh();
  const first = writeRecord(GOLDEN_RECORDS['pol-tmpl1']!);
  // Replicate the record 100k times inside wasm memory (same blob template offsets).
  const w = wasm();
  const fns = w.fns<{ appendRegion(r: number, n: number): number }>();
  const N = 100_000;
  const off = fns.appendRegion(L.REGION_RECORDS, L.REC_SIZE * (N - 1)) >>> 0;
  const base = w.regionPtr(L.REGION_RECORDS);
  const src = w.u8.slice(base + first * L.REC_SIZE, base + (first + 1) * L.REC_SIZE);
  for (let i = 0; i < N - 1; i++) w.u8.set(src, base + off + i * L.REC_SIZE);
  const t0 = process.hrtime.bigint();
  let done = 0, bytes = 0;
  while (done < N) {
    const enc = encodeXfrm(first + done, first + N, { maxBytes: 4 << 20, seqBase: done });
    done += enc.consumed;
    bytes += enc.bytes.length;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`    xfrm encode: ${N} policies, ${(bytes / 1e6).toFixed(1)} MB in ${ms.toFixed(1)} ms = ${Math.round(N / (ms / 1000)).toLocaleString('en')} records/s (copy-out included)`);
  assert.is(done, N);
  assert.is(bytes, N * 252);
});

test.run();
