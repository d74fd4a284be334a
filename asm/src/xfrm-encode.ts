// asm/src/xfrm-encode.ts — records → XFRM netlink requests (layer: asm). Owns xfrmEncode: one netlink message per
// record in REGION_OUTPUT (+ its record index in REGION_MAP), byte for byte what iproute2 6.1's `ip xfrm` sends for
// the same request (ip/xfrm_state.c xfrm_state_modify/_get_or_delete/_allocspi/_flush/_list_or_deleteall,
// ip/xfrm_policy.c xfrm_policy_modify/_get_or_delete/_flush/_list_or_deleteall), verified against strace
// captures in test/fixtures/xfrm/. No managed allocations: raw loads/stores on region memory.
import {
  REGION_RECORDS, REGION_BLOB, REGION_OUTPUT, REGION_MAP, REC_SIZE,
  R_KIND, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_SEL, SEL_FAMILY, SEL_PREFIXLEN_D, SEL_PREFIXLEN_S,
  R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REPLAY, R_SAFLAGS, R_REQID, R_PRIORITY, R_INDEX, R_POLFLAGS,
  R_SHARE, R_PTYPE, R_LFT, R_SEQ, R_ALG_AUTH, R_ALG_ENC, R_ALG_AEAD, R_ALG_COMP, ALG_NAME_OFF, ALG_NAME_LEN,
  ALG_KEY_OFF, ALG_KEY_BITS, ALG_PARAM, R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT, R_ENCAP_OA, R_CTX_DOI,
  R_CTX_ALG, R_CTX_OFF, R_CTX_LEN, R_MARK_V, R_MARK_M, R_IFID, R_EXTRA_FLAGS, R_TMPL_OFF, R_TMPL_COUNT,
  R_REPLAY_WIN, R_SPI_MIN, R_SPI_MAX, R_ENCAP_PREV, ENCAP_ENTRY_LINK, ENCAP_ENTRY_SIZE, R_REPLAY_SEQ, R_REPLAY_OSEQ, R_REPLAY_BITMAP, R_ATTR_ORDER,
  R_TFCPAD, R_SET_MARK_V, R_SET_MARK_M, R_OFFLOAD_IFINDEX, R_OFFLOAD_FLAGS, R_COA_OFF, R_REPLAY_SEQ_HI, R_REPLAY_OSEQ_HI,
  RF_HAS_OFFLOAD, RF_HAS_COA, RF_NO_SRCADDR, AO_COA, RF_SPI_RANGE,
  RF_HAS_MARK, RF_HAS_IFID, RF_AUTH_TRUNC, RF_HAS_ENCAP, RF_HAS_CTX, RF_REPLAY_ESN, RF_NO_ACK, RF_HAS_PTYPE,
  OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_GET, OP_SA_DELETEALL, OP_SA_FLUSH, OP_SA_DUMP, OP_SA_ALLOCSPI,
  OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE, OP_SP_GET, OP_SP_FLUSH, OP_SP_DUMP, OP_SP_DELETEALL,
  AO_AUTH, AO_ENC, AO_AEAD, AO_COMP, AO_ENCAP, AO_CTX, TMPL_SIZE, XFRM_TMPL_SIZE, AF_INET, IPPROTO_COMP,
} from "../shared/layout";
import {
  NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP,
  XFRM_MSG_NEWSA, XFRM_MSG_UPDSA, XFRM_MSG_DELSA, XFRM_MSG_GETSA, XFRM_MSG_ALLOCSPI, XFRM_MSG_FLUSHSA,
  XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY, XFRM_MSG_DELPOLICY, XFRM_MSG_GETPOLICY, XFRM_MSG_FLUSHPOLICY,
  XFRMA_ALG_AUTH, XFRMA_ALG_AUTH_TRUNC, XFRMA_ALG_CRYPT, XFRMA_ALG_AEAD, XFRMA_ALG_COMP, XFRMA_ENCAP, XFRMA_SEC_CTX,
  XFRMA_REPLAY_ESN_VAL, XFRMA_REPLAY_VAL, XFRMA_SA_EXTRA_FLAGS, XFRMA_MARK, XFRMA_IF_ID, XFRMA_SRCADDR, XFRMA_PROTO,
  XFRMA_ADDRESS_FILTER, XFRMA_POLICY_TYPE, XFRMA_TMPL, XFRM_STATE_ESN, XENC_ACK, XENC_IP_ACK,
  XFRMA_COADDR, XFRMA_OFFLOAD_DEV, XFRMA_TFCPAD, XFRMA_SET_MARK, XFRMA_SET_MARK_MASK,
} from "../shared/xfrm";
import { resetRegion, reserve, commit, regionPtr, regionLen, at, append } from "./arena";
import {
  NLH_LEN, NLH_TYPE, NLH_FLAGS, NLH_SEQ, NLH_PID, NLH_SIZE, ID_DADDR, ID_SPI, ID_PROTO, SEL_BYTES, LFT_BYTES,
  USI_SEL, USI_ID, USI_SADDR, USI_LFT, USI_SEQ, USI_REQID, USI_FAMILY, USI_MODE, USI_REPLAY_WINDOW, USI_FLAGS,
  USI_SIZE, UID_DADDR, UID_SPI, UID_FAMILY, UID_PROTO, UID_SIZE, USPI_MIN, USPI_MAX, USPI_SIZE, USF_SIZE,
  UPI_SEL, UPI_LFT, UPI_PRIORITY, UPI_INDEX, UPI_DIR, UPI_ACTION, UPI_FLAGS, UPI_SHARE, UPI_SIZE,
  UPID_SEL, UPID_INDEX, UPID_DIR, UPID_SIZE, ALGO_NAME, ALGO_KEY_LEN, ALGO_KEY, ALGO_PARAM, ALGO_KEY_X,
  ENC_TYPE, ENC_SPORT, ENC_DPORT, ENC_OA, ENC_SIZE, SCTX_LEN, SCTX_EXTTYPE, SCTX_ALG, SCTX_DOI, SCTX_CTX_LEN,
  SCTX_SIZE, MARK_SIZE, UPT_SIZE, RS_OSEQ, RS_SEQ, RS_BITMAP, RS_SIZE, ESN_BMP_LEN, ESN_OSEQ, ESN_SEQ,
  ESN_REPLAY_WINDOW, ESN_SIZE, ESN_SEQ_HI, ESN_OSEQ_HI, AF_SADDR, AF_DADDR, AF_FAMILY, AF_SPLEN, AF_DPLEN, AF_SIZE,
  align4, bswap16, copy16,
} from "./xfrm-wire";

// Longest algorithm key / context / template list one attribute can carry (nla_len is a u16).
const MAX_ATTR_PAYLOAD: u32 = 65000;
const MAX_TMPLS: u32 = 1000;
// ip's default `allocspi` range (ip/xfrm_state.c: "Default value defined in PF_KEY"); IPComp CPIs are 16 bits.
const SPI_MIN_DEFAULT: u32 = 0x100;
const SPI_MAX_DEFAULT: u32 = 0x0fffffff;
const CPI_MAX_DEFAULT: u32 = 0xffff;
// Default attribute order of `ip xfrm state add` when R_ATTR_ORDER is 0: auth, enc, aead, comp, encap, ctx, then
// coa (ip's parser always records where `coa` came; records from writeRecord may carry a care-of address without).
const DEFAULT_ORDER: u32 = 0x7654321;

// Per-call state (no allocation): blob base/length, write cursor.
let blob: usize = 0;
let blobLen: u32 = 0;
let cur: usize = 0;

// @ts-ignore: decorator
@inline function rd8(p: usize): u32 { return <u32>load<u8>(p); }
// @ts-ignore: decorator
@inline function rd32(p: usize): u32 { return load<u32>(p); }

/** Is [off, off+len) inside the blob? Bad offsets drop the item instead of reading stray memory. */
function inBlob(off: u32, len: u32): bool {
  return <u64>off + <u64>len <= <u64>blobLen;
}

/** Start an attribute at the cursor; returns its payload address. The caller ends it with endAttr. */
// @ts-ignore: decorator
@inline function beginAttr(type: u32): usize {
  store<u16>(cur + 2, <u16>type);
  return cur + 4;
}

// @ts-ignore: decorator
@inline function endAttr(payloadLen: u32): void {
  store<u16>(cur, <u16>(payloadLen + 4));
  cur += align4(payloadLen + 4);
}

function attrU32(type: u32, v: u32): void {
  const p = beginAttr(type);
  store<u32>(p, v);
  endAttr(4);
}

function attrMark(rec: usize): void {
  const p = beginAttr(XFRMA_MARK);
  store<u32>(p, rd32(rec + R_MARK_V));
  store<u32>(p + 4, rd32(rec + R_MARK_M));
  endAttr(MARK_SIZE);
}

/** XFRMA_ALG_*: struct xfrm_algo / xfrm_algo_auth / xfrm_algo_aead from an ALG_SIZE slot of the record. */
function attrAlg(rec: usize, slot: u32, type: u32, withParam: bool): void {
  const s = rec + slot;
  let nameLen = rd32(s + ALG_NAME_LEN);
  if (nameLen == 0) return;
  const nameOff = rd32(s + ALG_NAME_OFF);
  const bits = rd32(s + ALG_KEY_BITS);
  const keyBytes = (bits + 7) >>> 3;
  const keyOff = rd32(s + ALG_KEY_OFF);
  if (!inBlob(nameOff, nameLen) || keyBytes > MAX_ATTR_PAYLOAD || (keyBytes > 0 && !inBlob(keyOff, keyBytes))) return;
  if (nameLen > 63) nameLen = 63; // ip strlcpy()s into alg_name[64]
  const p = beginAttr(type);
  memory.copy(p + ALGO_NAME, blob + nameOff, nameLen);
  store<u32>(p + ALGO_KEY_LEN, bits);
  let hdr: u32 = ALGO_KEY;
  if (withParam) {
    store<u32>(p + ALGO_PARAM, rd32(s + ALG_PARAM));
    hdr = ALGO_KEY_X;
  }
  if (keyBytes > 0) memory.copy(p + hdr, blob + keyOff, keyBytes);
  endAttr(hdr + keyBytes);
}

/** XFRMA_SEC_CTX as ip's xfrm_sctx_parse builds it: the string plus its NUL, ctx_len and len counting the NUL. */
function attrCtx(rec: usize): void {
  const off = rd32(rec + R_CTX_OFF);
  const len = rd32(rec + R_CTX_LEN);
  if (len > MAX_ATTR_PAYLOAD || !inBlob(off, len)) return;
  const slen = len + 1;
  const p = beginAttr(XFRMA_SEC_CTX);
  store<u16>(p + SCTX_LEN, <u16>(SCTX_SIZE + slen));
  store<u16>(p + SCTX_EXTTYPE, <u16>XFRMA_SEC_CTX);
  store<u8>(p + SCTX_ALG, load<u8>(rec + R_CTX_ALG));
  store<u8>(p + SCTX_DOI, load<u8>(rec + R_CTX_DOI));
  store<u16>(p + SCTX_CTX_LEN, <u16>slen);
  memory.copy(p + SCTX_SIZE, blob + off, len);
  endAttr(SCTX_SIZE + slen);
}

/** XFRMA_ENCAP from the 24 bytes at R_ENCAP_TYPE of `rec` (or of a blob entry laid out the same way). */
function attrEncap(rec: usize): void {
  const p = beginAttr(XFRMA_ENCAP);
  store<u16>(p + ENC_TYPE, load<u16>(rec + R_ENCAP_TYPE));
  store<u16>(p + ENC_SPORT, <u16>bswap16(<u32>load<u16>(rec + R_ENCAP_SPORT)));
  store<u16>(p + ENC_DPORT, <u16>bswap16(<u32>load<u16>(rec + R_ENCAP_DPORT)));
  copy16(p + ENC_OA, rec + R_ENCAP_OA);
  endAttr(ENC_SIZE);
}

// attrEncap reads R_ENCAP_* offsets: a blob entry at address A is read as a record based at A - R_ENCAP_TYPE.
const ENC_REC_BASE: usize = R_ENCAP_TYPE;
// The encaps given before the record's own (R_ENCAP_PREV chain), oldest first; at most one per AO_* nibble.
const EARLIER_ENCAPS = new StaticArray<u32>(8);

/** Fills EARLIER_ENCAPS with the blob offsets of the chain, oldest first; returns how many. */
function earlierEncaps(rec: usize): i32 {
  let n = 0;
  let link = rd32(rec + R_ENCAP_PREV);
  while (link != 0 && n < 8 && inBlob(link - 1, ENCAP_ENTRY_SIZE)) {
    unchecked(EARLIER_ENCAPS[n++] = link - 1);
    link = load<u32>(blob + link - 1 + ENCAP_ENTRY_LINK);
  }
  for (let i = 0, j = n - 1; i < j; i++, j--) { const t = unchecked(EARLIER_ENCAPS[i]); unchecked(EARLIER_ENCAPS[i] = EARLIER_ENCAPS[j]); unchecked(EARLIER_ENCAPS[j] = t); }
  return n;
}

function attrPolicyType(rec: usize): void {
  const p = beginAttr(XFRMA_POLICY_TYPE);
  store<u8>(p, load<u8>(rec + R_PTYPE));
  endAttr(UPT_SIZE);
}

/** XFRMA_TMPL: the first XFRM_TMPL_SIZE bytes (struct xfrm_user_tmpl) of each TMPL_SIZE-byte template. */
function attrTmpl(rec: usize): void {
  let n = rd32(rec + R_TMPL_COUNT);
  if (n == 0) return;
  if (n > MAX_TMPLS) n = MAX_TMPLS;
  const off = rd32(rec + R_TMPL_OFF);
  if (!inBlob(off, n * TMPL_SIZE)) return;
  const p = beginAttr(XFRMA_TMPL);
  for (let i: u32 = 0; i < n; i++) memory.copy(p + i * XFRM_TMPL_SIZE, blob + off + i * TMPL_SIZE, XFRM_TMPL_SIZE);
  endAttr(n * XFRM_TMPL_SIZE);
}

/** Upper bound of the message size of one record (the output is reserved before writing). */
function bound(rec: usize): u32 {
  // Policies: 16 + 168 + POLICY_TYPE 12 + TMPL header 4 + MARK 12 + SEC_CTX 16 + IF_ID 8 + slack;
  // SAs: 16 + 232 + 4 algorithm headers (80 each) + ENCAP, ESN, EXTRA_FLAGS, MARK, IF_ID, SRCADDR, filter + slack.
  const kind = <i32>load<u8>(rec + R_KIND);
  let b: u32 = kind >= OP_SP_ADD ? 320 : 896; // + COADDR 20, OFFLOAD_DEV 12, TFCPAD 8, SET_MARK(_MASK) 16
  b += (rd32(rec + R_ALG_AUTH + ALG_KEY_BITS) + 7) >>> 3;
  b += (rd32(rec + R_ALG_ENC + ALG_KEY_BITS) + 7) >>> 3;
  b += (rd32(rec + R_ALG_AEAD + ALG_KEY_BITS) + 7) >>> 3;
  b += (rd32(rec + R_ALG_COMP + ALG_KEY_BITS) + 7) >>> 3;
  b += rd32(rec + R_CTX_LEN);
  const n = rd32(rec + R_TMPL_COUNT);
  b += (n > MAX_TMPLS ? MAX_TMPLS : n) * XFRM_TMPL_SIZE;
  return b;
}

function saFamily(rec: usize): u16 {
  const f = load<u8>(rec + R_FAMILY);
  return f != 0 ? <u16>f : <u16>AF_INET;
}

/** Copy the selector; policies get ip's default family (the record's, else AF_INET) when the selector has none. */
function putSel(dst: usize, rec: usize, defaultFamily: bool): void {
  memory.copy(dst, rec + R_SEL, SEL_BYTES);
  if (defaultFamily && load<u16>(dst + SEL_FAMILY) == 0) store<u16>(dst + SEL_FAMILY, saFamily(rec));
}

/** NEWSA/UPDSA: struct xfrm_usersa_info + attributes in xfrm_state_modify's order. */
function encSaAdd(rec: usize, p: usize, flags: u32): void {
  putSel(p + USI_SEL, rec, false); // ip leaves sel.family 0 without `sel`; the kernel fills it in
  copy16(p + USI_ID + ID_DADDR, rec + R_DADDR);
  store<u32>(p + USI_ID + ID_SPI, rd32(rec + R_SPI));
  store<u8>(p + USI_ID + ID_PROTO, load<u8>(rec + R_PROTO));
  copy16(p + USI_SADDR, rec + R_SADDR);
  memory.copy(p + USI_LFT, rec + R_LFT, LFT_BYTES);
  store<u32>(p + USI_SEQ, rd32(rec + R_SEQ));
  store<u32>(p + USI_REQID, rd32(rec + R_REQID));
  store<u16>(p + USI_FAMILY, saFamily(rec));
  store<u8>(p + USI_MODE, load<u8>(rec + R_MODE));
  const saflags = rd8(rec + R_SAFLAGS);
  store<u8>(p + USI_FLAGS, <u8>saflags);
  cur = p + USI_SIZE;

  // Algorithms, encap and ctx: in command-line order (R_ATTR_ORDER), anything not listed in the default order.
  let order = rd32(rec + R_ATTR_ORDER);
  if (order == 0) order = DEFAULT_ORDER;
  let done: u32 = 0;
  const earlier = (flags & RF_HAS_ENCAP) != 0 ? earlierEncaps(rec) : 0;
  let nextEarlier = 0;
  for (let pass = 0; pass < 2; pass++) {
    while (order != 0) {
      const code = order & 15;
      order >>>= 4;
      // a repeated `encap`: its earlier occurrences come first, each at its own place in the order
      if (code == AO_ENCAP && pass == 0 && nextEarlier < earlier) { attrEncap(blob - ENC_REC_BASE + unchecked(EARLIER_ENCAPS[nextEarlier++])); continue; }
      if (code == 0 || code > 7 || (done & (1 << code)) != 0) continue;
      done |= 1 << code;
      if (code == AO_AUTH) {
        if ((flags & RF_AUTH_TRUNC) != 0) attrAlg(rec, R_ALG_AUTH, XFRMA_ALG_AUTH_TRUNC, true);
        else attrAlg(rec, R_ALG_AUTH, XFRMA_ALG_AUTH, false);
      } else if (code == AO_ENC) attrAlg(rec, R_ALG_ENC, XFRMA_ALG_CRYPT, false);
      else if (code == AO_AEAD) attrAlg(rec, R_ALG_AEAD, XFRMA_ALG_AEAD, true);
      else if (code == AO_COMP) attrAlg(rec, R_ALG_COMP, XFRMA_ALG_COMP, false);
      else if (code == AO_ENCAP) { if ((flags & RF_HAS_ENCAP) != 0) attrEncap(rec); }
      else if (code == AO_CTX) { if ((flags & RF_HAS_CTX) != 0) attrCtx(rec); }
      else if (code == AO_COA) {
        const off = rd32(rec + R_COA_OFF);
        if ((flags & RF_HAS_COA) != 0 && inBlob(off, 16)) { const a = beginAttr(XFRMA_COADDR); copy16(a, blob + off); endAttr(16); }
      }
    }
    order = DEFAULT_ORDER;
  }

  if ((flags & RF_HAS_OFFLOAD) != 0) { // struct xfrm_user_offload { int ifindex; __u8 flags; } (8 bytes)
    const a = beginAttr(XFRMA_OFFLOAD_DEV);
    store<i32>(a, load<i32>(rec + R_OFFLOAD_IFINDEX));
    store<u32>(a + 4, rd32(rec + R_OFFLOAD_FLAGS) & 0xff);
    endAttr(8);
  }
  // Replay: ESN state when `flag esn` or a window above 32 (the bitmap of struct xfrm_replay_state), else the
  // u8 replay_window plus XFRMA_REPLAY_VAL when a sequence number was given.
  const win8 = rd8(rec + R_REPLAY);
  const winFull = rd32(rec + R_REPLAY_WIN);
  const win = winFull != 0 ? winFull : win8;
  const seq = rd32(rec + R_REPLAY_SEQ);
  const oseq = rd32(rec + R_REPLAY_OSEQ);
  if ((flags & RF_REPLAY_ESN) != 0 || (saflags & XFRM_STATE_ESN) != 0 || win > 32) {
    const a = beginAttr(XFRMA_REPLAY_ESN_VAL);
    store<u32>(a + ESN_BMP_LEN, (win + 31) >>> 5);
    store<u32>(a + ESN_OSEQ, oseq);
    store<u32>(a + ESN_SEQ, seq);
    store<u32>(a + ESN_OSEQ_HI, rd32(rec + R_REPLAY_OSEQ_HI));
    store<u32>(a + ESN_SEQ_HI, rd32(rec + R_REPLAY_SEQ_HI));
    store<u32>(a + ESN_REPLAY_WINDOW, win);
    endAttr(ESN_SIZE);
  } else {
    if (seq != 0 || oseq != 0) {
      const a = beginAttr(XFRMA_REPLAY_VAL);
      store<u32>(a + RS_OSEQ, oseq);
      store<u32>(a + RS_SEQ, seq);
      store<u32>(a + RS_BITMAP, rd32(rec + R_REPLAY_BITMAP));
      endAttr(RS_SIZE);
    }
    store<u8>(p + USI_REPLAY_WINDOW, <u8>win);
  }
  const extra = rd32(rec + R_EXTRA_FLAGS);
  if (extra != 0) attrU32(XFRMA_SA_EXTRA_FLAGS, extra);
  if ((flags & RF_HAS_MARK) != 0 && rd32(rec + R_MARK_M) != 0) attrMark(rec);
  if ((flags & RF_HAS_IFID) != 0) attrU32(XFRMA_IF_ID, rd32(rec + R_IFID));
  if (rd32(rec + R_TFCPAD) != 0) attrU32(XFRMA_TFCPAD, rd32(rec + R_TFCPAD));
  if (rd32(rec + R_SET_MARK_V) != 0) attrU32(XFRMA_SET_MARK, rd32(rec + R_SET_MARK_V));
  if (rd32(rec + R_SET_MARK_M) != 0) attrU32(XFRMA_SET_MARK_MASK, rd32(rec + R_SET_MARK_M));
}

/** DELSA/GETSA: struct xfrm_usersa_id + XFRMA_SRCADDR (ip always sends it, zeros without `src`) + XFRMA_MARK. */
function encSaId(rec: usize, p: usize, flags: u32): void {
  copy16(p + UID_DADDR, rec + R_DADDR);
  store<u32>(p + UID_SPI, rd32(rec + R_SPI));
  store<u16>(p + UID_FAMILY, saFamily(rec));
  store<u8>(p + UID_PROTO, load<u8>(rec + R_PROTO));
  cur = p + UID_SIZE;
  if ((flags & RF_NO_SRCADDR) == 0) {
    const a = beginAttr(XFRMA_SRCADDR);
    copy16(a, rec + R_SADDR);
    endAttr(16);
  }
  if ((flags & RF_HAS_MARK) != 0 && (rd32(rec + R_MARK_M) & rd32(rec + R_MARK_V)) != 0) attrMark(rec);
}

/** ALLOCSPI: struct xfrm_userspi_info (ip fills id, saddr, family, mode, reqid, seq; lifetimes stay 0). */
function encAllocSpi(rec: usize, p: usize, flags: u32): void {
  putSel(p + USI_SEL, rec, false);
  copy16(p + USI_ID + ID_DADDR, rec + R_DADDR);
  store<u32>(p + USI_ID + ID_SPI, rd32(rec + R_SPI));
  const proto = rd8(rec + R_PROTO);
  store<u8>(p + USI_ID + ID_PROTO, <u8>proto);
  copy16(p + USI_SADDR, rec + R_SADDR);
  store<u32>(p + USI_SEQ, rd32(rec + R_SEQ));
  store<u32>(p + USI_REQID, rd32(rec + R_REQID));
  store<u16>(p + USI_FAMILY, saFamily(rec));
  store<u8>(p + USI_MODE, load<u8>(rec + R_MODE));
  let min = rd32(rec + R_SPI_MIN);
  let max = rd32(rec + R_SPI_MAX);
  if (min == 0 && max == 0 && (flags & RF_SPI_RANGE) == 0) {
    min = SPI_MIN_DEFAULT;
    max = proto == IPPROTO_COMP ? CPI_MAX_DEFAULT : SPI_MAX_DEFAULT;
  }
  store<u32>(p + USPI_MIN, min);
  store<u32>(p + USPI_MAX, max);
  cur = p + USPI_SIZE;
  if ((flags & RF_HAS_MARK) != 0 && (rd32(rec + R_MARK_M) & rd32(rec + R_MARK_V)) != 0) attrMark(rec);
}

/** GETSA dump as `ip xfrm state list` sends it: [XFRMA_PROTO] + XFRMA_ADDRESS_FILTER (prefix lengths from sel). */
function encSaDump(rec: usize, p: usize): void {
  cur = p;
  const proto = rd8(rec + R_PROTO);
  if (proto != 0) {
    const a = beginAttr(XFRMA_PROTO);
    store<u8>(a, <u8>proto);
    endAttr(1);
  }
  const a = beginAttr(XFRMA_ADDRESS_FILTER);
  copy16(a + AF_SADDR, rec + R_SADDR);
  copy16(a + AF_DADDR, rec + R_DADDR);
  store<u16>(a + AF_FAMILY, <u16>rd8(rec + R_FAMILY));
  store<u8>(a + AF_SPLEN, load<u8>(rec + R_SEL + SEL_PREFIXLEN_S));
  store<u8>(a + AF_DPLEN, load<u8>(rec + R_SEL + SEL_PREFIXLEN_D));
  endAttr(AF_SIZE);
}

function hasPtype(rec: usize, flags: u32): bool {
  return (flags & RF_HAS_PTYPE) != 0 || load<u8>(rec + R_PTYPE) != 0;
}

/** NEWPOLICY/UPDPOLICY: struct xfrm_userpolicy_info + POLICY_TYPE, TMPL, MARK, SEC_CTX, IF_ID (xfrm_policy_modify). */
function encSpAdd(rec: usize, p: usize, flags: u32): void {
  putSel(p + UPI_SEL, rec, true);
  memory.copy(p + UPI_LFT, rec + R_LFT, LFT_BYTES);
  store<u32>(p + UPI_PRIORITY, rd32(rec + R_PRIORITY));
  store<u32>(p + UPI_INDEX, rd32(rec + R_INDEX));
  store<u8>(p + UPI_DIR, load<u8>(rec + R_DIR));
  store<u8>(p + UPI_ACTION, load<u8>(rec + R_ACTION));
  store<u8>(p + UPI_FLAGS, load<u8>(rec + R_POLFLAGS));
  store<u8>(p + UPI_SHARE, load<u8>(rec + R_SHARE));
  cur = p + UPI_SIZE;
  if (hasPtype(rec, flags)) attrPolicyType(rec);
  attrTmpl(rec);
  if ((flags & RF_HAS_MARK) != 0 && rd32(rec + R_MARK_M) != 0) attrMark(rec);
  if ((flags & RF_HAS_CTX) != 0) attrCtx(rec);
  if ((flags & RF_HAS_IFID) != 0) attrU32(XFRMA_IF_ID, rd32(rec + R_IFID));
}

/** DELPOLICY/GETPOLICY: struct xfrm_userpolicy_id + POLICY_TYPE, MARK (if mask & value), SEC_CTX, IF_ID. */
function encSpId(rec: usize, p: usize, flags: u32): void {
  putSel(p + UPID_SEL, rec, true);
  store<u32>(p + UPID_INDEX, rd32(rec + R_INDEX));
  store<u8>(p + UPID_DIR, load<u8>(rec + R_DIR));
  cur = p + UPID_SIZE;
  if (hasPtype(rec, flags)) attrPolicyType(rec);
  if ((flags & RF_HAS_MARK) != 0 && (rd32(rec + R_MARK_M) & rd32(rec + R_MARK_V)) != 0) attrMark(rec);
  if ((flags & RF_HAS_CTX) != 0) attrCtx(rec);
  if ((flags & RF_HAS_IFID) != 0) attrU32(XFRMA_IF_ID, rd32(rec + R_IFID));
}

/**
 * Encode one record at `m` (zeroed, large enough); returns the NLMSG_ALIGN'd length, 0 for kinds that make no
 * message. Writes nlmsg_len unaligned as the kernel and ip expect (FLUSHSA is 17 bytes long).
 */
function encodeOne(rec: usize, m: usize, seq: u32, encFlags: u32): u32 {
  const kind = <i32>load<u8>(rec + R_KIND);
  const flags = rd32(rec + R_FLAGS);
  const p = m + NLH_SIZE;
  let type: u32 = 0;
  let nlf: u32 = NLM_F_REQUEST;
  let ipAck = true; // does `ip` ask for an ack on this request? (rtnl_talk without an answer buffer)
  let len: u32 = 0;
  switch (kind) {
    case OP_SA_ADD: case OP_SA_UPDATE:
      type = kind == OP_SA_ADD ? XFRM_MSG_NEWSA : XFRM_MSG_UPDSA;
      encSaAdd(rec, p, flags);
      break;
    case OP_SA_DELETE: case OP_SA_GET:
      type = kind == OP_SA_DELETE ? XFRM_MSG_DELSA : XFRM_MSG_GETSA;
      ipAck = kind == OP_SA_DELETE;
      encSaId(rec, p, flags);
      break;
    case OP_SA_ALLOCSPI:
      type = XFRM_MSG_ALLOCSPI;
      ipAck = false;
      encAllocSpi(rec, p, flags);
      break;
    case OP_SA_FLUSH:
      type = XFRM_MSG_FLUSHSA;
      store<u8>(p, load<u8>(rec + R_PROTO));
      cur = p + USF_SIZE;
      break;
    case OP_SA_DUMP:
      type = XFRM_MSG_GETSA;
      nlf |= NLM_F_DUMP;
      ipAck = false;
      encSaDump(rec, p);
      break;
    case OP_SA_DELETEALL: // ip's deleteall starts with a bare dump; the engine turns the answer into DELSAs
      type = XFRM_MSG_GETSA;
      nlf |= NLM_F_DUMP;
      ipAck = false;
      cur = p;
      break;
    case OP_SP_ADD: case OP_SP_UPDATE:
      type = kind == OP_SP_ADD ? XFRM_MSG_NEWPOLICY : XFRM_MSG_UPDPOLICY;
      encSpAdd(rec, p, flags);
      break;
    case OP_SP_DELETE: case OP_SP_GET:
      type = kind == OP_SP_DELETE ? XFRM_MSG_DELPOLICY : XFRM_MSG_GETPOLICY;
      ipAck = kind == OP_SP_DELETE;
      encSpId(rec, p, flags);
      break;
    case OP_SP_FLUSH:
      type = XFRM_MSG_FLUSHPOLICY;
      cur = p;
      if (hasPtype(rec, flags)) attrPolicyType(rec);
      break;
    case OP_SP_DUMP: case OP_SP_DELETEALL:
      type = XFRM_MSG_GETPOLICY;
      nlf |= NLM_F_DUMP;
      ipAck = false;
      cur = p;
      break;
    default:
      return 0;
  }
  // Attributes end aligned; only a fixed part may end unaligned (xfrm_usersa_flush).
  len = <u32>(cur - m);
  if ((encFlags & XENC_ACK) != 0 || ((encFlags & XENC_IP_ACK) != 0 && ipAck)) nlf |= NLM_F_ACK;
  if ((flags & RF_NO_ACK) != 0) nlf &= ~NLM_F_ACK;
  store<u32>(m + NLH_LEN, len);
  store<u16>(m + NLH_TYPE, <u16>type);
  store<u16>(m + NLH_FLAGS, <u16>nlf);
  store<u32>(m + NLH_SEQ, seq);
  store<u32>(m + NLH_PID, 0);
  return align4(len);
}

/**
 * Encode records [first, end) of REGION_RECORDS into REGION_OUTPUT, one netlink message per record (kinds without a
 * request, e.g. OP_EXIT, are consumed silently), appending each message's record index (u32) to REGION_MAP.
 * nlmsg_seq = seqBase + k for the k-th message, nlmsg_pid 0. Stops before the output would exceed maxBytes (always
 * at least one message). flags: XENC_ACK = NLM_F_ACK on every message; XENC_IP_ACK = only where `ip` sets it
 * (not on get/allocspi/dump). Records with RF_NO_ACK never get it. Returns how many records were consumed.
 */
export function xfrmEncode(first: u32, end: u32, seqBase: u32, flags: u32, maxBytes: u32): u32 {
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
    const m = reserve(REGION_OUTPUT, b); // grows only REGION_OUTPUT: rec and blob stay where they are
    memory.fill(m, 0, b);
    const len = encodeOne(rec, m, seqBase + k, flags);
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

/** Number of messages the last xfrmEncode produced (= REGION_MAP length / 4). */
export function xfrmEncodeCount(): u32 {
  return regionLen(REGION_MAP) >>> 2;
}
