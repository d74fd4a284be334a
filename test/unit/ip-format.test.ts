// test/unit/ip-format.test.ts — specification of the `ip xfrm` formatter (asm/src/ip-format.ts via
// src/wasm/ip-format.ts) (layer: tests). Verified goldens: kernel bytes captured from iproute2 6.1 with the text it
// printed (test/fixtures/xfrm/kernel-*.hex/.txt). Derived goldens (test/fixtures/ip-format/*.txt, marked DERIVED):
// ESP/AH/IPComp SAs this host cannot create, built with writeRecord, expected text derived line by line from
// iproute2 v6.1.0 ip/ipxfrm.c (xfrm_state_info_print, xfrm_xfrma_print, …); to be checked in the kernel VM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasm } from '../../src/wasm/index.js';
import { decodeXfrm } from '../../src/wasm/xfrm-codec.js';
import { writeRecord } from '../../src/wasm/records.js';
import { configureIpFormat, formatIpStates, formatIpPolicies, formatIpMonitor, formatIpCount, type IpFormatOptions } from '../../src/wasm/ip-format.js';
import * as L from '../../asm/shared/layout.js';
import * as X from '../../asm/shared/xfrm.js';
import { loadGolden, K16, K20, K32 } from './xfrm-golden.js';

const here = path.dirname(fileURLToPath(import.meta.url));
function fixture(rel: string): string {
  for (let d = here, i = 0; i < 6; i++, d = path.dirname(d)) {
    try { return readFileSync(path.join(d, 'test', 'fixtures', rel), 'latin1'); } catch { /* up */ }
  }
  throw new Error(`fixture ${rel} not found`);
}
/** Derived golden: the file minus its leading `#` comment lines. */
function derived(name: string): string {
  return fixture(`ip-format/${name}.txt`).split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

// Debian /etc/protocols entries the fixtures need (getprotobynumber); UTC like the capture host.
configureIpFormat({ timezone: 'utc', protocols: 'tcp 6 TCP\nudp 17 UDP\nicmp 1 ICMP\ngre 47 GRE\nipv6-icmp 58 IPv6-ICMP\n' });

function decodeFixture(name: string, keepAll = false): number {
  wasm().exports.resetAll();
  for (const d of loadGolden(name).messages) decodeXfrm(d, { append: true, keepAll });
  return wasm().regionLen(L.REGION_RECORDS) / L.REC_SIZE;
}

/** ip -o of a plain listing: each object's newlines become `\`, then one newline per object. */
function onelineOf(plain: string, isHead: (line: string) => boolean): string {
  const lines = plain.split('\n');
  lines.pop();
  let out = '';
  lines.forEach((l, i) => {
    if (i > 0 && isHead(l)) out += '\n';
    out += l + '\\';
  });
  return out + '\n';
}

const eq = (a: Buffer, b: string, what: string): void => assert.fixture(a.toString('latin1'), b, what);

// ---- verified against the real ip (captured kernel bytes + ip's text) ----

test('a captured policy dump prints exactly as `ip xfrm policy list` printed it', () => {
  const n = decodeFixture('kernel-policy-dump');
  eq(formatIpPolicies(0, n), fixture('xfrm/kernel-policy-dump.txt'), 'policy list');
});

test('the same dump with -s prints exactly as `ip -s xfrm policy list` printed it (index, share, flag mask, lifetimes, masks)', () => {
  const n = decodeFixture('kernel-policy-dump-s');
  eq(formatIpPolicies(0, n, { stats: 1 }), fixture('xfrm/kernel-policy-dump-s.txt'), 'policy list -s');
});

test('-o joins each policy into one line with backslashes', () => {
  const n = decodeFixture('kernel-policy-dump');
  const plain = fixture('xfrm/kernel-policy-dump.txt');
  eq(formatIpPolicies(0, n, { oneline: true }), onelineOf(plain, (l) => l.startsWith('src ')), 'policy list -o');
});

test('-d changes nothing (iproute2 6.1 xfrm printers ignore show_details)', () => {
  const n = decodeFixture('kernel-policy-dump');
  eq(formatIpPolicies(0, n, { details: true }), fixture('xfrm/kernel-policy-dump.txt'), 'policy list -d');
});

test('a captured SA dump and allocspi reply print as `ip xfrm state list` / `state allocspi` printed them', () => {
  let n = decodeFixture('kernel-sa-dump');
  eq(formatIpStates(0, n), fixture('xfrm/kernel-sa-dump.txt'), 'state list');
  n = decodeFixture('kernel-allocspi-reply');
  eq(formatIpStates(0, n), fixture('xfrm/kernel-allocspi-reply.txt'), 'allocspi reply');
});

test('a captured REPORT and the mode ro state that made it print as ip printed them (VM capture)', () => {
  eq(formatIpMonitor(0, decodeFixture('kernel-report', true)), fixture('xfrm/kernel-report.txt'), 'monitor report');
  eq(formatIpStates(0, decodeFixture('kernel-sa-dump-ro')), fixture('xfrm/kernel-sa-dump-ro.txt'), 'state list');
});

test('keyfleet ip [-j] xfrm monitor file: a REPORT as ip prints it, and as JSON with proto, selector and coa', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kf-report-'));
  try {
    const file = path.join(dir, 'report.nl');
    writeFileSync(file, Buffer.concat(loadGolden('kernel-report').messages));
    const bin = path.resolve(here, '../../../bin/keyfleet');
    const txt = spawnSync(process.execPath, [bin, 'ip', 'xfrm', 'monitor', 'file', file], { encoding: 'latin1' });
    assert.is(txt.stdout, fixture('xfrm/kernel-report.txt'), txt.stderr);
    const js = spawnSync(process.execPath, [bin, 'ip', '-j', 'xfrm', 'monitor', 'file', file], { encoding: 'utf8' });
    assert.equal(JSON.parse(js.stdout), { event: 'report', report: {
      proto: 'hao', selector: { src: '2001:db8:72::1/128', dst: '2001:db8:71::2/128', proto: 17, sport: 4354, dport: 258, ifindex: 1 }, coa: '2001:db8:71::1',
    } }, js.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('captured monitor events print as `ip xfrm monitor` printed them (Updated/Deleted, Flushed policy)', () => {
  const n = decodeFixture('kernel-monitor', true);
  eq(formatIpMonitor(0, n), fixture('xfrm/kernel-monitor.txt'), 'monitor');
});

test('policy records are skipped by the state printer and vice versa, as ip skips "Not a state"', () => {
  const n = decodeFixture('kernel-policy-dump');
  assert.is(formatIpStates(0, n).length, 0);
  const m = decodeFixture('kernel-sa-dump');
  assert.is(formatIpPolicies(0, m).length, 0);
});

// ---- derived from ip/ipxfrm.c (SAs this host cannot create) ----

function espTunnel(): number {
  return writeRecord({
    kind: L.OP_SA_ADD, family: L.AF_INET, saddr: '1.1.1.1', daddr: '2.2.2.2', spi: 0x100, proto: L.IPPROTO_ESP,
    mode: L.XFRM_MODE_TUNNEL, reqid: 1, replay: 32, saFlags: 1 | 32, mark: { value: 3, mask: 0xff }, ifId: 9,
    auth: { name: 'hmac(sha256)', key: K32, bits: 256, param: 128 },
    enc: { name: 'cbc(aes)', key: K16, bits: 128, param: 0 },
  });
}

const ESP_CASES: [string, IpFormatOptions][] = [
  ['esp-tunnel', {}], ['esp-tunnel-s', { stats: 1 }], ['esp-tunnel-nokeys', { nokeys: true }], ['esp-tunnel-s-o', { stats: 1, oneline: true }],
];
for (const [name, opts] of ESP_CASES) {
  test(`DERIVED ${name}: ESP tunnel SA with auth-trunc, enc, flags, mark and if_id`, () => {
    wasm().exports.resetAll();
    const i = espTunnel();
    eq(formatIpStates(i, i + 1, opts), derived(name), name);
  });
}

function aeadEsn(): number {
  return writeRecord({
    kind: L.OP_SA_ADD, family: L.AF_INET, saddr: '10.0.0.1', daddr: '10.0.0.2', spi: 0xc0ffee00, proto: L.IPPROTO_ESP,
    mode: L.XFRM_MODE_TUNNEL, reqid: 5, replay: 0, saFlags: 128, seq: 66,
    flags: L.RF_REPLAY_ESN | L.RF_HAS_EXTRA_FLAGS, extraFlags: 3, replayWin: 64, replaySeq: 7, replayOseq: 9, replayBitmap: 5,
    aead: { name: 'rfc4106(gcm(aes))', key: K20, bits: 160, param: 128 },
    encap: { type: L.UDP_ENCAP_ESPINUDP, sport: 4500, dport: 4500, oa: '0.0.0.0' },
    sel: { saddr: '10.0.0.0', daddr: '10.1.0.0', prefixlenS: 24, prefixlenD: 24, family: L.AF_INET, proto: 17, sport: 500, sportMask: 0xffff },
    lft: { softByte: 1000n, hardByte: 2000n, softAdd: 10n, hardAdd: 20n },
    cur: { bytes: 5n, packets: 1n, addTime: 1700000000n },
    stats: { replayWindow: 0, replay: 1, integrityFailed: 2 },
    lastUsed: 1700000100n,
  });
}

test('DERIVED esp-aead-esn-s: AEAD, NAT-T encap, lastused, ESN context, selector, extra flags, -s lifetimes/stats', () => {
  wasm().exports.resetAll();
  const i = aeadEsn();
  eq(formatIpStates(i, i + 1, { stats: 1 }), derived('esp-aead-esn-s'), 'aead esn -s');
});

test('DERIVED esp-aead-esn: without -s, no extra_flag, no seq, no lifetimes', () => {
  wasm().exports.resetAll();
  const i = aeadEsn();
  eq(formatIpStates(i, i + 1), derived('esp-aead-esn'), 'aead esn');
});

test('DERIVED ah-v6-ctx: AH over IPv6 with plain auth, mark 0, family-only selector and a security context', () => {
  wasm().exports.resetAll();
  const i = writeRecord({
    kind: L.OP_SA_ADD, family: L.AF_INET6, saddr: '2001:db8::1', daddr: '2001:db8::2', spi: 0x200, proto: L.IPPROTO_AH,
    mode: L.XFRM_MODE_TRANSPORT, mark: { value: 0, mask: 0xffffffff },
    auth: { name: 'hmac(sha1)', key: K20, bits: 160, param: 0 },
    sel: { family: L.AF_INET6 },
    ctx: { doi: 1, alg: 1, str: Buffer.from('system_u:object_r:ipsec_spd_t:s0') },
  });
  eq(formatIpStates(i, i + 1), derived('ah-v6-ctx'), 'ah v6 ctx');
});

test('DERIVED comp-beet: IPComp with a keyless algorithm (trailing blank), plain and -s', () => {
  wasm().exports.resetAll();
  const i = writeRecord({
    kind: L.OP_SA_ADD, family: L.AF_INET, saddr: '192.0.2.1', daddr: '192.0.2.2', spi: 0x1234, proto: L.IPPROTO_COMP,
    mode: L.XFRM_MODE_BEET, reqid: 3, comp: { name: 'deflate', key: Buffer.alloc(0), bits: 0, param: 0 },
  });
  eq(formatIpStates(i, i + 1), derived('comp-beet'), 'comp plain');
  eq(formatIpStates(i, i + 1, { stats: 1 }), derived('comp-beet-s'), 'comp -s');
});

test('count replies: SAD count with and without -s (ip/xfrm_state.c print_sadinfo)', () => {
  // NEWSADINFO: nlmsghdr + u32 flags + XFRMA_SAD_CNT u32 + XFRMA_SAD_HINFO {u32 sadhcnt, u32 sadhmcnt}
  const m = Buffer.alloc(16 + 4 + 8 + 12);
  m.writeUInt32LE(m.length, 0);
  m.writeUInt16LE(X.XFRM_MSG_NEWSADINFO, 4);
  m.writeUInt32LE(0xffffffff, 16);
  m.writeUInt16LE(8, 20); m.writeUInt16LE(1, 22); m.writeUInt32LE(3, 24);
  m.writeUInt16LE(12, 28); m.writeUInt16LE(2, 30); m.writeUInt32LE(8, 32); m.writeUInt32LE(1048576, 36);
  wasm().exports.resetAll();
  decodeXfrm(m);
  eq(formatIpCount(0).text, '\t SAD count 3\n', 'count');
  eq(formatIpCount(0, { stats: 1 }).text, '\t SAD count 3 (buckets count 8 Max 1048576)\n', 'count -s');
});

test('hand-built records with impossible blob offsets print "(ERROR truncated)" instead of trapping', () => {
  wasm().exports.resetAll();
  const i = espTunnel();
  const rec = wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE;
  wasm().dv.setUint32(rec + L.R_ALG_ENC + L.ALG_KEY_OFF, 0x7ffffff0, true);
  const text = formatIpStates(i, i + 1).toString('latin1');
  assert.match(text, '\tenc cbc(aes) (ERROR truncated)\n');
});

test.run();
