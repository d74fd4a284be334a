// test/unit/xfrm-decode.test.ts — specification of decodeXfrm (asm/src/xfrm-decode.ts) and readRecord
// (layer: tests). Inputs: kernel bytes captured from `ip` (test/fixtures/xfrm/kernel-*.hex, capture-kernel.sh) and
// the golden requests; decode→encode→decode round trips; random and truncated bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wasm } from '../../src/wasm/index.js';
import { readRecord, recordCount, writeRecord, formatAddress, parseAddress, type XfrmRecord } from '../../src/wasm/records.js';
import { decodeXfrm, encodeXfrm, netlinkMessages, parseNetlinkError, recordMessage } from '../../src/wasm/xfrm-codec.js';
import * as L from '../../asm/shared/layout.js';
import * as X from '../../asm/shared/xfrm.js';
import { GOLDEN_RECORDS, loadGolden, maskSeqPid } from './xfrm-golden.js';

function fresh(): void {
  wasm().exports.resetAll();
}

function decodeAll(name: string): XfrmRecord[] {
  fresh();
  const g = loadGolden(name);
  for (const d of g.messages) decodeXfrm(d, { append: true });
  return Array.from({ length: recordCount() }, (_, i) => readRecord(i));
}

test('decodes a kernel policy dump, datagram by datagram, into one record per policy', () => {
  const recs = decodeAll('kernel-policy-dump');
  assert.is(recs.length, 9);
  for (const r of recs) {
    assert.is(r.kind, L.OP_SP_ADD);
    assert.is(r.msgType, X.XFRM_MSG_NEWPOLICY);
    assert.is(r.nlFlags & X.NLM_F_MULTI, X.NLM_F_MULTI);
    assert.is(r.ptype === 0 || r.ptype === 1, true);
  }
  const by = (f: (r: XfrmRecord) => boolean): XfrmRecord => { const r = recs.find(f); assert.ok(r); return r!; };
  const t1 = by((r) => r.sel.saddr === '10.9.0.0');
  assert.equal([t1.sel.daddr, t1.sel.prefixlenS, t1.sel.prefixlenD, t1.dir, t1.priority, t1.family], ['10.8.0.0', 24, 24, 1, 5, L.AF_INET]);
  assert.is(t1.templates.length, 1);
  assert.equal(t1.templates[0], {
    daddr: '5.6.7.8', saddr: '1.2.3.4', spi: 0, proto: 50, family: 2, reqid: 3, mode: 1, share: 0, optional: 0,
    aalgos: 0xffffffff, ealgos: 0xffffffff, calgos: 0xffffffff, level: 0, xflags: 0, sport: 0, dport: 0,
  });
  assert.is(t1.lft.softByte, 0xffffffffffffffffn);
  assert.is(t1.lft.hardAdd, 0n);
  assert.is(t1.index & 7, 1, 'the kernel encodes the direction in the index');
  const t2 = by((r) => r.sel.saddr === '10.1.0.0');
  assert.equal(t2.templates.map((t) => [t.proto, t.mode, t.spi, t.optional, t.reqid]), [[108, 1, 0, 0, 0], [50, 0, 0x1234, 1, 4]]);
  const fwd = by((r) => r.sel.saddr === '10.3.0.0');
  assert.equal([fwd.dir, fwd.priority, fwd.sel.proto, fwd.sel.dport, fwd.sel.dportMask], [2, 100, 17, 53, 0xffff]);
  const marked = by((r) => r.sel.saddr === '10.5.0.0' && r.ptype === 0);
  assert.equal(marked.mark, { value: 1, mask: 0xff });
  const sub = by((r) => r.sel.saddr === '10.5.0.0' && r.ptype === 1);
  assert.is(sub.mark, null);
  const block = by((r) => r.sel.saddr === '10.7.0.0');
  assert.equal([block.action, block.dir, block.templates.length], [L.XFRM_POLICY_BLOCK, 0, 0]);
  assert.is(by((r) => r.sel.saddr === '10.7.4.0').ifId, 9);
  const fl = by((r) => r.sel.saddr === '10.7.6.0');
  assert.equal([fl.polFlags, fl.lft.hardAdd, fl.lft.softByte], [3, 60n, 1000n]);
  const v6 = by((r) => r.family === L.AF_INET6);
  assert.equal([v6.sel.saddr, v6.sel.daddr, v6.sel.prefixlenS, v6.sel.sport, v6.templates[0]!.daddr], ['2001:db8::', '2001:db8:1::', 64, 22, '2001:db8::2']);
  assert.ok(recs.every((r) => r.attrs.length > 0 && r.flags & L.RF_HAS_PTYPE), 'raw attributes kept, XFRMA_POLICY_TYPE seen');
});

test('keeps the whole message a record came from in the blob (recordMessage)', () => {
  fresh();
  const g = loadGolden('kernel-policy-dump');
  decodeXfrm(g.messages[0]!);
  const first = [...netlinkMessages(g.messages[0]!)][0]!;
  assert.equal(recordMessage(0), Buffer.from(g.messages[0]!.subarray(0, first.length)));
});

test('decodes the ALLOCSPI answer (a NEWSA) with its mark, reqid and the larval selector', () => {
  const [r, ...rest] = decodeAll('kernel-allocspi-reply');
  assert.is(rest.length, 0);
  assert.is(r!.kind, L.OP_SA_ADD);
  assert.is(r!.msgType, X.XFRM_MSG_NEWSA);
  assert.equal([r!.saddr, r!.daddr, r!.proto, r!.reqid, r!.mode], ['10.0.0.1', '10.0.0.2', 50, 5, 1]);
  assert.ok(r!.spi >= 0x100 && r!.spi <= 0x0fffffff, `spi ${r!.spi}`);
  assert.equal(r!.mark, { value: 3, mask: 0xf });
  assert.equal([r!.sel.saddr, r!.sel.prefixlenS, r!.sel.daddr, r!.sel.prefixlenD], ['10.0.0.1', 32, '10.0.0.2', 32]);
  const dump = decodeAll('kernel-sa-dump');
  assert.is(dump.length, 1);
  assert.is(dump[0]!.spi, r!.spi);
});

test('makes no records of NLMSG_ERROR and DONE; parseNetlinkError reads errno and extack', () => {
  for (const name of ['kernel-error-exist', 'kernel-error-extack']) {
    fresh();
    const g = loadGolden(name);
    for (const d of g.messages) assert.equal(decodeXfrm(d), { records: 0, malformed: 0 });
  }
  const exist = loadGolden('kernel-error-exist').messages[0]!;
  const a = parseNetlinkError(exist, [...netlinkMessages(exist)][0]!);
  assert.is(a?.errno, 17);
  assert.is(a?.requestType, X.XFRM_MSG_NEWPOLICY);
  const ext = loadGolden('kernel-error-extack').messages[0]!;
  const b = parseNetlinkError(ext, [...netlinkMessages(ext)][0]!);
  assert.is(b?.requestType, X.XFRM_MSG_NEWSA);
  assert.is(b?.extack, 'Requested type not found');
  assert.ok(b!.errno > 0);
});

test('decodes multicast events: new/updated policies, deleted SA and policy with their full objects, flush', () => {
  const recs = decodeAll('kernel-monitor');
  const types = recs.map((r) => r.msgType);
  assert.ok(types.includes(X.XFRM_MSG_NEWPOLICY));
  const upd = recs.find((r) => r.msgType === X.XFRM_MSG_UPDPOLICY);
  assert.equal([upd?.kind, upd?.priority, upd?.templates[0]?.reqid], [L.OP_SP_UPDATE, 8, 11]);
  const delsa = recs.find((r) => r.msgType === X.XFRM_MSG_DELSA);
  assert.ok(delsa, 'DELSA event');
  assert.equal([delsa!.kind, delsa!.daddr, delsa!.saddr, delsa!.proto], [L.OP_SA_ADD, '10.99.0.3', '10.99.0.1', 50]);
  assert.equal([delsa!.sel.daddr, delsa!.sel.prefixlenD], ['10.99.0.3', 32], 'selector from XFRMA_SA');
  const delpol = recs.find((r) => r.msgType === X.XFRM_MSG_DELPOLICY);
  assert.equal([delpol?.kind, delpol?.priority, delpol?.sel.daddr, delpol?.templates.length], [L.OP_SP_ADD, 8, '10.99.0.2', 1]);
  const flush = recs.find((r) => r.msgType === X.XFRM_MSG_FLUSHPOLICY);
  assert.is(flush?.kind, L.OP_SP_FLUSH);
});

test('decodes an ACQUIRE (xfrm_user_acquire, built by hand as build_acquire lays it out)', () => {
  fresh();
  const b = Buffer.alloc(16 + 280 + 8 + 68);
  b.writeUInt32LE(b.length, 0); b.writeUInt16LE(X.XFRM_MSG_ACQUIRE, 4);
  const p = 16;
  b.set([10, 0, 0, 2], p); b[p + 20] = 50; // id: daddr, proto
  b.set([10, 0, 0, 1], p + 24); // saddr
  b.set([10, 0, 0, 2], p + 40); b.set([10, 0, 0, 1], p + 56); b.writeUInt16LE(2, p + 40 + 40); b[p + 40 + 42] = 32; b[p + 40 + 43] = 32;
  b.writeUInt32LE(7, p + 96 + 152); b[p + 96 + 160] = 1; // policy priority, dir out
  b.writeUInt32LE(0xffffffff, p + 264); b.writeUInt32LE(0xfffffffe, p + 268); b.writeUInt32LE(42, p + 276);
  b.writeUInt16LE(8, p + 280); b.writeUInt16LE(X.XFRMA_POLICY_TYPE, p + 282); // 4-byte payload: type main
  b.writeUInt16LE(68, p + 288); b.writeUInt16LE(X.XFRMA_TMPL, p + 290); b[p + 292 + 20] = 50; b.writeUInt16LE(2, p + 292 + 24);
  assert.equal(decodeXfrm(b), { records: 1, malformed: 0 });
  const r = readRecord(0);
  assert.equal([r.msgType, r.kind, r.daddr, r.saddr, r.proto, r.sel.daddr, r.priority, r.dir, r.aux, r.aux2, r.seq, r.templates.length],
    [X.XFRM_MSG_ACQUIRE, L.OP_NONE, '10.0.0.2', '10.0.0.1', 50, '10.0.0.2', 7, 1, 0xffffffff, 0xfffffffe, 42, 1]);
});

for (const name of Object.keys(GOLDEN_RECORDS)) {
  test(`decodes ip's \`${name}\` request back to a record that re-encodes to the same bytes`, () => {
    fresh();
    const g = loadGolden(name);
    const { records, malformed } = decodeXfrm(g.messages[0]!);
    assert.equal({ records, malformed }, { records: 1, malformed: 0 });
    const enc = encodeXfrm(0, 1, { ack: 'ip' });
    assert.equal(maskSeqPid(enc.bytes.subarray(0, g.messages[0]!.length)), maskSeqPid(g.messages[0]!), g.command);
  });
}

test('decode → encode → decode keeps every field of dumped policies (rollback re-creates them)', () => {
  const first = decodeAll('kernel-policy-dump');
  const enc = encodeXfrm(0, first.length, { ack: true });
  assert.is(enc.consumed, first.length);
  decodeXfrm(enc.bytes);
  const again = Array.from({ length: recordCount() }, (_, i) => readRecord(i));
  const strip = (r: XfrmRecord): Partial<XfrmRecord> => {
    const { msgType, nlFlags, nlSeq, nlPid, attrs, cur, ...rest } = r;
    void msgType; void nlFlags; void nlSeq; void nlPid; void attrs; void cur;
    return rest;
  };
  assert.equal(again.map(strip), first.map(strip));
});

test('decodes a captured REPORT (mip6_destopt_reject): proto, selector and XFRMA_COADDR as coa', () => {
  const [r] = decodeAll('kernel-report');
  assert.equal([r!.msgType, r!.proto, r!.family, r!.coa], [X.XFRM_MSG_REPORT, 60, L.AF_INET6, '2001:db8:71::1']);
  assert.equal([r!.sel.saddr, r!.sel.prefixlenS, r!.sel.daddr, r!.sel.prefixlenD, r!.sel.proto, r!.sel.sport, r!.sel.dport, r!.sel.ifindex],
    ['2001:db8:72::1', 128, '2001:db8:71::2', 128, 17, 0x1102, 0x0102, 1]);
  assert.is(r!.flags & L.RF_HAS_COA, L.RF_HAS_COA);
});

test('a dumped mode ro state keeps its care-of address through decode → encode → decode (rollback re-creates it)', () => {
  const first = decodeAll('kernel-sa-dump-ro');
  assert.equal(first.map((r) => [r.proto, r.mode, r.coa]), [[60, 2, '2001:db8:71::1']]);
  const enc = encodeXfrm(0, 1, { ack: true });
  decodeXfrm(enc.bytes);
  assert.equal([readRecord(0).msgType, readRecord(0).coa], [X.XFRM_MSG_NEWSA, '2001:db8:71::1']);
  // writeRecord's coa (no attribute order given) is sent too
  fresh();
  const i = writeRecord({ ...first[0]!, flags: first[0]!.flags & ~L.RF_HAS_COA, attrs: Buffer.alloc(0), attrOrder: 0 });
  decodeXfrm(encodeXfrm(i, i + 1).bytes);
  assert.is(readRecord(0).coa, '2001:db8:71::1');
});

test('writeRecord → readRecord keeps what was written', () => {
  fresh();
  const i = writeRecord({ ...GOLDEN_RECORDS['sa-encap']!, ctx: { doi: 1, alg: 1, str: Buffer.from('ctx') }, mark: { value: 1, mask: 2 }, ifId: 0 });
  const r = readRecord(i);
  assert.equal([r.saddr, r.daddr, r.spi, r.auth?.name, r.auth?.key, r.enc?.bits, r.encap, r.ctx?.str.toString(), r.mark, r.ifId],
    ['10.0.0.1', '10.0.0.2', 0x1004, 'hmac(sha256)', GOLDEN_RECORDS['sa-encap']!.auth!.key, 128,
      { type: 2, sport: 4500, dport: 4501, oa: '0.0.0.0' }, 'ctx', { value: 1, mask: 2 }, 0]);
  assert.is(r.flags & (L.RF_HAS_ENCAP | L.RF_HAS_CTX | L.RF_HAS_MARK | L.RF_HAS_IFID), L.RF_HAS_ENCAP | L.RF_HAS_CTX | L.RF_HAS_MARK | L.RF_HAS_IFID);
  assert.is(r.lft.hardByte, 0xffffffffffffffffn);
  assert.is(r.lft.hardAdd, 0n);
});

test('formats and parses addresses like inet_ntop/inet_pton', () => {
  const cases = ['10.0.0.1', '2001:db8::1', '::', '::1', 'fe80::1:2', '2001:db8:0:1:1:1:1:1', '1:0:0:2::3', '::ffff:1.2.3.4', '2001:db8::'];
  for (const c of cases) {
    const { bytes, family } = parseAddress(c);
    assert.is(formatAddress(bytes, 0, family), c);
  }
  assert.throws(() => parseAddress('1.2.3.256'));
  assert.throws(() => parseAddress('1::2::3'));
});

test('counts truncated messages and overrunning attributes as malformed and never traps', () => {
  fresh();
  const g = loadGolden('kernel-policy-dump').messages[0]!;
  const one = Buffer.from(g.subarray(0, [...netlinkMessages(g)][0]!.length));
  // nlmsg_len larger than the datagram
  const long = Buffer.from(one); long.writeUInt32LE(one.length + 100, 0);
  assert.equal(decodeXfrm(long), { records: 0, malformed: 1 });
  // payload shorter than xfrm_userpolicy_info
  const short = Buffer.from(one.subarray(0, 100)); short.writeUInt32LE(100, 0);
  assert.equal(decodeXfrm(short), { records: 0, malformed: 1 });
  // an attribute claiming more bytes than the message has: record kept, message counted
  const over = Buffer.from(one); over.writeUInt16LE(0x400, 16 + 168);
  assert.equal(decodeXfrm(over), { records: 1, malformed: 1 });
  // random bytes, including random lengths inside valid headers
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; };
  for (let i = 0; i < 3000; i++) {
    const n = rnd() % 600;
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) b[j] = rnd() & 0xff;
    if (n >= 16 && i % 2 === 0) { b.writeUInt32LE(n - (rnd() % 8), 0); b.writeUInt16LE(0x10 + (rnd() % 25), 4); }
    const r = decodeXfrm(b, { append: i % 3 === 0, keepAll: i % 5 === 0 });
    assert.ok(r.records >= 0);
    for (let k = 0; k < recordCount(); k++) readRecord(k);
    encodeXfrm(0, recordCount(), {});
  }
});

test.run();
