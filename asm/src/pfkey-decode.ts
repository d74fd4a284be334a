// asm/src/pfkey-decode.ts — PF_KEY v2 messages → records (layer: asm). Owns pfkeyDecode: the inverse of af_key's
// __pfkey_xfrm_state2msg / pfkey_xfrm_policy2msg (net/key/af_key.c, 6.1), so that a record decoded from a PF_KEY
// dump carries what the XFRM decoder would have put there for the same kernel entry and every record consumer
// (the setkey -D/-DP printer first) works on either backend. Header fields: R_MSGTYPE = sadb_msg_type,
// R_NLSEQ/R_NLPID = sadb_msg_seq/pid, R_NLFLAGS = sadb_msg_errno. Each message is copied raw into REGION_BLOB
// (R_ATTRS_OFF/LEN = its extensions), so keys and contexts point into that copy and nothing unknown is lost.
import {
  REGION_INPUT, REGION_RECORDS, REGION_BLOB, REC_SIZE, R_KIND, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_SEL,
  SEL_DADDR, SEL_SADDR, SEL_DPORT, SEL_DPORT_MASK, SEL_SPORT, SEL_SPORT_MASK, SEL_FAMILY, SEL_PREFIXLEN_D,
  SEL_PREFIXLEN_S, SEL_PROTO, R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REPLAY, R_SAFLAGS, R_REQID, R_PRIORITY,
  R_INDEX, R_STATE, R_LFT, LFT_SOFT_BYTE, LFT_HARD_BYTE, LFT_SOFT_PACKET, LFT_HARD_PACKET, LFT_SOFT_ADD,
  LFT_HARD_ADD, LFT_SOFT_USE, LFT_HARD_USE, R_CUR, CUR_BYTES, CUR_PACKETS, CUR_ADD_TIME, CUR_USE_TIME, R_ALG_AUTH,
  R_ALG_ENC, R_ALG_COMP, ALG_NAME_OFF, ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS, R_ENCAP_TYPE, R_ENCAP_SPORT,
  R_ENCAP_DPORT, R_ENCAP_OA, R_CTX_DOI, R_CTX_ALG, R_CTX_OFF, R_CTX_LEN, R_TMPL_OFF, R_TMPL_COUNT, R_REPLAY_WIN,
  R_SPI_MIN, R_SPI_MAX, R_AUX, R_SATYPE, R_SADB_MODE, R_SADB_FLAGS, R_SADB_SPORT, R_SADB_DPORT, R_ATTRS_OFF,
  R_ATTRS_LEN, R_MSGTYPE, R_NLFLAGS, R_NLSEQ, R_NLPID, R_HARD, RF_HAS_ENCAP, RF_HAS_CTX, RF_HAS_SPI,
  RF_HAS_PROTO, RF_HAS_SRCADDR, RF_HAS_SEL, RF_HAS_LFT, RF_HAS_PRIORITY, RF_HAS_INDEX, RF_HAS_DIR, OP_NONE,
  OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_FLUSH, OP_SA_ALLOCSPI, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE,
  OP_SP_FLUSH, TMPL_SIZE, T_DADDR, T_SADDR, T_PROTO, T_FAMILY, T_REQID, T_MODE, T_OPTIONAL, T_AALGOS, T_EALGOS,
  T_CALGOS, T_LEVEL, T_SPORT, T_DPORT, AF_INET, AF_INET6, IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP,
  XFRM_POLICY_ALLOW, XFRM_POLICY_BLOCK, XFRM_MODE_TRANSPORT, XFRM_MODE_TUNNEL, XFRM_MODE_BEET,
} from "../shared/layout";
import { KALG_KIND, KALG_ID, KALG_NAME, ALG_KIND_AUTH, ALG_KIND_ENC, ALG_KIND_COMP } from "../shared/algorithms";
import {
  PFKEY_UNIT, SADB_GETSPI, SADB_UPDATE, SADB_ADD, SADB_DELETE, SADB_GET, SADB_ACQUIRE, SADB_EXPIRE, SADB_FLUSH,
  SADB_DUMP, SADB_X_SPDUPDATE, SADB_X_SPDADD, SADB_X_SPDDELETE, SADB_X_SPDGET, SADB_X_SPDDUMP, SADB_X_SPDFLUSH,
  SADB_X_SPDEXPIRE, SADB_X_SPDDELETE2, SADB_X_SPDACQUIRE, SADB_EXT_SA, SADB_EXT_LIFETIME_CURRENT,
  SADB_EXT_LIFETIME_HARD, SADB_EXT_LIFETIME_SOFT, SADB_EXT_ADDRESS_SRC, SADB_EXT_ADDRESS_DST, SADB_EXT_KEY_AUTH,
  SADB_EXT_KEY_ENCRYPT, SADB_EXT_SPIRANGE, SADB_X_EXT_POLICY, SADB_X_EXT_SA2, SADB_X_EXT_NAT_T_TYPE,
  SADB_X_EXT_NAT_T_SPORT, SADB_X_EXT_NAT_T_DPORT, SADB_X_EXT_NAT_T_OA, SADB_X_EXT_SEC_CTX, SADB_SATYPE_AH,
  SADB_SATYPE_ESP, SADB_X_SATYPE_IPCOMP, IPSEC_MODE_TRANSPORT, IPSEC_MODE_TUNNEL, IPSEC_MODE_BEET,
  IPSEC_POLICY_DISCARD, IPSEC_LEVEL_USE, IPSEC_ULPROTO_ANY, SADB_SAFLAGS_NOECN, SADB_SAFLAGS_DECAP_DSCP,
  SADB_SAFLAGS_NOPMTUDISC, MSG_TYPE, MSG_ERRNO, MSG_SATYPE, MSG_LEN, MSG_SEQ, MSG_PID, MSG_SIZE, EXT_LEN, EXT_TYPE,
  SA_SPI, SA_REPLAY, SA_STATE, SA_AUTH, SA_ENCRYPT, SA_FLAGS, SA_SIZE, LT_ALLOCATIONS, LT_BYTES, LT_ADDTIME,
  LT_USETIME, LT_SIZE, ADDR_PROTO, ADDR_PREFIXLEN, ADDR_SIZE, SIN_FAMILY, SIN_PORT, SIN_ADDR, SIN_SIZE, SIN6_ADDR,
  SIN6_SIZE, KEY_BITS, KEY_SIZE, SPIRANGE_MIN, SPIRANGE_MAX, SPIRANGE_SIZE, SA2_MODE, SA2_REQID, SA2_SIZE,
  POL_TYPE, POL_DIR, POL_ID, POL_PRIORITY, POL_SIZE, IRQ_LEN, IRQ_PROTO, IRQ_MODE, IRQ_LEVEL, IRQ_REQID, IRQ_SIZE,
  NATT_TYPE, NATT_TYPE_SIZE, NATT_PORT, NATT_PORT_SIZE, SECCTX_ALG, SECCTX_DOI, SECCTX_LEN, SECCTX_SIZE,
  PDEC_RESET, PDEC_KEEP_ALL,
} from "../shared/pfkey";
import { resetRegion, regionPtr, regionLen, at, append } from "./arena";
import { bswap16, copy16 } from "./xfrm-wire";

const XFRM_INF: u64 = 0xffffffffffffffff;
let malformed: u32 = 0;
let rec: usize = 0;
let msgBlob: u32 = 0; // blob offset of the raw copy of the message being decoded
let msgIn: usize = 0; // its address in REGION_INPUT

// Kernel algorithm names are appended to the blob once per reset and shared by every record that names them.
const algNameOff = new StaticArray<u32>(64);
let algNamesValid = false;

function algName(k: i32): u32 {
  if (!algNamesValid) { for (let i = 0; i < 64; i++) unchecked(algNameOff[i] = 0xffffffff); algNamesValid = true; }
  let off = unchecked(algNameOff[k]);
  if (off == 0xffffffff) {
    const s = unchecked(KALG_NAME[k]);
    const n = <u32>s.length;
    off = append(REGION_BLOB, n);
    const p = at(REGION_BLOB, off);
    for (let i: u32 = 0; i < n; i++) store<u8>(p + i, <u8>s.charCodeAt(i));
    unchecked(algNameOff[k] = off);
    rec = at(REGION_RECORDS, recOff);
  }
  return off;
}
let recOff: u32 = 0;

function kalgIndex(kind: i32, id: u32): i32 {
  for (let i = 0, n = KALG_ID.length; i < n; i++) {
    if (unchecked(KALG_KIND[i]) == kind && <u32>unchecked(KALG_ID[i]) == id) return i;
  }
  return -1;
}
function setAlgName(slot: u32, kind: i32, id: u32): void {
  if (id == 0) return;
  const k = kalgIndex(kind, id);
  if (k < 0) return;
  const off = algName(k);
  store<u32>(rec + slot + ALG_NAME_OFF, off);
  store<u32>(rec + slot + ALG_NAME_LEN, <u32>unchecked(KALG_NAME[k]).length);
}

function protoOfSatype(s: u32): u32 {
  return s == SADB_SATYPE_AH ? IPPROTO_AH : s == SADB_SATYPE_ESP ? IPPROTO_ESP : s == SADB_X_SATYPE_IPCOMP ? IPPROTO_COMP : 0;
}
function xfrmMode(m: u32): u32 {
  return m == IPSEC_MODE_TUNNEL ? XFRM_MODE_TUNNEL : m == IPSEC_MODE_BEET ? XFRM_MODE_BEET : XFRM_MODE_TRANSPORT;
}
/** _KEY2X(): 0 means "no limit" → XFRM_INF */
function key2x(v: u64): u64 { return v == 0 ? XFRM_INF : v; }
function setFlag(f: u32): void { store<u32>(rec + R_FLAGS, load<u32>(rec + R_FLAGS) | f); }

/** A sockaddr (in the message copy at `sa`, `room` bytes): family, 16-byte address at dst, port (host order). */
function takeSockaddr(sa: usize, room: u32, dst: usize): u32 {
  if (room < <u32>SIN_SIZE) return 0;
  const fam = <u32>load<u16>(sa + SIN_FAMILY);
  if (fam == AF_INET) { store<u32>(dst, load<u32>(sa + SIN_ADDR)); return fam; }
  if (fam == AF_INET6 && room >= <u32>SIN6_SIZE) { copy16(dst, sa + SIN6_ADDR); return fam; }
  return 0;
}
// @ts-ignore: decorator
@inline function sockPort(sa: usize): u32 { return bswap16(<u32>load<u16>(sa + SIN_PORT)); }

function takeLifetime(e: usize, which: u32): void {
  if (which == SADB_EXT_LIFETIME_CURRENT) {
    store<u64>(rec + R_CUR + CUR_PACKETS, <u64>load<u32>(e + LT_ALLOCATIONS));
    store<u64>(rec + R_CUR + CUR_BYTES, load<u64>(e + LT_BYTES));
    store<u64>(rec + R_CUR + CUR_ADD_TIME, load<u64>(e + LT_ADDTIME));
    store<u64>(rec + R_CUR + CUR_USE_TIME, load<u64>(e + LT_USETIME));
    return;
  }
  const hard = which == SADB_EXT_LIFETIME_HARD;
  store<u64>(rec + R_LFT + (hard ? LFT_HARD_PACKET : LFT_SOFT_PACKET), key2x(<u64>load<u32>(e + LT_ALLOCATIONS)));
  store<u64>(rec + R_LFT + (hard ? LFT_HARD_BYTE : LFT_SOFT_BYTE), key2x(load<u64>(e + LT_BYTES)));
  store<u64>(rec + R_LFT + (hard ? LFT_HARD_ADD : LFT_SOFT_ADD), load<u64>(e + LT_ADDTIME));
  store<u64>(rec + R_LFT + (hard ? LFT_HARD_USE : LFT_SOFT_USE), load<u64>(e + LT_USETIME));
  setFlag(RF_HAS_LFT);
}

/** The ipsecrequests of an X_POLICY extension at e (elen bytes) → templates in the blob. */
function takeRequests(e: usize, elen: u32, family: u32): void {
  let off: u32 = <u32>POL_SIZE;
  let n: u32 = 0;
  // count first: appending templates may move the blob (and so the message copy)
  while (off + <u32>IRQ_SIZE <= elen) {
    const l = <u32>load<u16>(e + off + IRQ_LEN);
    if (l < <u32>IRQ_SIZE || off + l > elen) { malformed++; break; }
    n++;
    off += l;
  }
  if (n == 0) return;
  const eOff = <u32>(e - at(REGION_BLOB, 0));
  const toff = append(REGION_BLOB, n * TMPL_SIZE);
  rec = at(REGION_RECORDS, recOff);
  store<u32>(rec + R_TMPL_OFF, toff);
  store<u32>(rec + R_TMPL_COUNT, n);
  const ep = at(REGION_BLOB, eOff);
  off = <u32>POL_SIZE;
  for (let i: u32 = 0; i < n; i++) {
    const q = ep + off;
    const l = <u32>load<u16>(q + IRQ_LEN);
    const t = at(REGION_BLOB, toff + i * TMPL_SIZE);
    store<u8>(t + T_PROTO, <u8>load<u16>(q + IRQ_PROTO));
    const mode = <u32>load<u8>(q + IRQ_MODE);
    store<u8>(t + T_MODE, <u8>xfrmMode(mode));
    const level = <u32>load<u8>(q + IRQ_LEVEL);
    store<u8>(t + T_LEVEL, <u8>level);
    store<u8>(t + T_OPTIONAL, level == IPSEC_LEVEL_USE ? 1 : 0);
    store<u32>(t + T_REQID, load<u32>(q + IRQ_REQID));
    store<u32>(t + T_AALGOS, 0xffffffff);
    store<u32>(t + T_EALGOS, 0xffffffff);
    store<u32>(t + T_CALGOS, 0xffffffff);
    store<u16>(t + T_FAMILY, <u16>family);
    if (l > <u32>IRQ_SIZE) {
      const s = q + <u32>IRQ_SIZE;
      const f = takeSockaddr(s, l - <u32>IRQ_SIZE, t + T_SADDR);
      if (f != 0) {
        store<u16>(t + T_FAMILY, <u16>f);
        store<u16>(t + T_SPORT, <u16>sockPort(s));
        const slen: u32 = f == AF_INET6 ? <u32>SIN6_SIZE : <u32>SIN_SIZE;
        if (l >= <u32>IRQ_SIZE + 2 * slen) {
          takeSockaddr(s + slen, l - <u32>IRQ_SIZE - slen, t + T_DADDR);
          store<u16>(t + T_DPORT, <u16>sockPort(s + slen));
        }
      }
    }
    off += l;
  }
}

function isSaType(t: u32): bool {
  return t == SADB_GETSPI || t == SADB_UPDATE || t == SADB_ADD || t == SADB_DELETE || t == SADB_GET
    || t == SADB_EXPIRE || t == SADB_DUMP || t == SADB_ACQUIRE;
}
function isSpType(t: u32): bool {
  return t == SADB_X_SPDUPDATE || t == SADB_X_SPDADD || t == SADB_X_SPDDELETE || t == SADB_X_SPDGET
    || t == SADB_X_SPDDUMP || t == SADB_X_SPDEXPIRE || t == SADB_X_SPDDELETE2 || t == SADB_X_SPDACQUIRE;
}
function kindOf(t: u32, hasPolicy: bool): u32 {
  switch (t) {
    case SADB_ADD: case SADB_GET: case SADB_DUMP: case SADB_EXPIRE: return OP_SA_ADD;
    case SADB_UPDATE: return OP_SA_UPDATE;
    case SADB_DELETE: return OP_SA_DELETE;
    case SADB_GETSPI: return OP_SA_ALLOCSPI;
    case SADB_FLUSH: return OP_SA_FLUSH;
    case SADB_X_SPDADD: case SADB_X_SPDGET: case SADB_X_SPDDUMP: case SADB_X_SPDEXPIRE: return OP_SP_ADD;
    case SADB_X_SPDUPDATE: return OP_SP_UPDATE;
    case SADB_X_SPDDELETE: case SADB_X_SPDDELETE2: return OP_SP_DELETE;
    case SADB_X_SPDFLUSH: return OP_SP_FLUSH;
  }
  return hasPolicy ? OP_SP_ADD : OP_NONE;
}

function decodeOne(m: usize, len: u32, keepAll: bool): bool {
  const type = <u32>load<u8>(m + MSG_TYPE);
  const errno = <u32>load<u8>(m + MSG_ERRNO);
  const sa = isSaType(type), sp = isSpType(type);
  if (!keepAll && (errno != 0 || (!sa && !sp))) return false;
  recOff = append(REGION_RECORDS, REC_SIZE);
  msgBlob = append(REGION_BLOB, len);
  memory.copy(at(REGION_BLOB, msgBlob), m, len);
  rec = at(REGION_RECORDS, recOff);
  msgIn = m;
  const satype = <u32>load<u8>(m + MSG_SATYPE);
  store<u16>(rec + R_MSGTYPE, <u16>type);
  store<u16>(rec + R_NLFLAGS, <u16>errno);
  store<u32>(rec + R_NLSEQ, load<u32>(m + MSG_SEQ));
  store<u32>(rec + R_NLPID, load<u32>(m + MSG_PID));
  store<u32>(rec + R_ATTRS_OFF, msgBlob + <u32>MSG_SIZE);
  store<u32>(rec + R_ATTRS_LEN, len - <u32>MSG_SIZE);
  store<u8>(rec + R_SATYPE, <u8>satype);
  const proto = protoOfSatype(satype);
  store<u8>(rec + R_PROTO, <u8>(type == SADB_FLUSH && satype == 0 ? 255 : proto));
  if (sa) {
    // af_key always sends byte/packet limits; absent ones mean "none"
    store<u64>(rec + R_LFT + LFT_SOFT_BYTE, XFRM_INF);
    store<u64>(rec + R_LFT + LFT_HARD_BYTE, XFRM_INF);
    store<u64>(rec + R_LFT + LFT_SOFT_PACKET, XFRM_INF);
    store<u64>(rec + R_LFT + LFT_HARD_PACKET, XFRM_INF);
    if (type == SADB_EXPIRE) store<u8>(rec + R_STATE, 2);
  }
  let hasPolicy = false;
  let polExt: u32 = 0, polLen: u32 = 0;
  let off: u32 = <u32>MSG_SIZE;
  while (off + 4 <= len) {
    const eOff = msgBlob + off;
    const e = at(REGION_BLOB, eOff);
    const elen = <u32>load<u16>(e + EXT_LEN) * PFKEY_UNIT;
    const et = <u32>load<u16>(e + EXT_TYPE);
    if (elen < 8 || off + elen > len) { malformed++; break; }
    switch (et) {
      case SADB_EXT_SA: {
        if (elen < <u32>SA_SIZE) break;
        store<u32>(rec + R_SPI, load<u32>(e + SA_SPI));
        store<u8>(rec + R_REPLAY, load<u8>(e + SA_REPLAY));
        store<u32>(rec + R_REPLAY_WIN, <u32>load<u8>(e + SA_REPLAY));
        store<u8>(rec + R_STATE, load<u8>(e + SA_STATE));
        const f = load<u32>(e + SA_FLAGS);
        let xf: u32 = 0;
        if ((f & SADB_SAFLAGS_NOECN) != 0) xf |= 1;
        if ((f & SADB_SAFLAGS_DECAP_DSCP) != 0) xf |= 2;
        if ((f & SADB_SAFLAGS_NOPMTUDISC) != 0) xf |= 4;
        store<u8>(rec + R_SAFLAGS, <u8>xf);
        store<u16>(rec + R_SADB_FLAGS, <u16>f);
        const aid = <u32>load<u8>(e + SA_AUTH), eid = <u32>load<u8>(e + SA_ENCRYPT);
        setAlgName(R_ALG_AUTH, ALG_KIND_AUTH, aid);
        if (satype == SADB_X_SATYPE_IPCOMP) setAlgName(R_ALG_COMP, ALG_KIND_COMP, eid);
        else setAlgName(R_ALG_ENC, ALG_KIND_ENC, eid);
        setFlag(RF_HAS_SPI | (proto != 0 ? RF_HAS_PROTO : 0));
        break;
      }
      case SADB_EXT_LIFETIME_CURRENT: case SADB_EXT_LIFETIME_HARD: case SADB_EXT_LIFETIME_SOFT:
        if (elen >= <u32>LT_SIZE) takeLifetime(e, et);
        break;
      case SADB_EXT_ADDRESS_SRC: case SADB_EXT_ADDRESS_DST: {
        const src = et == SADB_EXT_ADDRESS_SRC;
        const s = e + <u32>ADDR_SIZE;
        const room = elen - <u32>ADDR_SIZE;
        const fam = takeSockaddr(s, room, rec + (src ? R_SADDR : R_DADDR));
        if (fam == 0) break;
        store<u8>(rec + R_FAMILY, <u8>fam);
        const port = sockPort(s);
        store<u16>(rec + (src ? R_SADB_SPORT : R_SADB_DPORT), <u16>port);
        // the selector view (policies; for SAs af_key fills the selector from the same addresses)
        const sel = rec + R_SEL;
        const up = <u32>load<u8>(e + ADDR_PROTO);
        copy16(sel + (src ? SEL_SADDR : SEL_DADDR), rec + (src ? R_SADDR : R_DADDR));
        store<u16>(sel + (src ? SEL_SPORT : SEL_DPORT), <u16>bswap16(port));
        store<u16>(sel + (src ? SEL_SPORT_MASK : SEL_DPORT_MASK), <u16>(port != 0 ? 0xffff : 0));
        store<u8>(sel + (src ? SEL_PREFIXLEN_S : SEL_PREFIXLEN_D), load<u8>(e + ADDR_PREFIXLEN));
        store<u8>(sel + SEL_PROTO, <u8>(up == IPSEC_ULPROTO_ANY ? 0 : up));
        store<u16>(sel + SEL_FAMILY, <u16>fam);
        setFlag(src ? RF_HAS_SRCADDR | RF_HAS_SEL : RF_HAS_SEL);
        break;
      }
      case SADB_EXT_KEY_AUTH: case SADB_EXT_KEY_ENCRYPT: {
        if (elen < <u32>KEY_SIZE) break;
        let bits = <u32>load<u16>(e + KEY_BITS);
        if (<u32>KEY_SIZE + (bits >>> 3) > elen) { malformed++; bits = (elen - <u32>KEY_SIZE) << 3; }
        const slot = et == SADB_EXT_KEY_AUTH ? R_ALG_AUTH : R_ALG_ENC;
        store<u32>(rec + slot + ALG_KEY_OFF, eOff + <u32>KEY_SIZE);
        store<u32>(rec + slot + ALG_KEY_BITS, bits);
        break;
      }
      case SADB_EXT_SPIRANGE:
        if (elen >= <u32>SPIRANGE_SIZE) {
          store<u32>(rec + R_SPI_MIN, load<u32>(e + SPIRANGE_MIN));
          store<u32>(rec + R_SPI_MAX, load<u32>(e + SPIRANGE_MAX));
        }
        break;
      case SADB_X_EXT_SA2:
        if (elen >= <u32>SA2_SIZE) {
          const mode = <u32>load<u8>(e + SA2_MODE);
          store<u8>(rec + R_SADB_MODE, <u8>mode);
          store<u8>(rec + R_MODE, <u8>xfrmMode(mode));
          store<u32>(rec + R_REQID, load<u32>(e + SA2_REQID));
        }
        break;
      case SADB_X_EXT_POLICY:
        if (elen >= <u32>POL_SIZE) { hasPolicy = true; polExt = eOff; polLen = elen; }
        break;
      case SADB_X_EXT_NAT_T_TYPE:
        if (elen >= <u32>NATT_TYPE_SIZE) { store<u16>(rec + R_ENCAP_TYPE, <u16>load<u8>(e + NATT_TYPE)); setFlag(RF_HAS_ENCAP); }
        break;
      case SADB_X_EXT_NAT_T_SPORT: case SADB_X_EXT_NAT_T_DPORT:
        if (elen >= <u32>NATT_PORT_SIZE) {
          store<u16>(rec + (et == SADB_X_EXT_NAT_T_SPORT ? R_ENCAP_SPORT : R_ENCAP_DPORT), <u16>bswap16(<u32>load<u16>(e + NATT_PORT)));
        }
        break;
      case SADB_X_EXT_NAT_T_OA:
        takeSockaddr(e + <u32>ADDR_SIZE, elen - <u32>ADDR_SIZE, rec + R_ENCAP_OA);
        break;
      case SADB_X_EXT_SEC_CTX: {
        if (elen < <u32>SECCTX_SIZE) break;
        let n = <u32>load<u16>(e + SECCTX_LEN);
        if (<u32>SECCTX_SIZE + n > elen) { malformed++; n = elen - <u32>SECCTX_SIZE; }
        store<u8>(rec + R_CTX_ALG, load<u8>(e + SECCTX_ALG));
        store<u8>(rec + R_CTX_DOI, load<u8>(e + SECCTX_DOI));
        store<u32>(rec + R_CTX_OFF, eOff + <u32>SECCTX_SIZE);
        store<u32>(rec + R_CTX_LEN, n);
        setFlag(RF_HAS_CTX);
        break;
      }
      default: break; // kept in the raw copy
    }
    off += elen;
  }
  if (sp || (hasPolicy && !sa)) {
    // the selector's family is the addresses'; no addresses (SPDDELETE2/SPDGET requests): none
    store<u8>(rec + R_FAMILY, <u8>load<u16>(rec + R_SEL + SEL_FAMILY));
    if (hasPolicy) {
      const e = at(REGION_BLOB, polExt);
      const ptype = <u32>load<u16>(e + POL_TYPE);
      store<u32>(rec + R_AUX, ptype);
      store<u8>(rec + R_ACTION, <u8>(ptype == IPSEC_POLICY_DISCARD ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW));
      const dir = <u32>load<u8>(e + POL_DIR);
      store<u8>(rec + R_DIR, <u8>(dir > 0 ? dir - 1 : 0));
      store<u32>(rec + R_INDEX, load<u32>(e + POL_ID));
      store<u32>(rec + R_PRIORITY, load<u32>(e + POL_PRIORITY));
      setFlag(RF_HAS_DIR | RF_HAS_INDEX | RF_HAS_PRIORITY);
      takeRequests(e, polLen, <u32>load<u16>(rec + R_SEL + SEL_FAMILY));
    }
  }
  rec = at(REGION_RECORDS, recOff);
  store<u8>(rec + R_KIND, <u8>kindOf(type, hasPolicy));
  return true;
}

/**
 * Decode the PF_KEY messages in REGION_INPUT [0, len) (one or more, back to back, as a dump file or a datagram
 * holds them) into records. flags: PDEC_RESET empties REGION_RECORDS and REGION_BLOB first; PDEC_KEEP_ALL also
 * makes records for errors and for messages without SA/policy content (FLUSH, REGISTER, ...). Returns how many
 * records were appended; pfkeyDecodeMalformed() counts messages or extensions with impossible lengths.
 */
export function pfkeyDecode(len: u32, flags: u32): u32 {
  malformed = 0;
  if ((flags & PDEC_RESET) != 0) {
    resetRegion(REGION_RECORDS);
    resetRegion(REGION_BLOB);
  }
  algNamesValid = false;
  const inLen = regionLen(REGION_INPUT);
  if (len > inLen) len = inLen;
  const base = regionPtr(REGION_INPUT);
  const keepAll = (flags & PDEC_KEEP_ALL) != 0;
  let off: u32 = 0;
  let n: u32 = 0;
  while (off + <u32>MSG_SIZE <= len) {
    const m = base + off;
    const mlen = <u32>load<u16>(m + MSG_LEN) * PFKEY_UNIT;
    if (mlen < <u32>MSG_SIZE || <u64>off + <u64>mlen > <u64>len) { malformed++; break; }
    if (decodeOne(m, mlen, keepAll)) n++;
    off += mlen;
  }
  if (off < len && malformed == 0) malformed++;
  return n;
}

/** Malformed messages or extensions seen by the last pfkeyDecode. */
export function pfkeyDecodeMalformed(): u32 {
  return malformed;
}
