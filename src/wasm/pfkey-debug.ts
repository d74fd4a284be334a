// src/wasm/pfkey-debug.ts — libipsec's kdebug_sadb() in TypeScript (layer: asm bindings, formatting only): the
// message trace setkey prints for -v and -x (ipsec-tools 0.8.2 src/libipsec/key_debug.c), line for line. Not a
// hot path (one message at a time, for a human), so it reads the bytes directly instead of going through wasm.
// Struct offsets come from asm/shared/pfkey.ts. The two bugs of the original that change its output are kept:
// sadb_ext_len (64-bit words) is compared with the remaining BYTES, and a key is dumped from 64 bytes past its
// extension header (`key + sizeof(struct sadb_key)` on a struct pointer); bytes past the message read as 0.
import * as P from '../../asm/shared/pfkey.js';

type Out = (s: string) => void;

function hexdump(out: Out, b: Buffer, off: number, len: number): void {
  let s = '';
  for (let i = 0; i < len; i++) {
    if (i !== 0 && i % 32 === 0) s += '\n';
    if (i % 4 === 0) s += ' ';
    const at = off + i;
    s += (at >= 0 && at < b.length ? b[at]! : 0).toString(16).padStart(2, '0');
  }
  out(s);
}

function u8(b: Buffer, o: number): number { return o < b.length ? b[o]! : 0; }
function u16(b: Buffer, o: number): number { return o + 2 <= b.length ? b.readUInt16LE(o) : 0; }
function u16be(b: Buffer, o: number): number { return o + 2 <= b.length ? b.readUInt16BE(o) : 0; }
function u32(b: Buffer, o: number): number { return o + 4 <= b.length ? b.readUInt32LE(o) : 0; }
function u32be(b: Buffer, o: number): number { return o + 4 <= b.length ? b.readUInt32BE(o) : 0; }
function hex8(v: number): string { return (v >>> 0).toString(16).padStart(8, '0'); }

/** sysdep_sa_len (libpfkey.h, Linux): inet6 28, everything else 16. */
function saLen(b: Buffer, o: number): number { return u16(b, o) === 10 ? P.SIN6_SIZE : P.SIN_SIZE; }

function sockaddr(out: Out, b: Buffer, o: number): void {
  const fam = u16(b, o);
  out(`sockaddr{ len=${saLen(b, o)} family=${fam}`);
  if (fam === 2) {
    out(` port=${u16be(b, o + P.SIN_PORT)}\n`);
    hexdump(out, b, o + P.SIN_ADDR, 4);
  } else if (fam === 10) {
    out(` port=${u16be(b, o + P.SIN_PORT)}\n`);
    out(`  flowinfo=0x${hex8(u32(b, o + P.SIN6_FLOWINFO))}, scope_id=0x${hex8(u32(b, o + P.SIN6_SCOPE_ID))}\n`);
    hexdump(out, b, o + P.SIN6_ADDR, 16);
  }
  out('  }\n');
}

function extension(out: Out, b: Buffer, e: number): boolean {
  const type = u16(b, e + P.EXT_TYPE);
  switch (type) {
    case P.SADB_EXT_SA:
      out(`sadb_sa{ spi=${u32be(b, e + P.SA_SPI)} replay=${u8(b, e + P.SA_REPLAY)} state=${u8(b, e + P.SA_STATE)}\n`);
      out(`  auth=${u8(b, e + P.SA_AUTH)} encrypt=${u8(b, e + P.SA_ENCRYPT)} flags=0x${hex8(u32(b, e + P.SA_FLAGS))} }\n`);
      return true;
    case P.SADB_EXT_LIFETIME_CURRENT: case P.SADB_EXT_LIFETIME_HARD: case P.SADB_EXT_LIFETIME_SOFT:
      out(`sadb_lifetime{ alloc=${u32(b, e + P.LT_ALLOCATIONS)}, bytes=${u32(b, e + P.LT_BYTES)}\n`);
      out(`  addtime=${u32(b, e + P.LT_ADDTIME)}, usetime=${u32(b, e + P.LT_USETIME)} }\n`);
      return true;
    case P.SADB_EXT_ADDRESS_SRC: case P.SADB_EXT_ADDRESS_DST: case P.SADB_EXT_ADDRESS_PROXY: case P.SADB_X_EXT_NAT_T_OA:
      out(`sadb_address{ proto=${u8(b, e + P.ADDR_PROTO)} prefixlen=${u8(b, e + P.ADDR_PREFIXLEN)} reserved=0x`
        + `${u8(b, e + P.ADDR_RESERVED).toString(16).padStart(2, '0')}${u8(b, e + P.ADDR_RESERVED + 1).toString(16).padStart(2, '0')} }\n`);
      sockaddr(out, b, e + P.ADDR_SIZE);
      return true;
    case P.SADB_EXT_KEY_AUTH: case P.SADB_EXT_KEY_ENCRYPT: {
      const bits = u16(b, e + P.KEY_BITS);
      out(`sadb_key{ bits=${bits} reserved=${u16(b, e + P.KEY_RESERVED)}\n`);
      out('  key=');
      const room = u16(b, e + P.EXT_LEN) * P.PFKEY_UNIT - P.KEY_SIZE;
      if (bits >> 3 > room) out(`kdebug_sadb_key: key length mismatch, bit:${bits >> 3} len:${room}.\n`);
      hexdump(out, b, e + P.KEY_SIZE * P.KEY_SIZE, bits >> 3);
      out(' }\n');
      return true;
    }
    case P.SADB_EXT_IDENTITY_SRC: case P.SADB_EXT_IDENTITY_DST: {
      const len = u16(b, e + P.EXT_LEN) * P.PFKEY_UNIT - P.IDENT_SIZE;
      out(`sadb_ident_${type === P.SADB_EXT_IDENTITY_SRC ? 'src' : 'dst'}{`);
      out(` type=${(u16(b, e + P.IDENT_TYPE) << 16) >> 16} id=${b.length >= e + 16 ? b.readBigUInt64LE(e + P.IDENT_ID) : 0n}`);
      if (len) {
        let s = '\n  str="';
        for (let p = e + P.IDENT_SIZE; p < e + P.IDENT_SIZE + len && u8(b, p) !== 0; p++) {
          const c = u8(b, p);
          s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`;
        }
        out(`${s}"`);
      }
      out(' }\n');
      return true;
    }
    case P.SADB_EXT_SENSITIVITY: case P.SADB_EXT_SPIRANGE: case P.SADB_X_EXT_KMPRIVATE:
      return true;
    case P.SADB_EXT_PROPOSAL: {
      const n = Math.floor((u16(b, e + P.EXT_LEN) * P.PFKEY_UNIT - P.PROP_SIZE) / P.COMB_SIZE);
      out(`sadb_prop{ replay=${u8(b, e + P.PROP_REPLAY)}\n`);
      for (let i = 0, c = e + P.PROP_SIZE; i < n; i++, c += P.COMB_SIZE) {
        const q = (o: number): bigint => (c + o + 8 <= b.length ? b.readBigUInt64LE(c + o) : 0n);
        out(`sadb_comb{ auth=${u8(b, c + P.COMB_AUTH)} encrypt=${u8(b, c + P.COMB_ENCRYPT)} flags=0x${u16(b, c + P.COMB_FLAGS).toString(16).padStart(4, '0')} reserved=0x${hex8(u32(b, c + P.COMB_RESERVED))}\n`);
        out(`  auth_minbits=${u16(b, c + P.COMB_AUTH_MINBITS)} auth_maxbits=${u16(b, c + P.COMB_AUTH_MAXBITS)} encrypt_minbits=${u16(b, c + P.COMB_ENCRYPT_MINBITS)} encrypt_maxbits=${u16(b, c + P.COMB_ENCRYPT_MAXBITS)}\n`);
        out(`  soft_alloc=${u32(b, c + P.COMB_SOFT_ALLOCATIONS)} hard_alloc=${u32(b, c + P.COMB_HARD_ALLOCATIONS)} soft_bytes=${q(P.COMB_SOFT_BYTES)} hard_bytes=${q(P.COMB_HARD_BYTES)}\n`);
        // (sic) libipsec key_debug.c kdebug_sadb_prop prints the time fields under the allocation/bytes labels
        out(`  soft_alloc=${q(P.COMB_SOFT_ADDTIME)} hard_alloc=${q(P.COMB_HARD_ADDTIME)} soft_bytes=${q(P.COMB_SOFT_USETIME)} hard_bytes=${q(P.COMB_HARD_USETIME)} }\n`);
      }
      out('}\n');
      return true;
    }
    case P.SADB_EXT_SUPPORTED_AUTH: case P.SADB_EXT_SUPPORTED_ENCRYPT: {
      const n = Math.floor((u16(b, e + P.EXT_LEN) * P.PFKEY_UNIT - P.SUPPORTED_SIZE) / P.ALGD_SIZE);
      out('sadb_sup{\n');
      for (let i = 0, a = e + P.SUPPORTED_SIZE; i < n; i++, a += P.ALGD_SIZE) {
        out(`  { id=${u8(b, a + P.ALGD_ID)} ivlen=${u8(b, a + P.ALGD_IVLEN)} min=${u16(b, a + P.ALGD_MINBITS)} max=${u16(b, a + P.ALGD_MAXBITS)} }\n`);
      }
      out('}\n');
      return true;
    }
    case P.SADB_X_EXT_POLICY: {
      const ptype = u16(b, e + P.POL_TYPE);
      out(`sadb_x_policy{ type=${ptype} dir=${u8(b, e + P.POL_DIR)} id=${u32(b, e + P.POL_ID).toString(16)} priority=${u32(b, e + P.POL_PRIORITY)} }\n`);
      if (ptype === P.IPSEC_POLICY_IPSEC) {
        let tlen = u16(b, e + P.EXT_LEN) * P.PFKEY_UNIT - P.POL_SIZE;
        let q = e + P.POL_SIZE;
        while (tlen > 0) {
          const len = u16(b, q + P.IRQ_LEN);
          out(` { len=${len} proto=${u16(b, q + P.IRQ_PROTO)} mode=${u8(b, q + P.IRQ_MODE)} level=${u8(b, q + P.IRQ_LEVEL)} reqid=${u32(b, q + P.IRQ_REQID)}\n`);
          if (len > P.IRQ_SIZE) {
            const a = q + P.IRQ_SIZE;
            sockaddr(out, b, a);
            sockaddr(out, b, a + saLen(b, a));
          }
          out(' }\n');
          if (len === 0) { out('kdebug_sadb_x_policy: wrong policy struct.\n'); return true; }
          if (len > tlen) { out('invalid ipsec policy length\n'); return true; }
          tlen -= len;
          q += len;
        }
      }
      return true;
    }
    case P.SADB_X_EXT_SA2:
      out(`sadb_x_sa2{ mode=${u8(b, e + P.SA2_MODE)} reqid=${u32(b, e + P.SA2_REQID)}\n`);
      out(`  reserved1=${u8(b, e + P.SA2_RESERVED1)} reserved2=${u16(b, e + P.SA2_RESERVED2)} sequence=${u32(b, e + P.SA2_SEQUENCE)} }\n`);
      return true;
    case P.SADB_X_EXT_NAT_T_TYPE:
      out(`sadb_x_nat_t_type{ type=${u8(b, e + P.NATT_TYPE)} }\n`);
      return true;
    case P.SADB_X_EXT_NAT_T_SPORT: case P.SADB_X_EXT_NAT_T_DPORT:
      out(`sadb_x_nat_t_port{ port=${u16be(b, e + P.NATT_PORT)} }\n`);
      return true;
    case P.SADB_X_EXT_KMADDRESS:
      out(`sadb_x_kmaddress{ reserved=0x${[4, 5, 6, 7].map((i) => u8(b, e + i).toString(16).padStart(2, '0')).join('')} }\n`);
      sockaddr(out, b, e + 8);
      sockaddr(out, b, e + 8 + saLen(b, e + 8));
      return true;
    default:
      // SADB_X_EXT_SEC_CTX and SADB_X_EXT_FILTER are unknown to 0.8.2's printer: it says so and stops
      out(`kdebug_sadb: invalid ext_type ${type} was passed.\n`);
      return false;
  }
}

/** kdebug_sadb(base): the text setkey -v / -x prints for one PF_KEY message. */
export function kdebugSadb(b: Buffer): string {
  let s = '';
  const out: Out = (t) => { s += t; };
  const len = u16(b, P.MSG_LEN);
  out(`sadb_msg{ version=${u8(b, P.MSG_VERSION)} type=${u8(b, P.MSG_TYPE)} errno=${u8(b, P.MSG_ERRNO)} satype=${u8(b, P.MSG_SATYPE)}\n`);
  out(`  len=${len} reserved=${u16(b, P.MSG_RESERVED)} seq=${u32(b, P.MSG_SEQ)} pid=${u32(b, P.MSG_PID)}\n`);
  let tlen = len * P.PFKEY_UNIT - P.MSG_SIZE;
  let e = P.MSG_SIZE;
  while (tlen > 0) {
    const elen = u16(b, e + P.EXT_LEN);
    out(`sadb_ext{ len=${elen} type=${u16(b, e + P.EXT_TYPE)} }\n`);
    if (elen === 0) { out('kdebug_sadb: invalid ext_len=0 was passed.\n'); return s; }
    if (elen > tlen) { out('kdebug_sadb: ext_len exceeds end of buffer.\n'); return s; }
    if (!extension(out, b, e)) return s;
    tlen -= elen * P.PFKEY_UNIT;
    e += elen * P.PFKEY_UNIT;
  }
  return s;
}

/** setkey's -H dump of a message (setkey.c sendkeymsg / promisc): "%08x: " every 16 bytes, "%02x " each. */
export function setkeyHexdump(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (i % 16 === 0) s += `${i.toString(16).padStart(8, '0')}: `;
    s += `${b[i]!.toString(16).padStart(2, '0')} `;
    if (i % 16 === 15) s += '\n';
  }
  if (b.length % 16) s += '\n';
  return s;
}
