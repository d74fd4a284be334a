// asm/src/pfkey-encode.ts — records → PF_KEY v2 requests (layer: asm). Owns pfkeyEncode: one message per record in
// REGION_OUTPUT (each a whole number of 64-bit words, back to back) and its record index in REGION_MAP, built the
// way ipsec-tools 0.8.2 builds them (src/setkey/parse.y setkeymsg0/_add/_addr/_spdaddr, setvarbuf;
// src/libipsec/policy_parse.y init_x_policy/set_x_request; setkey.c sendkeyshort), extension after extension in
// setkey's order, so that the bytes equal setkey's for the same statement apart from sadb_msg_pid and, outside SADB_ADD/UPDATE (seq 0 as setkey's), sadb_msg_seq.
import {
  REGION_RECORDS, REGION_BLOB, REGION_OUTPUT, REGION_MAP, REC_SIZE,
  R_KIND, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_SEL, SEL_DADDR, SEL_SADDR, SEL_DPORT, SEL_SPORT, SEL_FAMILY,
  SEL_PREFIXLEN_D, SEL_PREFIXLEN_S, SEL_PROTO, R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REQID, R_PRIORITY,
  R_INDEX, R_LFT, R_SEQ, LFT_SOFT_BYTE, LFT_HARD_BYTE, LFT_SOFT_ADD, LFT_HARD_ADD, R_ALG_AUTH, R_ALG_ENC, R_ALG_COMP,
  ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS, R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT, R_ENCAP_OA, R_CTX_DOI,
  R_CTX_ALG, R_CTX_OFF, R_CTX_LEN, R_TMPL_OFF, R_TMPL_COUNT, R_SPI_MIN, R_SPI_MAX, R_AUX, R_AUX2, R_SATYPE,
  R_SADB_MODE, R_SADB_FLAGS, R_SADB_SPORT, R_SADB_DPORT, R_SADB_AALG, R_SADB_EALG, RF_HAS_ENCAP, RF_HAS_CTX, RF_SETKEY, RF_HAS_LFT,
  RF_HAS_INDEX, RF_HAS_SEL, OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_GET, OP_SA_FLUSH, OP_SA_DUMP,
  OP_SA_ALLOCSPI, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE, OP_SP_GET, OP_SP_FLUSH, OP_SP_DUMP, TMPL_SIZE, T_DADDR,
  T_SADDR, T_PROTO, T_FAMILY, T_REQID, T_MODE, T_LEVEL, T_OPTIONAL, T_SPORT, T_DPORT, AF_INET6, IPPROTO_ESP,
  IPPROTO_AH, IPPROTO_COMP, XFRM_POLICY_BLOCK, XFRM_MODE_TUNNEL, XFRM_MODE_BEET, R_MSGTYPE, R_NLSEQ, R_NLPID, R_HARD,
  R_SAFLAGS, R_REPLAY, R_CUR, CUR_PACKETS, CUR_BYTES, CUR_ADD_TIME, CUR_USE_TIME, LFT_SOFT_PACKET, LFT_HARD_PACKET,
  LFT_SOFT_USE, LFT_HARD_USE, SEL_SPORT_MASK,
} from "../shared/layout";
import {
  XFRM_MSG_NEWSA as XFRM_EV_NEWSA, XFRM_MSG_UPDSA as XFRM_EV_UPDSA, XFRM_MSG_DELSA as XFRM_EV_DELSA,
  XFRM_MSG_EXPIRE as XFRM_EV_EXPIRE, XFRM_MSG_FLUSHSA as XFRM_EV_FLUSHSA, XFRM_MSG_NEWPOLICY as XFRM_EV_NEWPOLICY,
  XFRM_MSG_UPDPOLICY as XFRM_EV_UPDPOLICY, XFRM_MSG_DELPOLICY as XFRM_EV_DELPOLICY,
  XFRM_MSG_FLUSHPOLICY as XFRM_EV_FLUSHPOLICY, XFRM_MSG_ACQUIRE as XFRM_EV_ACQUIRE,
} from "../shared/xfrm";
import { SKX_LFT_HARD, SKX_LFT_SOFT, SKX_KEY_AUTH, SKX_KEY_ENC, SKX_NATT_OA } from "../shared/setkey-diag";
import { ALG_KIND_AUTH, ALG_KIND_ENC, ALG_KIND_COMP, KALG_KIND, KALG_ID, KALG_MINBITS, KALG_MAXBITS } from "../shared/algorithms";
import {
  PF_KEY_V2, PFKEY_UNIT, SADB_GETSPI, SADB_UPDATE, SADB_ADD, SADB_DELETE, SADB_GET, SADB_FLUSH, SADB_DUMP,
  SADB_X_SPDUPDATE, SADB_X_SPDADD, SADB_X_SPDDELETE, SADB_X_SPDGET, SADB_X_SPDDUMP, SADB_X_SPDFLUSH,
  SADB_X_SPDDELETE2, SADB_EXT_SA, SADB_EXT_LIFETIME_HARD, SADB_EXT_LIFETIME_SOFT, SADB_EXT_ADDRESS_SRC,
  SADB_EXT_ADDRESS_DST, SADB_EXT_KEY_AUTH, SADB_EXT_KEY_ENCRYPT, SADB_EXT_SPIRANGE, SADB_X_EXT_POLICY,
  SADB_X_EXT_SA2, SADB_X_EXT_NAT_T_TYPE, SADB_X_EXT_NAT_T_SPORT, SADB_X_EXT_NAT_T_DPORT, SADB_X_EXT_NAT_T_OA,
  SADB_X_EXT_SEC_CTX, SADB_EXT_LIFETIME_CURRENT, SADB_EXT_ADDRESS_PROXY, SADB_EXPIRE, SADB_SATYPE_AH, SADB_SATYPE_ESP, SADB_X_SATYPE_IPCOMP, IPSEC_MODE_TRANSPORT,
  IPSEC_MODE_TUNNEL, IPSEC_MODE_BEET, IPSEC_POLICY_DISCARD, IPSEC_POLICY_NONE, IPSEC_POLICY_IPSEC,
  IPSEC_LEVEL_USE, IPSEC_LEVEL_REQUIRE, IPSEC_ULPROTO_ANY,
  MSG_VERSION, MSG_TYPE, MSG_SATYPE, MSG_LEN, MSG_SEQ, MSG_PID, MSG_SIZE, EXT_LEN, EXT_TYPE, SA_SPI, SA_REPLAY,
  SA_AUTH, SA_ENCRYPT, SA_FLAGS, SA_SIZE, SA_STATE, LT_ALLOCATIONS, LT_USETIME, MSG_RESERVED, LT_BYTES, LT_ADDTIME, LT_SIZE, ADDR_PROTO, ADDR_PREFIXLEN, ADDR_SIZE,
  SIN_FAMILY, SIN_PORT, SIN_ADDR, SIN_SIZE, SIN6_ADDR, SIN6_SIZE, KEY_BITS, KEY_SIZE, SPIRANGE_MIN,
  SPIRANGE_MAX, SPIRANGE_SIZE, SA2_MODE, SA2_REQID, SA2_SIZE, POL_TYPE, POL_DIR, POL_ID, POL_PRIORITY, POL_SIZE,
  IRQ_LEN, IRQ_PROTO, IRQ_MODE, IRQ_LEVEL, IRQ_REQID, IRQ_SIZE, NATT_TYPE, NATT_TYPE_SIZE, NATT_PORT,
  NATT_PORT_SIZE, SECCTX_ALG, SECCTX_DOI, SECCTX_LEN, SECCTX_SIZE, PENC_NO_OA, SADB_ACQUIRE, SADB_EXT_PROPOSAL,
  PROP_REPLAY, PROP_SIZE, COMB_AUTH, COMB_ENCRYPT, COMB_AUTH_MINBITS, COMB_AUTH_MAXBITS, COMB_ENCRYPT_MINBITS,
  COMB_ENCRYPT_MAXBITS, COMB_SOFT_ADDTIME, COMB_HARD_ADDTIME, COMB_SOFT_USETIME, COMB_HARD_USETIME, COMB_SIZE,
} from "../shared/pfkey";
import { resetRegion, reserve, commit, regionPtr, regionLen, at, append } from "./arena";
import { pfkeyAlgId } from "./setkey-format";
import { bswap16, copy16 } from "./xfrm-wire";

let blob: usize = 0;
let blobLen: u32 = 0;
let cur: usize = 0;

// @ts-ignore: decorator
@inline function align8(n: u32): u32 { return (n + 7) & ~7; }
function inBlob(off: u32, len: u32): bool { return <u64>off + <u64>len <= <u64>blobLen; }

/** af_key pfkey_proto2satype() for records that carry no setkey satype. */
export function satypeOfProto(proto: u32): u32 {
  return proto == IPPROTO_AH ? SADB_SATYPE_AH : proto == IPPROTO_ESP ? SADB_SATYPE_ESP : proto == IPPROTO_COMP ? SADB_X_SATYPE_IPCOMP : 0;
}
function satypeOf(rec: usize): u32 {
  const s = <u32>load<u8>(rec + R_SATYPE);
  return s != 0 || (load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0 ? s : satypeOfProto(<u32>load<u8>(rec + R_PROTO));
}

/** setkeymsg0(): the base header; sadb_msg_len is fixed up by endMsg. */
function beginMsg(m: usize, type: u32, satype: u32, seq: u32, pid: u32): void {
  store<u8>(m + MSG_VERSION, PF_KEY_V2);
  store<u8>(m + MSG_TYPE, <u8>type);
  store<u8>(m + MSG_SATYPE, <u8>satype);
  store<u32>(m + MSG_SEQ, seq);
  store<u32>(m + MSG_PID, pid);
  cur = m + MSG_SIZE;
}
function endMsg(m: usize): u32 {
  const len = <u32>(cur - m);
  store<u16>(m + MSG_LEN, <u16>(len / PFKEY_UNIT));
  return len;
}
/** An extension of `size` fixed bytes (zeroed by the caller's fill); returns its address. */
function ext(type: u32, size: u32): usize {
  const e = cur;
  store<u16>(e + EXT_LEN, <u16>(align8(size) / PFKEY_UNIT));
  store<u16>(e + EXT_TYPE, <u16>type);
  cur += align8(size);
  return e;
}

/** A struct sockaddr_in / sockaddr_in6 at p (zeroed memory); returns its length (sysdep_sa_len). */
function sockaddr(p: usize, family: u32, addr: usize, portHost: u32): u32 {
  store<u16>(p + SIN_FAMILY, <u16>family);
  store<u16>(p + SIN_PORT, <u16>bswap16(portHost));
  if (family == AF_INET6) { copy16(p + SIN6_ADDR, addr); return SIN6_SIZE; }
  store<u32>(p + SIN_ADDR, load<u32>(addr));
  return SIN_SIZE;
}
/** struct sadb_address + sockaddr (setvarbuf: padded to 8). */
function address(type: u32, family: u32, addr: usize, portHost: u32, proto: u32, prefixlen: u32): void {
  const e = cur;
  const salen = sockaddr(e + ADDR_SIZE, family, addr, portHost);
  ext(type, ADDR_SIZE + salen);
  store<u8>(e + ADDR_PROTO, <u8>proto);
  store<u8>(e + ADDR_PREFIXLEN, <u8>prefixlen);
}
function fullPrefix(family: u32): u32 { return family == AF_INET6 ? 128 : 32; }

function key(type: u32, rec: usize, slot: u32): void {
  let bits = load<u32>(rec + slot + ALG_KEY_BITS);
  const off = load<u32>(rec + slot + ALG_KEY_OFF);
  let n = bits >>> 3;
  if (!inBlob(off, n)) { n = 0; bits = 0; }
  const e = ext(type, KEY_SIZE + n);
  store<u16>(e + KEY_BITS, <u16>bits);
  memory.copy(e + KEY_SIZE, blob + off, n);
}

function lifetime(type: u32, bytes: u64, addtime: u64): void {
  const e = ext(type, LT_SIZE);
  store<u64>(e + LT_BYTES, bytes == 0xffffffffffffffff ? 0 : bytes);
  store<u64>(e + LT_ADDTIME, addtime);
}

function secCtx(rec: usize): void {
  let n = load<u32>(rec + R_CTX_LEN);
  const off = load<u32>(rec + R_CTX_OFF);
  if (!inBlob(off, n)) n = 0;
  const e = ext(SADB_X_EXT_SEC_CTX, SECCTX_SIZE + n + 1); // setkey counts and sends the NUL
  store<u8>(e + SECCTX_ALG, load<u8>(rec + R_CTX_ALG));
  store<u8>(e + SECCTX_DOI, load<u8>(rec + R_CTX_DOI));
  store<u16>(e + SECCTX_LEN, <u16>(n + 1));
  memory.copy(e + SECCTX_SIZE, blob + off, n);
}

function sadbMode(rec: usize): u32 {
  if ((load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0) return <u32>load<u8>(rec + R_SADB_MODE);
  const m = <u32>load<u8>(rec + R_MODE);
  return m == XFRM_MODE_TUNNEL ? IPSEC_MODE_TUNNEL : m == XFRM_MODE_BEET ? IPSEC_MODE_BEET : IPSEC_MODE_TRANSPORT;
}

/** struct sadb_sa + struct sadb_x_sa2 (setkeymsg_add / setkeymsg_addr). */
function saAndSa2(rec: usize, satype: u32): void {
  const e = ext(SADB_EXT_SA, SA_SIZE);
  store<u32>(e + SA_SPI, load<u32>(rec + R_SPI)); // htonl(p_spi): R_SPI is already in network order
  const setkey = (load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0;
  store<u8>(e + SA_REPLAY, <u8>(setkey ? load<u32>(rec + R_AUX) : <u32>load<u8>(rec + R_AUX)));
  // setkey records carry the ids as written (even ones the kernel lacks: af_key answers ENOSYS); others map the
  // kernel algorithm name back through the one table (asm/shared/algorithms.ts)
  const aid = setkey ? <i32>load<u8>(rec + R_SADB_AALG) : pfkeyAlgId(rec, <i32>R_ALG_AUTH, ALG_KIND_AUTH);
  const eid = setkey ? <i32>load<u8>(rec + R_SADB_EALG)
    : satype == SADB_X_SATYPE_IPCOMP ? pfkeyAlgId(rec, <i32>R_ALG_COMP, ALG_KIND_COMP) : pfkeyAlgId(rec, <i32>R_ALG_ENC, ALG_KIND_ENC);
  store<u8>(e + SA_AUTH, <u8>aid);
  store<u8>(e + SA_ENCRYPT, <u8>eid);
  store<u32>(e + SA_FLAGS, setkey ? <u32>load<u16>(rec + R_SADB_FLAGS) : 0);
  const s2 = ext(SADB_X_EXT_SA2, SA2_SIZE);
  store<u8>(s2 + SA2_MODE, <u8>sadbMode(rec));
  store<u32>(s2 + SA2_REQID, load<u32>(rec + R_REQID));
}

function saAddresses(rec: usize): void {
  const fam = <u32>load<u8>(rec + R_FAMILY);
  const plen = fullPrefix(fam);
  address(SADB_EXT_ADDRESS_SRC, fam, rec + R_SADDR, <u32>load<u16>(rec + R_SADB_SPORT), IPSEC_ULPROTO_ANY, plen);
  address(SADB_EXT_ADDRESS_DST, fam, rec + R_DADDR, <u32>load<u16>(rec + R_SADB_DPORT), IPSEC_ULPROTO_ANY, plen);
}

/** parse.y setkeymsg_add(): keys, lifetimes, sec ctx, SA, SA2, NAT-T type (+OA), src, dst, NAT-T ports. */
function encodeAdd(rec: usize, m: usize, type: u32, seq: u32, pid: u32, flags: u32): u32 {
  const satype = satypeOf(rec);
  beginMsg(m, type, satype, seq, pid);
  const setkey = (load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0;
  const aux2 = load<u32>(rec + R_AUX2);
  const hasEncKey = setkey ? (aux2 & SKX_KEY_ENC) != 0 : load<u32>(rec + R_ALG_ENC + ALG_KEY_BITS) != 0;
  const hasAuthKey = setkey ? (aux2 & SKX_KEY_AUTH) != 0 : load<u32>(rec + R_ALG_AUTH + ALG_NAME_LEN) != 0;
  if (satype != SADB_X_SATYPE_IPCOMP && hasEncKey) key(SADB_EXT_KEY_ENCRYPT, rec, R_ALG_ENC);
  if (hasAuthKey) key(SADB_EXT_KEY_AUTH, rec, R_ALG_AUTH);
  const hasLft = (load<u32>(rec + R_FLAGS) & RF_HAS_LFT) != 0;
  if (setkey ? (aux2 & SKX_LFT_HARD) != 0 : hasLft) {
    lifetime(SADB_EXT_LIFETIME_HARD, load<u64>(rec + R_LFT + LFT_HARD_BYTE), load<u64>(rec + R_LFT + LFT_HARD_ADD));
  }
  if (setkey ? (aux2 & SKX_LFT_SOFT) != 0 : hasLft) {
    lifetime(SADB_EXT_LIFETIME_SOFT, load<u64>(rec + R_LFT + LFT_SOFT_BYTE), load<u64>(rec + R_LFT + LFT_SOFT_ADD));
  }
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_CTX) != 0) secCtx(rec);
  saAndSa2(rec, satype);
  const natt = (load<u32>(rec + R_FLAGS) & RF_HAS_ENCAP) != 0;
  if (natt) {
    const e = ext(SADB_X_EXT_NAT_T_TYPE, NATT_TYPE_SIZE);
    store<u8>(e + NATT_TYPE, <u8>load<u16>(rec + R_ENCAP_TYPE));
    if ((aux2 & SKX_NATT_OA) != 0 && (flags & PENC_NO_OA) == 0) {
      const fam = <u32>load<u8>(rec + R_FAMILY);
      address(SADB_X_EXT_NAT_T_OA, fam, rec + R_ENCAP_OA, 0, IPSEC_ULPROTO_ANY, fullPrefix(fam));
    }
  }
  saAddresses(rec);
  if (natt) {
    let e = ext(SADB_X_EXT_NAT_T_SPORT, NATT_PORT_SIZE);
    store<u16>(e + NATT_PORT, <u16>bswap16(<u32>load<u16>(rec + R_ENCAP_SPORT)));
    e = ext(SADB_X_EXT_NAT_T_DPORT, NATT_PORT_SIZE);
    store<u16>(e + NATT_PORT, <u16>bswap16(<u32>load<u16>(rec + R_ENCAP_DPORT)));
  }
  return endMsg(m);
}

/** parse.y setkeymsg_addr(): SA, SA2, src, dst (get / delete). */
function encodeAddr(rec: usize, m: usize, type: u32, seq: u32, pid: u32): u32 {
  const satype = satypeOf(rec);
  beginMsg(m, type, satype, seq, pid);
  saAndSa2(rec, satype);
  saAddresses(rec);
  return endMsg(m);
}

/** SADB_GETSPI (RFC 2367 3.1.1): SA2, src, dst, SPI range. setkey has no statement for it. */
function encodeGetspi(rec: usize, m: usize, seq: u32, pid: u32): u32 {
  beginMsg(m, SADB_GETSPI, satypeOf(rec), seq, pid);
  const s2 = ext(SADB_X_EXT_SA2, SA2_SIZE);
  store<u8>(s2 + SA2_MODE, <u8>sadbMode(rec));
  store<u32>(s2 + SA2_REQID, load<u32>(rec + R_REQID));
  saAddresses(rec);
  const e = ext(SADB_EXT_SPIRANGE, SPIRANGE_SIZE);
  const lo = load<u32>(rec + R_SPI_MIN), hi = load<u32>(rec + R_SPI_MAX);
  store<u32>(e + SPIRANGE_MIN, lo == 0 && hi == 0 ? 0x100 : lo);
  store<u32>(e + SPIRANGE_MAX, lo == 0 && hi == 0 ? 0x0fffffff : hi);
  return endMsg(m);
}

function policyType(rec: usize): u32 {
  if ((load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0) return load<u32>(rec + R_AUX);
  if (<u32>load<u8>(rec + R_ACTION) == XFRM_POLICY_BLOCK) return IPSEC_POLICY_DISCARD;
  return load<u32>(rec + R_TMPL_COUNT) > 0 ? IPSEC_POLICY_IPSEC : IPSEC_POLICY_NONE;
}

/** policy_parse.y init_x_policy() + set_x_request() per template; returns the extension's address. */
function xPolicy(rec: usize, withRequests: bool): void {
  const p = cur;
  cur += POL_SIZE;
  store<u16>(p + EXT_TYPE, SADB_X_EXT_POLICY);
  store<u16>(p + POL_TYPE, <u16>policyType(rec));
  store<u8>(p + POL_DIR, <u8>(<u32>load<u8>(rec + R_DIR) + 1)); // XFRM_POLICY_IN 0 → IPSEC_DIR_INBOUND 1 ...
  store<u32>(p + POL_ID, (load<u32>(rec + R_FLAGS) & RF_HAS_INDEX) != 0 ? load<u32>(rec + R_INDEX) : 0);
  store<u32>(p + POL_PRIORITY, load<u32>(rec + R_PRIORITY));
  const n = load<u32>(rec + R_TMPL_COUNT);
  const toff = load<u32>(rec + R_TMPL_OFF);
  if (withRequests && n > 0 && inBlob(toff, n * TMPL_SIZE)) {
    const setkey = (load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0;
    for (let i: u32 = 0; i < n; i++) {
      const t = blob + toff + i * TMPL_SIZE;
      const q = cur;
      const tunnel = <u32>load<u8>(t + T_MODE) == XFRM_MODE_TUNNEL;
      let len = IRQ_SIZE;
      store<u16>(q + IRQ_PROTO, <u16>load<u8>(t + T_PROTO));
      store<u8>(q + IRQ_MODE, <u8>(tunnel ? IPSEC_MODE_TUNNEL : IPSEC_MODE_TRANSPORT));
      const level = setkey ? <u32>load<u8>(t + T_LEVEL) : (load<u8>(t + T_OPTIONAL) != 0 ? IPSEC_LEVEL_USE : IPSEC_LEVEL_REQUIRE);
      store<u8>(q + IRQ_LEVEL, <u8>level);
      store<u32>(q + IRQ_REQID, load<u32>(t + T_REQID));
      if (tunnel) {
        const fam = <u32>load<u16>(t + T_FAMILY);
        len += sockaddr(q + len, fam, t + T_SADDR, <u32>load<u16>(t + T_SPORT));
        len += sockaddr(q + len, fam, t + T_DADDR, <u32>load<u16>(t + T_DPORT));
      }
      store<u16>(q + IRQ_LEN, <u16>len);
      cur += len;
    }
  }
  // policy_parse(): sadb_x_policy_len = PFKEY_UNIT64(tlen) (requests keep the total a multiple of 8)
  const tlen = <u32>(cur - p);
  cur = p + align8(tlen);
  store<u16>(p + EXT_LEN, <u16>(align8(tlen) / PFKEY_UNIT));
}

/** parse.y setkeymsg_spdaddr(): policy, src, dst, sec ctx. */
function encodeSpd(rec: usize, m: usize, type: u32, seq: u32, pid: u32): u32 {
  beginMsg(m, type, 0, seq, pid);
  xPolicy(rec, true);
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_SEL) != 0 || (load<u32>(rec + R_FLAGS) & RF_SETKEY) != 0) {
    const sel = rec + R_SEL;
    const fam = <u32>load<u16>(sel + SEL_FAMILY);
    if (fam != 0) {
      const up = <u32>load<u8>(sel + SEL_PROTO);
      const proto = up == 0 ? IPSEC_ULPROTO_ANY : up;
      address(SADB_EXT_ADDRESS_SRC, fam, sel + SEL_SADDR, bswap16(<u32>load<u16>(sel + SEL_SPORT)), proto, <u32>load<u8>(sel + SEL_PREFIXLEN_S));
      address(SADB_EXT_ADDRESS_DST, fam, sel + SEL_DADDR, bswap16(<u32>load<u16>(sel + SEL_DPORT)), proto, <u32>load<u8>(sel + SEL_PREFIXLEN_D));
    }
  }
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_CTX) != 0) secCtx(rec);
  return endMsg(m);
}

/** SADB_X_SPDGET / SADB_X_SPDDELETE2: a policy extension carrying the index (af_key pfkey_spdget). */
function encodeSpdById(rec: usize, m: usize, type: u32, seq: u32, pid: u32): u32 {
  beginMsg(m, type, 0, seq, pid);
  xPolicy(rec, false);
  return endMsg(m);
}

function bare(m: usize, type: u32, satype: u32, seq: u32, pid: u32): u32 {
  beginMsg(m, type, satype, seq, pid);
  return endMsg(m);
}

function encodeOne(rec: usize, m: usize, seq: u32, pid: u32, flags: u32): u32 {
  const kind = <u32>load<u8>(rec + R_KIND);
  switch (kind) {
    // seq 0, as setkey sends: af_key keeps an added SA's sadb_msg_seq as its km.seq (`ip -s xfrm state`
    // prints it), so the kernel state equals setkey's only then; replies are matched by order (src/kernel/pfkey.ts)
    case OP_SA_ADD: return encodeAdd(rec, m, SADB_ADD, 0, pid, flags);
    case OP_SA_UPDATE: return encodeAdd(rec, m, SADB_UPDATE, 0, pid, flags);
    case OP_SA_DELETE: return encodeAddr(rec, m, SADB_DELETE, seq, pid);
    case OP_SA_GET: return encodeAddr(rec, m, SADB_GET, seq, pid);
    case OP_SA_ALLOCSPI: return encodeGetspi(rec, m, seq, pid);
    case OP_SA_FLUSH: return bare(m, SADB_FLUSH, satypeOf(rec), seq, pid);
    case OP_SA_DUMP: return bare(m, SADB_DUMP, satypeOf(rec), seq, pid);
    case OP_SP_ADD: return encodeSpd(rec, m, SADB_X_SPDADD, seq, pid);
    case OP_SP_UPDATE: return encodeSpd(rec, m, SADB_X_SPDUPDATE, seq, pid);
    case OP_SP_DELETE: {
      const f = load<u32>(rec + R_FLAGS);
      if ((f & RF_HAS_INDEX) != 0 && (f & (RF_HAS_SEL | RF_SETKEY)) == 0) return encodeSpdById(rec, m, SADB_X_SPDDELETE2, seq, pid);
      return encodeSpd(rec, m, SADB_X_SPDDELETE, seq, pid);
    }
    case OP_SP_GET: return encodeSpdById(rec, m, SADB_X_SPDGET, seq, pid);
    case OP_SP_FLUSH: return bare(m, SADB_X_SPDFLUSH, 0, seq, pid);
    case OP_SP_DUMP: return bare(m, SADB_X_SPDDUMP, 0, seq, pid);
  }
  return 0;
}

/** Upper bound of one record's message. */
function bound(rec: usize): u32 {
  let b: u32 = 1024;
  b += load<u32>(rec + R_ALG_AUTH + ALG_KEY_BITS) >>> 3;
  b += load<u32>(rec + R_ALG_ENC + ALG_KEY_BITS) >>> 3;
  b += load<u32>(rec + R_CTX_LEN);
  b += load<u32>(rec + R_TMPL_COUNT) * (IRQ_SIZE + 2 * SIN6_SIZE);
  return b;
}

/**
 * Encode records [first, end) into REGION_OUTPUT, one PF_KEY message per record (kinds without a request, e.g.
 * OP_EXIT or OP_SA_DELETEALL, are consumed without one), appending each message's record index (u32) to
 * REGION_MAP. sadb_msg_seq = seqBase + k for the k-th message (0 for SADB_ADD/UPDATE: encodeOne), sadb_msg_pid = pid. Stops before the output would
 * exceed maxBytes (always at least one message). flags: PENC_*. Returns how many records were consumed.
 */
export function pfkeyEncode(first: u32, end: u32, seqBase: u32, pid: u32, flags: u32, maxBytes: u32): u32 {
  resetRegion(REGION_OUTPUT);
  resetRegion(REGION_MAP);
  const nrec = regionLen(REGION_RECORDS) / REC_SIZE;
  if (end > nrec) end = nrec;
  if (first >= end) return 0;
  blob = regionPtr(REGION_BLOB);
  blobLen = regionLen(REGION_BLOB);
  let total: u32 = 0;
  let k: u32 = 0;
  let i = first;
  for (; i < end; i++) {
    const rec = at(REGION_RECORDS, i * REC_SIZE);
    const b = bound(rec);
    const m = reserve(REGION_OUTPUT, b);
    memory.fill(m, 0, b);
    const len = encodeOne(rec, m, seqBase + k, pid, flags);
    if (len == 0) continue;
    if (k > 0 && <u64>total + <u64>len > <u64>maxBytes) break;
    commit(REGION_OUTPUT, len);
    const mp = append(REGION_MAP, 4);
    store<u32>(at(REGION_MAP, mp), i);
    total += len;
    k++;
  }
  return i - first;
}

/** A message of the bare header alone (SADB_REGISTER, SADB_X_PROMISC, SADB_FLUSH, ...), in REGION_OUTPUT. */
export function pfkeyEncodeBare(type: u32, satype: u32, seq: u32, pid: u32): u32 {
  resetRegion(REGION_OUTPUT);
  resetRegion(REGION_MAP);
  const m = reserve(REGION_OUTPUT, MSG_SIZE);
  memory.fill(m, 0, MSG_SIZE);
  const len = bare(m, type, satype, seq, pid);
  commit(REGION_OUTPUT, len);
  return len;
}

// ---- what af_key broadcasts for a change (net/key/af_key.c 6.1), composed from a record decoded from the
//      XFRM netlink notification of the same change: setkey -x on the xfrm backend ----

/** struct sadb_address as pfkey_sockaddr_fill() makes it (port in network order as the kernel keeps it). */
function kaddress(type: u32, family: u32, addr: usize, portBe: u32, proto: u32, prefixlen: u32): void {
  const e = cur;
  const salen = sockaddr(e + ADDR_SIZE, family, addr, bswap16(portBe));
  ext(type, ADDR_SIZE + salen);
  store<u8>(e + ADDR_PROTO, <u8>proto);
  store<u8>(e + ADDR_PREFIXLEN, <u8>prefixlen);
}
function klifetime(type: u32, packets: u64, bytes: u64, add: u64, use: u64): void {
  const e = ext(type, LT_SIZE);
  store<u32>(e + LT_ALLOCATIONS, <u32>(packets == 0xffffffffffffffff ? 0 : packets)); // _X2KEY
  store<u64>(e + LT_BYTES, bytes == 0xffffffffffffffff ? 0 : bytes);
  store<u64>(e + LT_ADDTIME, add);
  store<u64>(e + LT_USETIME, use);
}
/** SADB_EXT_LIFETIME_CURRENT from struct xfrm_lifetime_cur (allocations = packets, as af_key fills it). */
function kcurrent(rec: usize): void {
  const c = rec + R_CUR;
  const ce = ext(SADB_EXT_LIFETIME_CURRENT, LT_SIZE);
  store<u32>(ce + LT_ALLOCATIONS, <u32>load<u64>(c + CUR_PACKETS));
  store<u64>(ce + LT_BYTES, load<u64>(c + CUR_BYTES));
  store<u64>(ce + LT_ADDTIME, load<u64>(c + CUR_ADD_TIME));
  store<u64>(ce + LT_USETIME, load<u64>(c + CUR_USE_TIME));
}
function kkey(type: u32, rec: usize, slot: u32): void {
  const bits = load<u32>(rec + slot + ALG_KEY_BITS);
  const n = (bits + 7) >>> 3;
  const off = load<u32>(rec + slot + ALG_KEY_OFF);
  if (bits == 0 || !inBlob(off, n)) return;
  const e = ext(type, KEY_SIZE + n);
  store<u16>(e + KEY_BITS, <u16>bits);
  memory.copy(e + KEY_SIZE, blob + off, n);
}
function ksecctx(rec: usize): void {
  const n = load<u32>(rec + R_CTX_LEN);
  const off = load<u32>(rec + R_CTX_OFF);
  if (!inBlob(off, n)) return;
  const e = ext(SADB_X_EXT_SEC_CTX, SECCTX_SIZE + n);
  store<u8>(e + SECCTX_ALG, load<u8>(rec + R_CTX_ALG));
  store<u8>(e + SECCTX_DOI, load<u8>(rec + R_CTX_DOI));
  store<u16>(e + SECCTX_LEN, <u16>n);
  memory.copy(e + SECCTX_SIZE, blob + off, n);
}
function sameAddr(a: usize, b: usize, family: u32): bool {
  if (family == AF_INET6) return load<u64>(a) == load<u64>(b) && load<u64>(a + 8) == load<u64>(b + 8);
  return load<u32>(a) == load<u32>(b);
}

/** __pfkey_xfrm_state2msg(x, add_keys, hsc) + the header key_notify_sa / key_notify_sa_expire write. */
function composeState(rec: usize, m: usize, type: u32, state: u32, addKeys: bool, hsc: u32, seq: u32, pid: u32): u32 {
  const fam = <u32>load<u8>(rec + R_FAMILY);
  const satype = satypeOfProto(<u32>load<u8>(rec + R_PROTO));
  beginMsg(m, type, satype, seq, pid);
  const sa = ext(SADB_EXT_SA, SA_SIZE);
  store<u32>(sa + SA_SPI, load<u32>(rec + R_SPI));
  store<u8>(sa + SA_REPLAY, load<u8>(rec + R_REPLAY));
  store<u8>(sa + SA_STATE, <u8>state);
  store<u8>(sa + SA_AUTH, <u8>pfkeyAlgId(rec, <i32>R_ALG_AUTH, ALG_KIND_AUTH));
  const comp = load<u32>(rec + R_ALG_COMP + ALG_NAME_LEN) != 0;
  store<u8>(sa + SA_ENCRYPT, <u8>(comp ? pfkeyAlgId(rec, <i32>R_ALG_COMP, ALG_KIND_COMP) : pfkeyAlgId(rec, <i32>R_ALG_ENC, ALG_KIND_ENC)));
  const xf = <u32>load<u8>(rec + R_SAFLAGS);
  let f: u32 = 0;
  if ((xf & 1) != 0) f |= 0x80000000; // XFRM_STATE_NOECN → SADB_SAFLAGS_NOECN
  if ((xf & 2) != 0) f |= 0x40000000; // DECAP_DSCP
  if ((xf & 4) != 0) f |= 0x20000000; // NOPMTUDISC
  store<u32>(sa + SA_FLAGS, f);
  const l = rec + R_LFT;
  if ((hsc & 2) != 0) klifetime(SADB_EXT_LIFETIME_HARD, load<u64>(l + LFT_HARD_PACKET), load<u64>(l + LFT_HARD_BYTE), load<u64>(l + LFT_HARD_ADD), load<u64>(l + LFT_HARD_USE));
  if ((hsc & 1) != 0) klifetime(SADB_EXT_LIFETIME_SOFT, load<u64>(l + LFT_SOFT_PACKET), load<u64>(l + LFT_SOFT_BYTE), load<u64>(l + LFT_SOFT_ADD), load<u64>(l + LFT_SOFT_USE));
  kcurrent(rec);
  kaddress(SADB_EXT_ADDRESS_SRC, fam, rec + R_SADDR, 0, 0, fullPrefix(fam));
  kaddress(SADB_EXT_ADDRESS_DST, fam, rec + R_DADDR, 0, 0, fullPrefix(fam));
  const sel = rec + R_SEL;
  if (!sameAddr(sel + SEL_SADDR, rec + R_SADDR, fam)) {
    const up = <u32>load<u8>(sel + SEL_PROTO);
    kaddress(SADB_EXT_ADDRESS_PROXY, fam, sel + SEL_SADDR, <u32>load<u16>(sel + SEL_SPORT), up == 0 ? IPSEC_ULPROTO_ANY : up, <u32>load<u8>(sel + SEL_PREFIXLEN_S));
  }
  if (addKeys) {
    kkey(SADB_EXT_KEY_AUTH, rec, R_ALG_AUTH);
    kkey(SADB_EXT_KEY_ENCRYPT, rec, R_ALG_ENC);
  }
  const s2 = ext(SADB_X_EXT_SA2, SA2_SIZE);
  const xm = <u32>load<u8>(rec + R_MODE);
  store<u8>(s2 + SA2_MODE, <u8>(xm == XFRM_MODE_TUNNEL ? IPSEC_MODE_TUNNEL : xm == XFRM_MODE_BEET ? IPSEC_MODE_BEET : IPSEC_MODE_TRANSPORT));
  store<u32>(s2 + SA2_REQID, load<u32>(rec + R_REQID));
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_ENCAP) != 0 && load<u16>(rec + R_ENCAP_TYPE) != 0) {
    let e = ext(SADB_X_EXT_NAT_T_TYPE, NATT_TYPE_SIZE);
    store<u8>(e + NATT_TYPE, <u8>load<u16>(rec + R_ENCAP_TYPE));
    e = ext(SADB_X_EXT_NAT_T_SPORT, NATT_PORT_SIZE);
    store<u16>(e + NATT_PORT, <u16>bswap16(<u32>load<u16>(rec + R_ENCAP_SPORT)));
    e = ext(SADB_X_EXT_NAT_T_DPORT, NATT_PORT_SIZE);
    store<u16>(e + NATT_PORT, <u16>bswap16(<u32>load<u16>(rec + R_ENCAP_DPORT)));
  }
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_CTX) != 0) ksecctx(rec);
  return endMsg(m);
}

/** pfkey_xfrm_policy2msg() + key_notify_policy's header, including its sadb_msg_len arithmetic. */
function composePolicy(rec: usize, m: usize, type: u32, seq: u32, pid: u32, refcnt: u32): u32 {
  const sel = rec + R_SEL;
  const fam = <u32>load<u16>(sel + SEL_FAMILY);
  const salen: u32 = fam == AF_INET6 ? SIN6_SIZE : SIN_SIZE;
  beginMsg(m, type, 0, seq, pid);
  const up = <u32>load<u8>(sel + SEL_PROTO);
  const proto = up == 0 ? IPSEC_ULPROTO_ANY : up;
  kaddress(SADB_EXT_ADDRESS_SRC, fam, sel + SEL_SADDR, <u32>load<u16>(sel + SEL_SPORT), proto, <u32>load<u8>(sel + SEL_PREFIXLEN_S));
  kaddress(SADB_EXT_ADDRESS_DST, fam, sel + SEL_DADDR, <u32>load<u16>(sel + SEL_DPORT), proto, <u32>load<u8>(sel + SEL_PREFIXLEN_D));
  const l = rec + R_LFT;
  klifetime(SADB_EXT_LIFETIME_HARD, load<u64>(l + LFT_HARD_PACKET), load<u64>(l + LFT_HARD_BYTE), load<u64>(l + LFT_HARD_ADD), load<u64>(l + LFT_HARD_USE));
  klifetime(SADB_EXT_LIFETIME_SOFT, load<u64>(l + LFT_SOFT_PACKET), load<u64>(l + LFT_SOFT_BYTE), load<u64>(l + LFT_SOFT_ADD), load<u64>(l + LFT_SOFT_USE));
  kcurrent(rec);
  const p = ext(SADB_X_EXT_POLICY, POL_SIZE);
  const n = load<u32>(rec + R_TMPL_COUNT), toff = load<u32>(rec + R_TMPL_OFF);
  const ok = n > 0 && inBlob(toff, n * TMPL_SIZE);
  store<u16>(p + POL_TYPE, <u16>(<u32>load<u8>(rec + R_ACTION) == XFRM_POLICY_BLOCK ? IPSEC_POLICY_DISCARD : ok ? IPSEC_POLICY_IPSEC : IPSEC_POLICY_NONE));
  store<u8>(p + POL_DIR, <u8>(<u32>load<u8>(rec + R_DIR) + 1));
  store<u32>(p + POL_ID, load<u32>(rec + R_INDEX));
  store<u32>(p + POL_PRIORITY, load<u32>(rec + R_PRIORITY));
  // pfkey_xfrm_policy2msg_size() counts two sockaddrs per template and takes them off again for transport ones,
  // with whatever socklen the last tunnel template left behind
  let size: u32 = MSG_SIZE + 3 * LT_SIZE + 2 * ADDR_SIZE + 2 * align8(salen) + POL_SIZE;
  let socklen = salen;
  if (ok) {
    for (let i: u32 = 0; i < n; i++) {
      const t = blob + toff + i * TMPL_SIZE;
      const tf = <u32>load<u16>(t + T_FAMILY);
      const tlen: u32 = tf == AF_INET6 ? SIN6_SIZE : SIN_SIZE;
      size += IRQ_SIZE + 2 * tlen;
      const q = cur;
      let req = IRQ_SIZE;
      const tunnel = <u32>load<u8>(t + T_MODE) == XFRM_MODE_TUNNEL;
      if (tunnel) {
        socklen = tlen;
        req += sockaddr(q + req, tf, t + T_SADDR, 0);
        req += sockaddr(q + req, tf, t + T_DADDR, 0);
      } else size -= 2 * socklen;
      store<u16>(q + IRQ_LEN, <u16>req);
      store<u16>(q + IRQ_PROTO, <u16>load<u8>(t + T_PROTO));
      const tm = <u32>load<u8>(t + T_MODE);
      store<u8>(q + IRQ_MODE, <u8>(tm == XFRM_MODE_TUNNEL ? IPSEC_MODE_TUNNEL : tm == XFRM_MODE_BEET ? IPSEC_MODE_BEET : IPSEC_MODE_TRANSPORT));
      let level = IPSEC_LEVEL_REQUIRE;
      if (load<u32>(t + T_REQID) != 0) level = 3; // IPSEC_LEVEL_UNIQUE
      if (load<u8>(t + T_OPTIONAL) != 0) level = IPSEC_LEVEL_USE;
      store<u8>(q + IRQ_LEVEL, <u8>level);
      store<u32>(q + IRQ_REQID, load<u32>(t + T_REQID));
      cur += req;
      store<u16>(p + EXT_LEN, <u16>(<u32>load<u16>(p + EXT_LEN) + req / PFKEY_UNIT));
    }
  }
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_CTX) != 0) {
    const before = <u32>(cur - m);
    ksecctx(rec);
    size += <u32>(cur - m) - before;
  }
  endMsg(m);
  store<u16>(m + MSG_LEN, <u16>(size / PFKEY_UNIT));
  store<u16>(m + MSG_RESERVED, <u16>refcnt);
  return <u32>(cur - m);
}

/** aalg_tmpl_set / ealg_tmpl_set: the template's algorithm bitmap (u32: ids >= 32 are never set). */
function tmplHas(bits: u32, id: u32): bool { return id < 32 && ((bits >>> id) & 1) != 0; }
/** One struct sadb_comb of dump_ah_combs / dump_esp_combs (a = auth KALG index, e = enc KALG index or -1). */
function comb(p: usize, a: i32, e: i32): void {
  const c = cur;
  cur += COMB_SIZE;
  store<u16>(p + EXT_LEN, <u16>(<u32>load<u16>(p + EXT_LEN) + COMB_SIZE / PFKEY_UNIT));
  store<u8>(c + COMB_AUTH, <u8>unchecked(KALG_ID[a]));
  store<u16>(c + COMB_AUTH_MINBITS, <u16>unchecked(KALG_MINBITS[a]));
  store<u16>(c + COMB_AUTH_MAXBITS, <u16>unchecked(KALG_MAXBITS[a]));
  if (e >= 0) {
    store<u8>(c + COMB_ENCRYPT, <u8>unchecked(KALG_ID[e]));
    store<u16>(c + COMB_ENCRYPT_MINBITS, <u16>unchecked(KALG_MINBITS[e]));
    store<u16>(c + COMB_ENCRYPT_MAXBITS, <u16>unchecked(KALG_MAXBITS[e]));
  }
  store<u64>(c + COMB_HARD_ADDTIME, 24 * 60 * 60);
  store<u64>(c + COMB_SOFT_ADDTIME, 20 * 60 * 60);
  store<u64>(c + COMB_HARD_USETIME, 8 * 60 * 60);
  store<u64>(c + COMB_SOFT_USETIME, 7 * 60 * 60);
}
/**
 * SADB_EXT_PROPOSAL as dump_ah_combs / dump_esp_combs build it: one sadb_comb per algorithm (ESP: per encryption ×
 * authentication pair, encryption outer) that the template allows and af_key marks available. KALG lists the
 * pfkey_supported entries of xfrm_algo.c in the kernel's table order, so walking it is walking xfrm_[ae]alg_get_byidx;
 * avail: bit i = KALG entry i is available (decided by the caller: src/wasm/pfkey-codec.ts).
 */
function proposal(esp: bool, aalgos: u32, ealgos: u32, avail: u32): void {
  const p = ext(SADB_EXT_PROPOSAL, PROP_SIZE);
  store<u8>(p + PROP_REPLAY, 32);
  const n = KALG_ID.length;
  if (!esp) {
    for (let a = 0; a < n; a++) if (offered(a, ALG_KIND_AUTH, aalgos, avail)) comb(p, a, -1);
    return;
  }
  // the inner loop starts at aalg index 1 (digest_null, whose id 251 no u32 bitmap can hold anyway)
  for (let e = 0; e < n; e++) {
    if (!offered(e, ALG_KIND_ENC, ealgos, avail)) continue;
    for (let a = 0; a < n; a++) if (offered(a, ALG_KIND_AUTH, aalgos, avail)) comb(p, a, e);
  }
}
function offered(i: i32, kind: i32, bits: u32, avail: u32): bool {
  return unchecked(KALG_KIND[i]) == kind && ((avail >>> <u32>i) & 1) != 0 && tmplHas(bits, <u32>unchecked(KALG_ID[i]));
}

/**
 * pfkey_send_acquire(x, t, xp) from an XFRM_MSG_ACQUIRE record (xfrm_user's build_acquire of the same larval state):
 * src = x->props.saddr, dst = x->id.daddr, the policy's index and priority (dir always OUTBOUND, type IPSEC), the
 * proposal from t's aalgos/ealgos, the state's security context. seq: the acquire's XFRM seq (af_key numbers its
 * own acquires from a counter of its own, which XFRM does not expose).
 */
function composeAcquire(rec: usize, m: usize, avail: u32): u32 {
  const proto = <u32>load<u8>(rec + R_PROTO);
  // x->props.family is the template's (tunnel templates may change family); the packet's when none matches
  let fam = <u32>load<u8>(rec + R_FAMILY);
  const n = load<u32>(rec + R_TMPL_COUNT), toff = load<u32>(rec + R_TMPL_OFF);
  if (n > 0 && inBlob(toff, n * TMPL_SIZE)) {
    for (let i: u32 = 0; i < n; i++) {
      const t = blob + toff + i * TMPL_SIZE;
      if (<u32>load<u8>(t + T_PROTO) == proto && load<u16>(t + T_FAMILY) != 0) { fam = <u32>load<u16>(t + T_FAMILY); break; }
    }
  }
  beginMsg(m, SADB_ACQUIRE, satypeOfProto(proto), load<u32>(rec + R_SEQ), 0);
  kaddress(SADB_EXT_ADDRESS_SRC, fam, rec + R_SADDR, 0, 0, fullPrefix(fam));
  kaddress(SADB_EXT_ADDRESS_DST, fam, rec + R_DADDR, 0, 0, fullPrefix(fam));
  const p = ext(SADB_X_EXT_POLICY, POL_SIZE);
  store<u16>(p + POL_TYPE, <u16>IPSEC_POLICY_IPSEC);
  store<u8>(p + POL_DIR, 2); // XFRM_POLICY_OUT + 1
  store<u32>(p + POL_ID, load<u32>(rec + R_INDEX));
  store<u32>(p + POL_PRIORITY, load<u32>(rec + R_PRIORITY));
  if (proto == IPPROTO_AH || proto == IPPROTO_ESP) proposal(proto == IPPROTO_ESP, load<u32>(rec + R_AUX), load<u32>(rec + R_AUX2), avail);
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_CTX) != 0) ksecctx(rec);
  return endMsg(m);
}

/**
 * For records [first, end) decoded from XFRM netlink notifications (R_MSGTYPE = the XFRM_MSG_* event), the
 * messages af_key broadcasts for the same changes, one per record that has one, in REGION_OUTPUT; REGION_MAP gets
 * (record index, bytes) per message.
 * refcnt: what to put in a policy message's sadb_msg_reserved (af_key's refcount, which XFRM does not report).
 * avail: the algorithms an SADB_ACQUIRE's proposal may name (bit i = KALG entry i; see proposal()).
 * Returns how many messages were made.
 */
export function pfkeyComposeEvents(first: u32, end: u32, refcnt: u32, avail: u32): u32 {
  resetRegion(REGION_OUTPUT);
  resetRegion(REGION_MAP);
  const nrec = regionLen(REGION_RECORDS) / REC_SIZE;
  if (end > nrec) end = nrec;
  blob = regionPtr(REGION_BLOB);
  blobLen = regionLen(REGION_BLOB);
  let k: u32 = 0;
  for (let i = first; i < end; i++) {
    const rec = at(REGION_RECORDS, i * REC_SIZE);
    const ev = <u32>load<u16>(rec + R_MSGTYPE);
    const seq = load<u32>(rec + R_NLSEQ), pid = load<u32>(rec + R_NLPID);
    const b = bound(rec) + 512 + (ev == XFRM_EV_ACQUIRE ? <u32>(KALG_ID.length * KALG_ID.length) * COMB_SIZE : 0);
    const m = reserve(REGION_OUTPUT, b);
    memory.fill(m, 0, b);
    let len: u32 = 0;
    if (ev == XFRM_EV_NEWSA) len = composeState(rec, m, SADB_ADD, 1, true, 3, seq, pid);
    // xfrm_state_update() copies the request's state into the SA it replaces and kills the request's, which is the
    // one notified: af_key reports it DEAD (seen against the real af_key in test/kernel/pfkey-compat.test.ts)
    else if (ev == XFRM_EV_UPDSA) len = composeState(rec, m, SADB_UPDATE, 3, true, 3, seq, pid);
    else if (ev == XFRM_EV_DELSA) len = composeState(rec, m, SADB_DELETE, 3, true, 3, seq, pid);
    else if (ev == XFRM_EV_EXPIRE) {
      const hard = load<u8>(rec + R_HARD) != 0;
      len = composeState(rec, m, SADB_EXPIRE, hard ? 3 : 2, false, hard ? 2 : 1, 0, 0);
    } else if (ev == XFRM_EV_FLUSHSA) {
      const pr = <u32>load<u8>(rec + R_PROTO);
      len = bare(m, SADB_FLUSH, pr == 255 ? 0 : satypeOfProto(pr), seq, pid);
    } else if (ev == XFRM_EV_NEWPOLICY) len = composePolicy(rec, m, SADB_X_SPDADD, seq, pid, refcnt);
    else if (ev == XFRM_EV_UPDPOLICY) len = composePolicy(rec, m, SADB_X_SPDUPDATE, seq, pid, refcnt);
    else if (ev == XFRM_EV_DELPOLICY) len = composePolicy(rec, m, SADB_X_SPDDELETE, seq, pid, refcnt);
    else if (ev == XFRM_EV_FLUSHPOLICY) len = bare(m, SADB_X_SPDFLUSH, 0, seq, pid);
    else if (ev == XFRM_EV_ACQUIRE) len = composeAcquire(rec, m, avail);
    if (len == 0) continue;
    commit(REGION_OUTPUT, len);
    // (record, bytes written): a policy message's sadb_msg_len can differ from what af_key wrote (see above)
    const mp = append(REGION_MAP, 8);
    store<u32>(at(REGION_MAP, mp), i);
    store<u32>(at(REGION_MAP, mp + 4), len);
    k++;
  }
  return k;
}
