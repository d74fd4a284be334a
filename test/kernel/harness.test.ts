// test/kernel/harness.test.ts — kernel tier (runs inside the qemu VM of scripts/kernel-vm/run.mjs, KEYFLEET_IN_VM=1).
// Proves the VM is fit for the kernel tier: a stock Debian kernel with ESP/AH/IPComp, PF_KEY and the crypto that
// SAs name, each exercised in a fresh network namespace with `ip xfrm`, with the reference setkey 0.8.2 and with the
// native socket addon (src/native) speaking raw XFRM netlink and PF_KEY v2 bytes built here by hand.
// Kernel behaviour cited: net/xfrm/xfrm_user.c (XFRM netlink), net/key/af_key.c (PF_KEY v2, RFC 2367).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, XFRMA_ALG_AEAD,
  XFRMA_ALG_AUTH_TRUNC, XFRMA_ALG_COMP, XFRMA_ALG_CRYPT, XFRM_MSG_DELSA, XFRM_MSG_GETSA, XFRM_MSG_NEWSA,
} from '../../asm/shared/xfrm.js';
import { openNetlinkXfrm, openPfKey, type RawSocket } from '../../src/native/index.js';

// The reference setkey: shared/ sits beside the checkout (CI) or at /work/shared (developers).
const SETKEY = [process.env.KEYFLEET_REF_SETKEY, new URL('../../../../shared/tools/setkey/setkey', import.meta.url).pathname, '/work/shared/tools/setkey/setkey']
  .find((p): p is string => !!p && existsSync(p)) ?? '/work/shared/tools/setkey/setkey';
const KEY128 = '0x00112233445566778899aabbccddeeff';
const KEY256 = '0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const KEY160 = '0x00112233445566778899aabbccddeeff00112233';

interface Ran { status: number; stdout: string; stderr: string }

/** Runs a program; the first PF_KEY REGISTER of a boot probes every algorithm, so timeouts are generous. */
function run(cmd: string, args: string[], input?: string, timeoutMs = 180_000): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: input ?? '', timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like run, but a non-zero exit fails the test with the program's stderr. */
function ok(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  assert.is(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

let nsCount = 0;
/** Runs fn in a fresh, uniquely named netns (never the VM's root tables) and always deletes it. */
async function withNetns(fn: (ns: string) => void | Promise<void>): Promise<void> {
  const ns = `kf-${process.pid}-${nsCount++}`;
  ok('ip', ['netns', 'add', ns]);
  try { await fn(ns); } finally { run('ip', ['netns', 'del', ns]); }
}

const xfrm = (ns: string, ...args: string[]) => ok('ip', ['-n', ns, 'xfrm', ...args]);
const setkey = (ns: string, args: string[], input?: string) => run('ip', ['netns', 'exec', ns, SETKEY, ...args], input);

/** Adds one SA with `ip xfrm state add`, checks the dump shows `expect`, deletes it and checks the table is empty. */
function addDumpDelete(ns: string, id: string[], rest: string[], expect: string[]): void {
  xfrm(ns, 'state', 'add', ...id, ...rest);
  const dump = xfrm(ns, 'state', 'list');
  for (const e of expect) assert.ok(dump.includes(e), `dump lacks ${JSON.stringify(e)}:\n${dump}`);
  xfrm(ns, 'state', 'delete', ...id);
  assert.is(xfrm(ns, 'state', 'list'), '');
}

const vm = suite('kernel VM harness');

vm('runs inside the kernel VM on a stock Debian kernel', () => {
  assert.is(process.env.KEYFLEET_IN_VM, '1', 'run this tier with `node scripts/test.mjs kernel` (it boots the VM)');
  assert.match(ok('uname', ['-r']).trim(), /^\d+\.\d+\.\d+-\d+-amd64$/);
});

vm('has XFRM netlink, PF_KEY, ESP, AH and IPComp loaded, and modprobe works for the kernel', () => {
  const loaded = new Set(readFileSync('/proc/modules', 'utf8').split('\n').map((l) => l.split(' ')[0]));
  for (const m of ['xfrm_user', 'af_key', 'esp4', 'esp6', 'ah4', 'ah6', 'ipcomp', 'ipcomp6']) {
    assert.ok(loaded.has(m), `module ${m} is not loaded`);
  }
  assert.ok(existsSync('/proc/net/pfkey'), 'af_key registers /proc/net/pfkey');
  // The kernel's own module autoloading goes through /proc/sys/kernel/modprobe; tests may modprobe more (dummy, veth).
  assert.match(ok('modprobe', ['-n', '-v', 'dummy']), /dummy\.ko/);
});

vm('adds, dumps and deletes an ESP SA with cbc(aes) and hmac(sha256) via ip xfrm', () => withNetns((ns) => {
  addDumpDelete(ns, ['src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'esp', 'spi', '0x1001'],
    ['mode', 'tunnel', 'enc', 'cbc(aes)', KEY128, 'auth-trunc', 'hmac(sha256)', KEY256, '128'],
    ['proto esp spi 0x00001001 reqid 0 mode tunnel', `auth-trunc hmac(sha256) ${KEY256} 128`, `enc cbc(aes) ${KEY128}`]);
}));

vm('adds, dumps and deletes an ESP SA with rfc4106(gcm(aes)) via ip xfrm', () => withNetns((ns) => {
  addDumpDelete(ns, ['src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'esp', 'spi', '0x1002'],
    ['mode', 'transport', 'aead', 'rfc4106(gcm(aes))', `${KEY128}01020304`, '128'],
    ['proto esp spi 0x00001002 reqid 0 mode transport', `aead rfc4106(gcm(aes)) ${KEY128}01020304 128`]);
}));

vm('adds, dumps and deletes an AH SA with hmac(sha1) via ip xfrm', () => withNetns((ns) => {
  addDumpDelete(ns, ['src', 'fd00::1', 'dst', 'fd00::2', 'proto', 'ah', 'spi', '0x1003'],
    ['mode', 'transport', 'auth', 'hmac(sha1)', KEY160],
    ['proto ah spi 0x00001003 reqid 0 mode transport', `auth-trunc hmac(sha1) ${KEY160} 96`]);
}));

vm('adds, dumps and deletes an IPComp SA with deflate via ip xfrm', () => withNetns((ns) => {
  addDumpDelete(ns, ['src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'comp', 'spi', '0x1004'],
    ['mode', 'tunnel', 'comp', 'deflate'],
    ['proto comp spi 0x00001004 reqid 0 mode tunnel', 'comp deflate']);
}));

vm('opens a PF_KEY socket: setkey -D answers in a fresh netns', () => withNetns((ns) => {
  const r = setkey(ns, ['-D']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'No SAD entries.\n');
}));

vm('applies an ESP tunnel SA with the real setkey -c, shown by setkey -D and ip xfrm state', () => withNetns((ns) => {
  const add = setkey(ns, ['-c'],
    `add 10.0.0.1 10.0.0.2 esp 0x1000 -m tunnel -E aes-cbc ${KEY128} -A hmac-sha256 ${KEY256};\n`);
  assert.is(add.status, 0, add.stderr);
  assert.is(add.stderr, '');
  const d = setkey(ns, ['-D']);
  assert.is(d.status, 0, d.stderr);
  assert.match(d.stdout, /^10\.0\.0\.1 10\.0\.0\.2 \n\tesp mode=tunnel spi=4096\(0x00001000\) reqid=0\(0x00000000\)\n/);
  assert.ok(d.stdout.includes('\tE: aes-cbc  00112233 44556677 8899aabb ccddeeff\n'), d.stdout);
  assert.ok(d.stdout.includes('\tA: hmac-sha256  00112233 44556677 8899aabb ccddeeff 00112233 44556677 8899aabb ccddeeff\n'), d.stdout);
  const state = xfrm(ns, 'state');
  assert.ok(state.includes(`auth-trunc hmac(sha256) ${KEY256} 96`), state);
  assert.ok(state.includes(`enc cbc(aes) ${KEY128}`), state);
  // Flushing through PF_KEY empties the namespace's SAD.
  assert.is(setkey(ns, ['-F']).status, 0);
  assert.is(xfrm(ns, 'state'), '');
}));

// ---------------------------------------------------------------------------------------- native addon
// Messages are built by hand from the C structs (x86_64 layout) so these tests depend on the addon only.

const AF_INET = 2, AF_INET6 = 10;
const IPPROTO_ESP = 50, IPPROTO_AH = 51, IPPROTO_COMP = 108;
const XFRM_MODE_TRANSPORT = 0, XFRM_MODE_TUNNEL = 1;
const XFRM_INF = 0xffffffffffffffffn;
let seq = 1;

/** xfrm_address_t (16 bytes): an IPv4 address fills the first 4. */
function addr(a: string): Buffer {
  const b = Buffer.alloc(16);
  if (a.includes(':')) {
    const [head, tail = ''] = a.split('::');
    const h = head ? head.split(':') : [], t = tail ? tail.split(':') : [];
    const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  } else {
    a.split('.').forEach((o, i) => { b[i] = Number(o); });
  }
  return b;
}

/** struct nlattr (linux/netlink.h), padded to 4. */
function nla(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc((4 + payload.length + 3) & ~3);
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

/** struct nlmsghdr + payload. */
function nlmsg(type: number, flags: number, payload: Buffer): { buf: Buffer; seq: number } {
  const s = seq++;
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(s, 8);
  return { buf: Buffer.concat([h, payload]), seq: s };
}

/** The algorithm structs of linux/xfrm.h: char alg_name[64]; unsigned alg_key_len (bits); [u32 trunc/icv]; key. */
function algo(name: string, keyHex: string, extra?: number): Buffer {
  const key = Buffer.from(keyHex.replace(/^0x/, ''), 'hex');
  const head = Buffer.alloc(64 + 4 + (extra === undefined ? 0 : 4));
  head.write(name, 0, 'latin1');
  head.writeUInt32LE(key.length * 8, 64);
  if (extra !== undefined) head.writeUInt32LE(extra, 68);
  return Buffer.concat([head, key]);
}

interface SaSpec { src: string; dst: string; proto: number; spi: number; mode: number; attrs: Buffer[] }

/** struct xfrm_usersa_info (224 bytes): sel(56) id{daddr, spi be32, proto}(24) saddr(16) lft(64) curlft(32)
 *  stats(12) seq reqid family mode replay_window flags. Lifetimes unlimited as ip(8) sets them. */
function usersaInfo(sa: SaSpec): Buffer {
  const b = Buffer.alloc(224);
  const family = sa.dst.includes(':') ? AF_INET6 : AF_INET;
  addr(sa.dst).copy(b, 56);
  b.writeUInt32BE(sa.spi, 72);
  b[76] = sa.proto;
  addr(sa.src).copy(b, 80);
  for (let i = 0; i < 4; i++) b.writeBigUInt64LE(XFRM_INF, 96 + i * 8); // soft/hard byte and packet limits
  b.writeUInt16LE(family, 212);
  b[214] = sa.mode;
  return b;
}

/** struct xfrm_usersa_id (24 bytes): daddr, spi (be32), family, proto. */
function usersaId(sa: SaSpec): Buffer {
  const b = Buffer.alloc(24);
  addr(sa.dst).copy(b, 0);
  b.writeUInt32BE(sa.spi, 16);
  b.writeUInt16LE(sa.dst.includes(':') ? AF_INET6 : AF_INET, 20);
  b[22] = sa.proto;
  return b;
}

interface Msg { type: number; flags: number; seq: number; payload: Buffer }

/** Reads netlink messages until the one answering `s` ends the exchange (an ack/error, or NLMSG_DONE). */
function exchange(sock: RawSocket, m: { buf: Buffer; seq: number }): { error: number; msgs: Msg[] } {
  sock.send(m.buf);
  const msgs: Msg[] = [];
  for (;;) {
    const batch = sock.recvSync(60_000);
    assert.ok(batch.length > 0, `no reply to seq ${m.seq} within 60 s`);
    for (const d of batch) {
      for (let off = 0; off + 16 <= d.length;) {
        const len = d.readUInt32LE(off);
        const msg = { type: d.readUInt16LE(off + 4), flags: d.readUInt16LE(off + 6), seq: d.readUInt32LE(off + 8), payload: d.subarray(off + 16, off + len) };
        off += (len + 3) & ~3;
        if (msg.seq !== m.seq) continue;
        if (msg.type === NLMSG_ERROR) return { error: msg.payload.readInt32LE(0), msgs };
        if (msg.type === NLMSG_DONE) return { error: 0, msgs };
        msgs.push(msg);
      }
    }
  }
}

/** The attributes after struct xfrm_usersa_info in a NEWSA dump message, by type. */
function saAttrs(payload: Buffer): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  for (let off = 224; off + 4 <= payload.length;) {
    const len = payload.readUInt16LE(off);
    attrs.set(payload.readUInt16LE(off + 2) & 0x3fff, payload.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return attrs;
}

const algName = (a: Buffer | undefined) => (a ? a.subarray(0, 64).toString('latin1').replace(/\0.*$/s, '') : '');

function dumpSas(sock: RawSocket): Msg[] {
  const r = exchange(sock, nlmsg(XFRM_MSG_GETSA, NLM_F_REQUEST | NLM_F_DUMP, Buffer.alloc(0)));
  assert.is(r.error, 0);
  return r.msgs.filter((m) => m.type === XFRM_MSG_NEWSA);
}

/** Adds sa over NETLINK_XFRM, checks the dump, lets `check` look at its attributes, deletes it, checks it is gone. */
function nativeAddDumpDelete(ns: string, sa: SaSpec, check: (attrs: Map<number, Buffer>) => void): void {
  const sock = openNetlinkXfrm({ netns: ns });
  try {
    const add = exchange(sock, nlmsg(XFRM_MSG_NEWSA, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
      Buffer.concat([usersaInfo(sa), ...sa.attrs])));
    assert.is(add.error, 0, `XFRM_MSG_NEWSA failed with errno ${-add.error}`);
    // A tunnel-mode IPComp SA brings a companion IPIP SA (proto 4) for uncompressed packets
    // (net/ipv4/ipcomp.c ipcomp_tunnel_attach); it goes away with the IPComp SA.
    const sas = dumpSas(sock).filter((m) => m.payload[76] === sa.proto);
    assert.is(sas.length, 1);
    const p = sas[0]!.payload;
    assert.is(p.readUInt32BE(72), sa.spi);
    assert.is(p[76], sa.proto);
    assert.is(p[214], sa.mode);
    check(saAttrs(p));
    const del = exchange(sock, nlmsg(XFRM_MSG_DELSA, NLM_F_REQUEST | NLM_F_ACK, usersaId(sa)));
    assert.is(del.error, 0, `XFRM_MSG_DELSA failed with errno ${-del.error}`);
    assert.is(dumpSas(sock).length, 0);
  } finally {
    sock.close();
  }
}

vm('adds, dumps and deletes an ESP SA with cbc(aes) and hmac(sha256) through the native XFRM socket', () => withNetns((ns) => {
  nativeAddDumpDelete(ns, {
    src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO_ESP, spi: 0x2001, mode: XFRM_MODE_TUNNEL,
    attrs: [nla(XFRMA_ALG_CRYPT, algo('cbc(aes)', KEY128)), nla(XFRMA_ALG_AUTH_TRUNC, algo('hmac(sha256)', KEY256, 128))],
  }, (attrs) => {
    assert.is(algName(attrs.get(XFRMA_ALG_CRYPT)), 'cbc(aes)');
    const auth = attrs.get(XFRMA_ALG_AUTH_TRUNC);
    assert.is(algName(auth), 'hmac(sha256)');
    assert.is(auth!.readUInt32LE(68), 128);
    assert.is(`0x${auth!.subarray(72, 104).toString('hex')}`, KEY256);
  });
  // ip(8) reads back what the addon wrote: the same state, in the same namespace.
}));

vm('adds, dumps and deletes ESP rfc4106(gcm(aes)), AH and IPComp SAs through the native XFRM socket', () => withNetns((ns) => {
  nativeAddDumpDelete(ns, {
    src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO_ESP, spi: 0x2002, mode: XFRM_MODE_TRANSPORT,
    attrs: [nla(XFRMA_ALG_AEAD, algo('rfc4106(gcm(aes))', `${KEY128}01020304`, 128))],
  }, (attrs) => {
    const aead = attrs.get(XFRMA_ALG_AEAD);
    assert.is(algName(aead), 'rfc4106(gcm(aes))');
    assert.is(aead!.readUInt32LE(64), 160);
    assert.is(aead!.readUInt32LE(68), 128);
  });
  nativeAddDumpDelete(ns, {
    src: 'fd00::1', dst: 'fd00::2', proto: IPPROTO_AH, spi: 0x2003, mode: XFRM_MODE_TRANSPORT,
    attrs: [nla(XFRMA_ALG_AUTH_TRUNC, algo('hmac(sha1)', KEY160, 96))],
  }, (attrs) => {
    assert.is(algName(attrs.get(XFRMA_ALG_AUTH_TRUNC)), 'hmac(sha1)');
    assert.is(attrs.get(XFRMA_ALG_AUTH_TRUNC)!.readUInt32LE(68), 96);
  });
  nativeAddDumpDelete(ns, {
    src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO_COMP, spi: 0x2004, mode: XFRM_MODE_TUNNEL,
    attrs: [nla(XFRMA_ALG_COMP, algo('deflate', ''))],
  }, (attrs) => {
    assert.is(algName(attrs.get(XFRMA_ALG_COMP)), 'deflate');
  });
}));

// PF_KEY v2 (RFC 2367, linux/pfkeyv2.h): struct sadb_msg { u8 version, type, errno, satype; u16 len (8-byte
// units); u16 reserved; u32 seq, pid; } then extensions { u16 len, exttype; ... }.
const PF_KEY_V2 = 2, SADB_DUMP = 10, SADB_SATYPE_UNSPEC = 0, SADB_SATYPE_ESP = 3, SADB_EXT_SA = 1;
const SADB_AALG_SHA2_256HMAC = 5, SADB_X_EALG_AESCBC = 12;

function sadbMsg(type: number, satype: number, s: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = PF_KEY_V2; b[1] = type; b[3] = satype;
  b.writeUInt16LE(2, 4);
  b.writeUInt32LE(s, 8);
  b.writeUInt32LE(process.pid, 12);
  return b;
}

/** All PF_KEY datagrams answering seq `s`, until the dump's last (seq 0 in sadb_msg_seq ends a dump: af_key.c). */
function pfkeyDump(sock: RawSocket): Buffer[] {
  const s = seq++;
  sock.send(sadbMsg(SADB_DUMP, SADB_SATYPE_UNSPEC, s));
  const replies: Buffer[] = [];
  for (;;) {
    const batch = sock.recvSync(120_000);
    assert.ok(batch.length > 0, 'no PF_KEY reply within 120 s');
    for (const d of batch) {
      if (d[1] !== SADB_DUMP || d.readUInt32LE(12) !== process.pid) continue;
      replies.push(d);
      if (d[2] !== 0 || d.readUInt32LE(8) === 0) return replies;
    }
  }
}

vm('opens a PF_KEY socket through the native addon and dumps an SA that XFRM netlink added', () => withNetns((ns) => {
  const pk = openPfKey({ netns: ns });
  try {
    const empty = pfkeyDump(pk);
    assert.is(empty.length, 1);
    assert.is(empty[0]![2], 2, 'an empty SAD answers SADB_DUMP with sadb_msg_errno ENOENT');
    xfrm(ns, 'state', 'add', 'src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'esp', 'spi', '0x3001', 'mode', 'tunnel',
      'enc', 'cbc(aes)', KEY128, 'auth-trunc', 'hmac(sha256)', KEY256, '128');
    const dump = pfkeyDump(pk);
    assert.is(dump.length, 1);
    const d = dump[0]!;
    assert.is(d[2], 0);
    assert.is(d[3], SADB_SATYPE_ESP);
    assert.is(d.readUInt16LE(4) * 8, d.length);
    let sa: Buffer | undefined;
    for (let off = 16; off + 4 <= d.length; off += d.readUInt16LE(off) * 8) {
      if (d.readUInt16LE(off + 2) === SADB_EXT_SA) sa = d.subarray(off, off + 16);
      if (d.readUInt16LE(off) === 0) break;
    }
    assert.ok(sa, 'the dump carries an SA extension');
    // struct sadb_sa { u16 len, exttype; u32 spi (network order); u8 replay, state, auth, encrypt; u32 flags; }
    assert.is(sa!.readUInt32BE(4), 0x3001);
    assert.is(sa![10], SADB_AALG_SHA2_256HMAC);
    assert.is(sa![11], SADB_X_EALG_AESCBC);
  } finally {
    pk.close();
  }
}));

vm.run();
