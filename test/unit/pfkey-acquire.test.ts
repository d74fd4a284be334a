// test/unit/pfkey-acquire.test.ts — XFRM_MSG_ACQUIRE → the SADB_ACQUIRE af_key broadcasts (layer: tests): the
// composer of asm/src/pfkey-encode.ts (pfkey_send_acquire, dump_ah_combs/dump_esp_combs of net/key/af_key.c 6.1)
// fed a hand-built acquire laid out as xfrm_user's build_acquire does, and the /proc/crypto availability reader.
// The comparison with af_key's own broadcast for real acquires is test/kernel/pfkey-acquire.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wasm } from '../../src/wasm/index.js';
import { xfrmEventsAsPfkey, algAvailability } from '../../src/cli/setkey-pfkey.js';
import * as X from '../../asm/shared/xfrm.js';
import * as P from '../../asm/shared/pfkey.js';
import { KALG_NAME, KALG_ID, KALG_KIND } from '../../asm/shared/algorithms.js';

/** struct nlmsghdr + xfrm_user_acquire (280) + XFRMA_TMPL with one xfrm_user_tmpl (64), IPv4 10.9.0.1 → daddr. */
function acquire(proto: number, seq: number, aalgos: number, ealgos: number): Buffer {
  const b = Buffer.alloc(16 + 280 + 4 + 64);
  b.writeUInt32LE(b.length, 0); b.writeUInt16LE(X.XFRM_MSG_ACQUIRE, 4);
  const p = 16;
  b.set([10, 9, 0, 2], p); b[p + 20] = proto; // id: daddr, proto
  b.set([10, 9, 0, 1], p + 24); // saddr
  b.set([10, 9, 0, 2], p + 40); b.set([10, 9, 0, 1], p + 56); b.writeUInt16LE(2, p + 40 + 40); b[p + 40 + 42] = 32; b[p + 40 + 43] = 32;
  b.writeUInt32LE(7, p + 96 + 152); b.writeUInt32LE(0x1a9, p + 96 + 156); b[p + 96 + 160] = 1; // priority, index, dir out
  b.writeUInt32LE(aalgos, p + 264); b.writeUInt32LE(ealgos, p + 268); b.writeUInt32LE(0xffffffff, p + 272); b.writeUInt32LE(seq, p + 276);
  b.writeUInt16LE(68, p + 280); b.writeUInt16LE(X.XFRMA_TMPL, p + 282); b[p + 284 + 20] = proto; b.writeUInt16LE(2, p + 284 + 24);
  return b;
}
const idx = (name: string): number => KALG_NAME.indexOf(name);
const bits = (...names: string[]): number => names.reduce((a, n) => (a | (1 << idx(n))) >>> 0, 0);

test('an ESP acquire becomes SADB_ACQUIRE: addresses, outbound policy id/priority, one comb per enc × auth pair', () => {
  wasm().exports.resetAll();
  const avail = bits('hmac(sha1)', 'hmac(sha256)', 'cbc(aes)', 'cbc(des3_ede)', 'cbc(twofish)', 'digest_null');
  const [m, ...rest] = xfrmEventsAsPfkey(acquire(50, 0x1234, 0xffffffff, 0xffffffff), () => avail);
  assert.is(rest.length, 0, 'BROADCAST_REGISTERED: a promiscuous socket gets it once');
  assert.equal([m![P.MSG_VERSION], m![P.MSG_TYPE], m![P.MSG_SATYPE], m!.readUInt32LE(P.MSG_SEQ), m!.readUInt32LE(P.MSG_PID)],
    [2, P.SADB_ACQUIRE, P.SADB_SATYPE_ESP, 0x1234, 0]);
  assert.is(m!.readUInt16LE(P.MSG_LEN) * 8, m!.length);
  let e = 16;
  const exts: number[] = [];
  const at: Record<number, number> = {};
  while (e < m!.length) { const t = m!.readUInt16LE(e + 2); exts.push(t); at[t] = e; e += m!.readUInt16LE(e) * 8; }
  assert.equal(exts, [P.SADB_EXT_ADDRESS_SRC, P.SADB_EXT_ADDRESS_DST, P.SADB_X_EXT_POLICY, P.SADB_EXT_PROPOSAL]);
  const src = at[P.SADB_EXT_ADDRESS_SRC]!, dst = at[P.SADB_EXT_ADDRESS_DST]!, pol = at[P.SADB_X_EXT_POLICY]!, prop = at[P.SADB_EXT_PROPOSAL]!;
  assert.equal([m![src + 4], m![src + 5], [...m!.subarray(src + 12, src + 16)]], [0, 32, [10, 9, 0, 1]]);
  assert.equal([...m!.subarray(dst + 12, dst + 16)], [10, 9, 0, 2]);
  assert.equal([m!.readUInt16LE(pol + 4), m![pol + 6], m!.readUInt32LE(pol + 8), m!.readUInt32LE(pol + 12)], [P.IPSEC_POLICY_IPSEC, 2, 0x1a9, 7]);
  // cbc(twofish) (id 253) and digest_null (251) do not fit the templates' u32 bitmaps: never offered
  const combs: Array<[number, number]> = [];
  for (let c = prop + P.PROP_SIZE; c < prop + m!.readUInt16LE(prop) * 8; c += P.COMB_SIZE) combs.push([m![c + P.COMB_ENCRYPT]!, m![c + P.COMB_AUTH]!]);
  assert.is(m![prop + P.PROP_REPLAY], 32);
  // kernel table order, encryption outer: 3des (3) before aes (12); sha1 (3) before sha256 (5)
  assert.equal(combs, [[3, 3], [3, 5], [12, 3], [12, 5]]);
  const c0 = prop + P.PROP_SIZE;
  assert.equal([m!.readUInt16LE(c0 + P.COMB_AUTH_MINBITS), m!.readUInt16LE(c0 + P.COMB_ENCRYPT_MAXBITS),
    Number(m!.readBigUInt64LE(c0 + P.COMB_HARD_ADDTIME)), Number(m!.readBigUInt64LE(c0 + P.COMB_SOFT_USETIME))], [160, 192, 86400, 25200]);
});

test('an AH acquire offers the available authentication algorithms the template allows, nothing else', () => {
  wasm().exports.resetAll();
  const avail = bits('hmac(md5)', 'hmac(sha1)', 'hmac(sha512)', 'cbc(aes)');
  const allowed = (1 << 2) | (1 << 7); // template: hmac-md5 and hmac-sha512 only
  const [m] = xfrmEventsAsPfkey(acquire(51, 9, allowed, 0), () => avail);
  assert.equal([m![P.MSG_TYPE], m![P.MSG_SATYPE]], [P.SADB_ACQUIRE, P.SADB_SATYPE_AH]);
  const prop = m!.length - (P.PROP_SIZE + 2 * P.COMB_SIZE); // the proposal is last: two combs
  assert.is(m!.readUInt16LE(prop + 2), P.SADB_EXT_PROPOSAL);
  const c = prop + P.PROP_SIZE;
  assert.equal([m![c + P.COMB_AUTH], m![c + P.COMB_ENCRYPT], m![c + P.COMB_SIZE + P.COMB_AUTH]], [2, 0, 7]);
});

test('with nothing available the proposal is empty (af_key before any probe)', () => {
  wasm().exports.resetAll();
  const [m] = xfrmEventsAsPfkey(acquire(50, 1, 0xffffffff, 0xffffffff), () => 0);
  assert.is(m!.readUInt16LE(m!.length - P.PROP_SIZE + 2), P.SADB_EXT_PROPOSAL);
  assert.is(m!.readUInt16LE(m!.length - P.PROP_SIZE), 1);
});

test('availability is read from /proc/crypto names (bit i = KALG entry i)', () => {
  const text = 'name         : hmac(sha1)\ndriver       : hmac(sha1-generic)\n\nname         : cbc(aes)\ndriver       : cbc-aes-aesni\n\nname         : sha1\n';
  assert.is(algAvailability(text), bits('hmac(sha1)', 'cbc(aes)'));
  assert.is(algAvailability(''), 0);
  assert.ok(KALG_NAME.length <= 32 && KALG_ID.length === KALG_KIND.length);
});

test.run();
