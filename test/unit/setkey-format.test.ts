// test/unit/setkey-format.test.ts — golden text for the `setkey -D` / `-DP` formatter (src/wasm/setkey-format.ts).
// Records are built with writeRecord as the XFRM dump decoder would produce them; goldens live in
// test/fixtures/setkey-dump/ with their provenance in `#|` header lines (derived from the ipsec-tools 0.8.2 and
// af_key sources until checked against the real setkey in the kernel VM).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as L from '../../asm/shared/layout.js';
import { wasm } from '../../src/wasm/index.js';
import { writeRecord, type XfrmRecordInput, type XfrmTemplate } from '../../src/wasm/records.js';
import {
  configureSetkeyFormat, countSetkeySAs, countSetkeySPs, formatSetkeySAs, formatSetkeySPs, SETKEY_NO_SAD,
  SETKEY_NO_SPD, SETKEY_SHORT_HEADER,
} from '../../src/wasm/setkey-format.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, '../../../test/fixtures/setkey-dump');

function golden(name: string): string {
  const text = readFileSync(path.join(fixtures, name), 'utf8');
  return text.split('\n').filter((l, i, a) => !(l.startsWith('#| ') && a.slice(0, i).every((x) => x.startsWith('#| ')))).join('\n');
}

const NOW = 1795375920;            // Nov 22 19:32:00 2026 UTC
const CREATED = 1795375912n;       // Nov 22 19:31:52 2026 UTC
const PID = 4242;
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');
const range = (from: number, n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));
// What `ip xfrm state add` leaves in the kernel: byte/packet limits XFRM_INF, time limits 0.
const LFT = { softAdd: 0n, hardAdd: 0n, softUse: 0n, hardUse: 0n };
const CTX = { doi: 1, alg: 1, str: Buffer.from('system_u:object_r:ipsec_spd_t:s0') };

function alg(name: string, key: Buffer, param = 0): { name: string; key: Buffer; bits: number; param: number } {
  return { name, key, bits: key.length * 8, param };
}

function sa(o: XfrmRecordInput): XfrmRecordInput {
  return { kind: L.OP_SA_ADD, state: 1, lft: LFT, cur: { addTime: CREATED }, ...o };
}

function records(list: XfrmRecordInput[]): number {
  wasm().exports.resetAll();
  for (const r of list) writeRecord(r);
  return list.length;
}

const espTunnel = sa({
  saddr: '192.168.1.1', daddr: '192.168.1.2', spi: 0x1000, proto: L.IPPROTO_ESP, mode: L.XFRM_MODE_TUNNEL,
  enc: alg('cbc(aes)', hex('00112233 44556677 8899aabb ccddeeff')),
  auth: alg('hmac(sha1)', hex('00112233 44556677 8899aabb ccddeeff 00112233')),
});
const ahTransport = sa({
  saddr: '10.0.0.1', daddr: '10.0.0.2', spi: 0x200, proto: L.IPPROTO_AH, mode: L.XFRM_MODE_TRANSPORT, reqid: 7,
  replay: 32, saFlags: 1 /* XFRM_STATE_NOECN */,
  auth: alg('hmac(sha256)', range(0, 32)),
  lft: { hardAdd: 3600n, softAdd: 3000n, hardUse: 1800n, softUse: 1500n, hardByte: 1000000n, softByte: 900000n, hardPacket: 5000n, softPacket: 4000n },
  cur: { addTime: CREATED - 100n, useTime: CREATED + 3n, bytes: 123456n, packets: 789n },
});
const ipcomp = sa({
  saddr: '10.1.0.1', daddr: '10.1.0.2', spi: 0x1234, proto: L.IPPROTO_COMP, mode: L.XFRM_MODE_TUNNEL,
  comp: alg('deflate', Buffer.alloc(0)),
});
const natt = sa({
  saddr: '192.0.2.1', daddr: '198.51.100.7', spi: 0xdeadbeef, proto: L.IPPROTO_ESP, mode: L.XFRM_MODE_TUNNEL, reqid: 1,
  enc: alg('cbc(des3_ede)', range(1, 24)), auth: alg('hmac(sha1)', range(1, 20)),
  encap: { type: L.UDP_ENCAP_ESPINUDP, sport: 4500, dport: 4500, oa: '0.0.0.0' },
});

const opts = { now: NOW, pid: PID };
configureSetkeyFormat({ timezone: 'utc', protocols: readFileSync(path.join(fixtures, 'protocols'), 'latin1') });

// ---------------------------------------------------------------------------------------------------------------
const SA = suite('formatSetkeySAs');

SA('prints an ESP tunnel SA and an AH SA with lifetimes, numbering the last one sadb_seq=0', () => {
  const n = records([espTunnel, ahTransport]);
  assert.fixture(formatSetkeySAs(0, n, opts).toString('latin1'), golden('sa-esp-ah.txt'));
});

SA('glues the seq= line to an IPComp SA\'s C: line', () => {
  const n = records([ipcomp]);
  assert.fixture(formatSetkeySAs(0, n, opts).toString('latin1'), golden('sa-ipcomp.txt'));
});

SA('prints a NAT-T SA as esp-udp with the encapsulation ports, and with -p the sockaddr port 0 before them', () => {
  const n = records([natt]);
  assert.fixture(formatSetkeySAs(0, n, opts).toString('latin1'), golden('sa-natt.txt'));
  assert.fixture(formatSetkeySAs(0, n, { ...opts, ports: true }).toString('latin1'), golden('sa-natt-ports.txt'));
});

SA('wraps keys after 32 bytes, omits zero-length and AEAD keys, and prints ids without names as numbers or none', () => {
  const n = records([
    sa({ saddr: '10.2.0.1', daddr: '10.2.0.2', spi: 0x100, proto: L.IPPROTO_ESP, enc: alg('cbc(blowfish)', range(0xa0, 40)), auth: alg('hmac(md5)', hex('00112233445566778899aabbccddeeff')) }),
    sa({ saddr: '10.2.0.1', daddr: '10.2.0.2', spi: 0x101, proto: L.IPPROTO_ESP, enc: alg('ecb(cipher_null)', Buffer.alloc(0)), auth: alg('hmac(sha1)', hex('00112233445566778899aabbccddeeff00112233')) }),
    sa({ saddr: '2001:db8::1', daddr: '2001:db8::2', spi: 0x102, proto: L.IPPROTO_ESP, mode: L.XFRM_MODE_TUNNEL, aead: alg('rfc4106(gcm(aes))', range(0, 20), 128) }),
    sa({ saddr: '2001:db8:0:0:1:0:0:1', daddr: '::ffff:192.0.2.1', spi: 0x103, proto: L.IPPROTO_ESP, enc: alg('cbc(serpent)', hex('00112233445566778899aabbccddeeff')), auth: alg('cmac(aes)', hex('00112233445566778899aabbccddeeff')) }),
  ]);
  assert.fixture(formatSetkeySAs(0, n, opts).toString('latin1'), golden('sa-algorithms.txt'));
});

SA('prints the security context block and hides dead SAs unless -a, keeping their sequence numbers', () => {
  const base = { saddr: '10.3.0.1', daddr: '10.3.0.2', proto: L.IPPROTO_ESP, enc: alg('cbc(aes)', hex('00112233445566778899aabbccddeeff')) };
  const n = records([sa({ ...base, spi: 0x300, ctx: CTX }), sa({ ...base, spi: 0x301, state: 3 }), sa({ ...base, spi: 0x302, state: 2 })]);
  assert.fixture(formatSetkeySAs(0, n, opts).toString('latin1'), golden('sa-ctx-dead.txt'));
  assert.fixture(formatSetkeySAs(0, n, { ...opts, all: true }).toString('latin1'), golden('sa-ctx-dead-all.txt'));
});

SA('prints one short line per SA with -l, skipping dead SAs', () => {
  const n = records([espTunnel, ahTransport, sa({ ...ipcomp, state: 3, spi: 0x999 }), ipcomp]);
  assert.fixture(formatSetkeySAs(0, n, { ...opts, short: true }).toString('latin1'), golden('sa-short.txt'));
  assert.is(SETKEY_SHORT_HEADER, 'time p   s spi      ltime   src -> dst\n');
});

SA('skips SAs a PF_KEY dump does not carry (other protocols) and does not number them', () => {
  const n = records([sa({ ...espTunnel }), sa({ ...espTunnel, proto: 43 /* IPPROTO_ROUTING */ }), ahTransport]);
  assert.is(countSetkeySAs(0, n), 2);
  const text = formatSetkeySAs(0, n, opts).toString('latin1');
  assert.match(text, /\tsadb_seq=1 pid=4242 refcnt=0\n10\.0\.0\.1 /);
  assert.match(text, /\tsadb_seq=0 pid=4242 refcnt=0\n$/);
});

SA('formats a dump in chunks exactly as in one piece when given firstSeq and total', () => {
  const n = records([espTunnel, ahTransport, ipcomp, natt]);
  const whole = formatSetkeySAs(0, n, opts).toString('latin1');
  const total = countSetkeySAs(0, n);
  const a = formatSetkeySAs(0, 2, { ...opts, firstSeq: 1, total }).toString('latin1');
  const b = formatSetkeySAs(2, n, { ...opts, firstSeq: 1 + countSetkeySAs(0, 2), total }).toString('latin1');
  assert.is(a + b, whole);
});

SA('prints nothing for an empty range; the CLI prints the kernel\'s ENOENT text instead', () => {
  records([]);
  assert.is(formatSetkeySAs(0, 0, opts).length, 0);
  assert.is(SETKEY_NO_SAD, 'No SAD entries.\n');
  assert.is(SETKEY_NO_SPD, 'No SPD entries.\n');
});

SA('renders dates in the configured local time zone, following daylight saving time', () => {
  const saved = process.env.TZ;
  try {
    process.env.TZ = 'America/New_York';
    configureSetkeyFormat({ timezone: 'local' });
    const winter = 1795375912n;           // 2026-11-22 19:31:52 UTC = 14:31:52 EST
    const summer = 1784755912n;           // 2026-07-22 21:31:52 UTC = 17:31:52 EDT
    const n = records([sa({ ...espTunnel, cur: { addTime: winter, useTime: summer } })]);
    const text = formatSetkeySAs(0, n, opts).toString('latin1');
    assert.match(text, '\tcreated: Nov 22 14:31:52 2026\tcurrent: Nov 22 14:32:00 2026\n');
    assert.match(text, '\tlast: Jul 22 17:31:52 2026\t');
    configureSetkeyFormat({ timezone: 3600 });
    assert.match(formatSetkeySAs(0, n, opts).toString('latin1'), '\tcreated: Nov 22 20:31:52 2026\t');
  } finally {
    if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    configureSetkeyFormat({ timezone: 'utc', protocols: readFileSync(path.join(fixtures, 'protocols'), 'latin1') });
  }
});

// Speed belongs to `npm run bench` (the setkey -D rows); this checks a 100k-entry dump formats every entry
// with the seq numbering af_key gives (1, 2, …, and 0 for the last) in one call.
SA('formats 100k SAs in one call, every entry, seq counting as af_key does', () => {
  wasm().exports.resetAll();
  writeRecord(espTunnel);
  const w = wasm();
  const one = Buffer.from(w.view(L.REGION_RECORDS, 0, L.REC_SIZE));
  const count = 100_000;
  const ex = w.exports as unknown as { appendRegion(r: number, n: number): number };
  const off = ex.appendRegion(L.REGION_RECORDS, (count - 1) * L.REC_SIZE) >>> 0;
  const base = w.regionPtr(L.REGION_RECORDS);
  for (let i = 0; i < count - 1; i++) w.u8.set(one, base + off + i * L.REC_SIZE);
  const text = formatSetkeySAs(0, count, opts).toString('latin1');
  assert.is(text.split('\tesp mode=tunnel spi=4096(0x00001000)').length - 1, count);
  assert.ok(text.includes(`\tsadb_seq=${count - 1} pid=${PID} refcnt=0\n`), 'next-to-last entry numbered count-1');
  assert.match(text, new RegExp(`\\tsadb_seq=0 pid=${PID} refcnt=0\\n$`));
});

SA.run();

// ---------------------------------------------------------------------------------------------------------------
const SP = suite('formatSetkeySPs');

function tmpl(o: Partial<XfrmTemplate>): Partial<XfrmTemplate> {
  return { proto: L.IPPROTO_ESP, mode: L.XFRM_MODE_TRANSPORT, family: L.AF_INET, ...o };
}
function sp(o: XfrmRecordInput): XfrmRecordInput {
  return { kind: L.OP_SP_ADD, lft: LFT, cur: { addTime: CREATED }, ...o };
}
const be = (n: number): number => n; // selector ports are given in host order to writeRecord (it stores them big-endian)

function policies(): XfrmRecordInput[] {
  return [
    sp({ sel: { saddr: '10.0.0.0', daddr: '10.0.1.0', prefixlenS: 24, prefixlenD: 24 }, dir: L.XFRM_POLICY_OUT, priority: 0x80000000, index: 1,
      templates: [tmpl({ mode: L.XFRM_MODE_TUNNEL, saddr: '192.168.1.1', daddr: '192.168.1.2' })] }),
    sp({ sel: { saddr: '10.0.1.5', daddr: '10.0.0.5', prefixlenS: 32, prefixlenD: 32, proto: 6, dport: be(22), dportMask: 0xffff },
      dir: L.XFRM_POLICY_IN, priority: 0x7fffff9c, index: 8, lft: { ...LFT, hardAdd: 7200n, hardUse: 600n }, cur: { addTime: CREATED, useTime: CREATED + 3n },
      templates: [tmpl({ reqid: 5 }), tmpl({ proto: L.IPPROTO_AH })] }),
    sp({ sel: { saddr: '0.0.0.0', daddr: '0.0.0.0' }, dir: L.XFRM_POLICY_FWD, action: L.XFRM_POLICY_BLOCK, priority: 0xc0000005, index: 18 }),
    sp({ sel: { saddr: '192.0.2.0', daddr: '198.51.100.0', prefixlenS: 24, prefixlenD: 24, proto: 17, sport: be(53), sportMask: 0xffff },
      dir: L.XFRM_POLICY_OUT, priority: 0, index: 25, ctx: CTX }),
    sp({ sel: { saddr: '10.4.0.0', daddr: '10.5.0.0', prefixlenS: 16, prefixlenD: 16 }, dir: L.XFRM_POLICY_OUT, priority: 100, index: 33,
      templates: [tmpl({ mode: L.XFRM_MODE_TUNNEL, saddr: '192.0.2.1', daddr: '192.0.2.2', reqid: 16385 }), tmpl({ proto: L.IPPROTO_COMP, optional: 1 })] }),
    sp({ sel: { saddr: '10.0.0.0', daddr: '10.0.0.0', prefixlenS: 8, prefixlenD: 8, proto: 1, sport: be(8), sportMask: 0xffff, dport: 0, dportMask: 0xffff },
      dir: L.XFRM_POLICY_IN, action: L.XFRM_POLICY_BLOCK, priority: 0x40000005, index: 40 }),
    sp({ sel: { saddr: '2001:db8::', daddr: '2001:db8:1::', prefixlenS: 32, prefixlenD: 48, proto: 47, sport: 1, sportMask: 0xffff, dport: 2, dportMask: 0xffff },
      dir: L.XFRM_POLICY_OUT, priority: 0x80000000, index: 49, templates: [tmpl({ family: L.AF_INET6 })] }),
    sp({ sel: { saddr: '::1', daddr: '::1', prefixlenS: 128, prefixlenD: 128, proto: 58, sport: 135, sportMask: 0xffff },
      dir: L.XFRM_POLICY_IN, priority: 0x80000000, index: 56 }),
    sp({ sel: { family: L.AF_INET }, family: L.AF_INET, dir: 3, priority: 0, index: 59 }),
    sp({ sel: { saddr: '10.8.0.0', daddr: '10.8.0.0', prefixlenS: 16, prefixlenD: 16 }, dir: L.XFRM_POLICY_OUT, ptype: 1, index: 57 }),
    sp({ sel: { saddr: '10.9.0.1', daddr: '10.9.0.2', prefixlenS: 32, prefixlenD: 32 }, dir: L.XFRM_POLICY_OUT, priority: 0x80000000, index: 65,
      templates: [tmpl({ mode: L.XFRM_MODE_BEET })] }),
  ];
}

SP('prints every policy kind, priority form, level, selector form and per-socket policies of one dump', () => {
  const n = records(policies());
  assert.is(countSetkeySPs(0, n), n - 1);
  assert.fixture(formatSetkeySPs(0, n, opts).toString('latin1'), golden('sp-dump.txt'));
});

SP('prints tunnel endpoints with port 0 under -p', () => {
  const n = records(policies());
  assert.fixture(formatSetkeySPs(0, n, { ...opts, ports: true }).toString('latin1'), golden('sp-dump-ports.txt'));
});

SP('prints the number of a protocol /etc/protocols does not name, and nothing but numbers without the file', () => {
  const n = records([sp({ sel: { saddr: '10.0.0.1', daddr: '10.0.0.2', prefixlenS: 32, prefixlenD: 32, proto: 6 }, dir: L.XFRM_POLICY_OUT, index: 1 })]);
  try {
    configureSetkeyFormat({ timezone: 'utc', protocols: null });
    assert.match(formatSetkeySPs(0, n, opts).toString('latin1'), /^10\.0\.0\.1\[any\] 10\.0\.0\.2\[any\] 6\n\tout none\n/);
  } finally {
    configureSetkeyFormat({ timezone: 'utc', protocols: readFileSync(path.join(fixtures, 'protocols'), 'latin1') });
  }
});

SP('formats a policy dump in chunks exactly as in one piece', () => {
  const n = records(policies());
  const whole = formatSetkeySPs(0, n, opts).toString('latin1');
  const total = countSetkeySPs(0, n);
  const a = formatSetkeySPs(0, 5, { ...opts, total }).toString('latin1');
  const b = formatSetkeySPs(5, n, { ...opts, firstSeq: 1 + countSetkeySPs(0, 5), total }).toString('latin1');
  assert.is(a + b, whole);
});

SP.run();
