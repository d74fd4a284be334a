// asm/src/xfrm-decode.ts — XFRM netlink bytes → records (layer: asm). Owns xfrmDecode: every XFRM message of a
// datagram in REGION_INPUT becomes one record (fixed struct fields + known attributes), with a raw copy of the whole
// message in REGION_BLOB (R_ATTRS_OFF/LEN cover its attributes; names, keys and ctx point into that copy). Layouts
// follow the kernel's net/xfrm/xfrm_user.c (copy_to_user_state_extra, copy_to_user_policy, xfrm_notify_sa/_policy,
// build_acquire, build_expire, build_aevent, build_report, build_mapping). Bad lengths never trap: they are counted.
import {
  REGION_INPUT, REGION_RECORDS, REGION_BLOB, REC_SIZE,
  R_KIND, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_SEL, SEL_FAMILY, SEL_PREFIXLEN_D, SEL_PREFIXLEN_S,
  R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REPLAY, R_SAFLAGS, R_REQID, R_PRIORITY, R_INDEX, R_POLFLAGS,
  R_SHARE, R_PTYPE, R_STATE, R_LFT, R_CUR, R_STATS, R_SEQ, R_ALG_AUTH, R_ALG_ENC, R_ALG_AEAD, R_ALG_COMP,
  ALG_NAME_OFF, ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS, ALG_PARAM, R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT,
  R_ENCAP_OA, R_CTX_DOI, R_CTX_ALG, R_CTX_OFF, R_CTX_LEN, R_MARK_V, R_MARK_M, R_IFID, R_EXTRA_FLAGS, R_TMPL_OFF,
  R_TMPL_COUNT, R_REPLAY_WIN, R_SPI_MIN, R_SPI_MAX, R_AUX, R_AUX2, R_ATTRS_OFF, R_ATTRS_LEN, R_MSGTYPE,
  R_NLFLAGS, R_NLSEQ, R_NLPID, R_HARD, R_LASTUSED, R_REPLAY_SEQ, R_REPLAY_OSEQ, R_REPLAY_BITMAP, R_ATTR_ORDER,
  AO_AUTH, AO_ENC, AO_AEAD, AO_COMP, AO_ENCAP, AO_CTX, AO_COA, R_COA_OFF, RF_HAS_COA,
  RF_HAS_MARK, RF_HAS_IFID, RF_AUTH_TRUNC, RF_HAS_ENCAP, RF_HAS_CTX, RF_HAS_SRCADDR, RF_HAS_SPI,
  RF_HAS_EXTRA_FLAGS, RF_REPLAY_ESN, RF_HAS_SEL, RF_HAS_PROTO, RF_HAS_LFT, RF_HAS_PRIORITY, RF_HAS_INDEX,
  RF_HAS_DIR, RF_HAS_PTYPE, TMPL_SIZE, XFRM_TMPL_SIZE,
  OP_NONE, OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_GET, OP_SA_FLUSH, OP_SA_DUMP, OP_SA_ALLOCSPI,
  OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE, OP_SP_GET, OP_SP_FLUSH, OP_SP_DUMP,
} from "../shared/layout";
import {
  NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN, NLM_F_DUMP,
  XFRM_MSG_NEWSA, XFRM_MSG_UPDSA, XFRM_MSG_DELSA, XFRM_MSG_GETSA, XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY,
  XFRM_MSG_DELPOLICY, XFRM_MSG_GETPOLICY, XFRM_MSG_ALLOCSPI, XFRM_MSG_ACQUIRE, XFRM_MSG_EXPIRE, XFRM_MSG_POLEXPIRE,
  XFRM_MSG_FLUSHSA, XFRM_MSG_FLUSHPOLICY, XFRM_MSG_NEWAE, XFRM_MSG_GETAE, XFRM_MSG_REPORT, XFRM_MSG_MIGRATE,
  XFRM_MSG_NEWSADINFO, XFRM_MSG_GETSADINFO, XFRM_MSG_NEWSPDINFO, XFRM_MSG_GETSPDINFO, XFRM_MSG_MAPPING,
  XFRM_MSG_SETDEFAULT, XFRM_MSG_GETDEFAULT,
  XFRMA_ALG_AUTH, XFRMA_ALG_CRYPT, XFRMA_ALG_COMP, XFRMA_ENCAP, XFRMA_TMPL, XFRMA_SA, XFRMA_POLICY,
  XFRMA_SEC_CTX, XFRMA_LTIME_VAL, XFRMA_REPLAY_VAL, XFRMA_SRCADDR, XFRMA_LASTUSED, XFRMA_POLICY_TYPE,
  XFRMA_ALG_AEAD, XFRMA_ALG_AUTH_TRUNC, XFRMA_MARK, XFRMA_REPLAY_ESN_VAL, XFRMA_SA_EXTRA_FLAGS, XFRMA_PROTO,
  XFRMA_ADDRESS_FILTER, XFRMA_IF_ID, XFRMA_COADDR, XDEC_RESET, XDEC_KEEP_ALL,
} from "../shared/xfrm";
import { resetRegion, regionPtr, regionLen, at, append } from "./arena";
import {
  NLH_LEN, NLH_TYPE, NLH_FLAGS, NLH_SEQ, NLH_PID, NLH_SIZE, NLA_TYPE_MASK, ID_DADDR, ID_SPI, ID_PROTO, SEL_BYTES,
  LFT_BYTES, CUR_BYTES_SIZE, STATS_BYTES, USI_SEL, USI_ID, USI_SADDR, USI_LFT, USI_CURLFT, USI_STATS, USI_SEQ,
  USI_REQID, USI_FAMILY, USI_MODE, USI_REPLAY_WINDOW, USI_FLAGS, USI_SIZE, UID_DADDR, UID_SPI, UID_FAMILY,
  UID_PROTO, UID_SIZE, USPI_MIN, USPI_MAX, USPI_SIZE, UPI_SEL, UPI_LFT, UPI_CURLFT, UPI_PRIORITY, UPI_INDEX,
  UPI_DIR, UPI_ACTION, UPI_FLAGS, UPI_SHARE, UPI_SIZE, UPID_SEL, UPID_INDEX, UPID_DIR, UPID_SIZE, UEXP_HARD,
  UEXP_SIZE, UPEXP_HARD, UPEXP_SIZE, UACQ_ID, UACQ_SADDR, UACQ_SEL, UACQ_POLICY, UACQ_AALGOS, UACQ_EALGOS,
  UACQ_SEQ, UACQ_SIZE, AEV_SA_ID, AEV_SADDR, AEV_FLAGS, AEV_REQID, AEV_SIZE, UREP_PROTO, UREP_SEL, UREP_SIZE,
  UMAP_ID, UMAP_REQID, UMAP_OLD_SADDR, UMAP_NEW_SADDR, UMAP_OLD_SPORT, UMAP_NEW_SPORT, UMAP_SIZE, ALGO_NAME_MAX,
  ALGO_KEY_LEN, ALGO_KEY, ALGO_PARAM, ALGO_KEY_X, ENC_TYPE, ENC_SPORT, ENC_DPORT, ENC_OA, ENC_SIZE, SCTX_ALG,
  SCTX_DOI, SCTX_CTX_LEN, SCTX_SIZE, MARK_SIZE, RS_OSEQ, RS_SEQ, RS_BITMAP, RS_SIZE, ESN_BMP_LEN, ESN_OSEQ,
  ESN_SEQ, ESN_REPLAY_WINDOW, ESN_BMP, ESN_SIZE, AF_SADDR, AF_DADDR, AF_FAMILY, AF_SPLEN, AF_DPLEN, AF_SIZE,
  align4, bswap16, copy16, xfrmFixedSize,
} from "./xfrm-wire";

let malformed: u32 = 0;
// Per message: input address of the message, blob offset of its copy (names/keys/ctx point into it), record address.
let msgIn: usize = 0;
let msgBlob: u32 = 0;
let rec: usize = 0;
let bad: bool = false;
let authTrunc: bool = false;
let orderShift: u32 = 0;

/** Remember the order of algorithm/encap/ctx attributes (R_ATTR_ORDER) so a re-encode keeps it. */
function noteOrder(code: u32): void {
  const o = load<u32>(rec + R_ATTR_ORDER);
  for (let s: u32 = 0; s < orderShift; s += 4) if (((o >>> s) & 15) == code) return;
  if (orderShift >= 32) return;
  store<u32>(rec + R_ATTR_ORDER, o | (code << orderShift));
  orderShift += 4;
}

// @ts-ignore: decorator
@inline function rd32(p: usize): u32 { return load<u32>(p); }
// @ts-ignore: decorator
@inline function setFlag(f: u32): void { store<u32>(rec + R_FLAGS, load<u32>(rec + R_FLAGS) | f); }

/** Blob offset (inside the message copy) of input address p. */
// @ts-ignore: decorator
@inline function blobOf(p: usize): u32 { return msgBlob + <u32>(p - msgIn); }


// ---- fixed structs → record ----

/** struct xfrm_usersa_info at p. */
function takeSaInfo(p: usize): void {
  memory.copy(rec + R_SEL, p + USI_SEL, SEL_BYTES);
  copy16(rec + R_DADDR, p + USI_ID + ID_DADDR);
  store<u32>(rec + R_SPI, rd32(p + USI_ID + ID_SPI));
  store<u8>(rec + R_PROTO, load<u8>(p + USI_ID + ID_PROTO));
  copy16(rec + R_SADDR, p + USI_SADDR);
  memory.copy(rec + R_LFT, p + USI_LFT, LFT_BYTES);
  memory.copy(rec + R_CUR, p + USI_CURLFT, CUR_BYTES_SIZE);
  memory.copy(rec + R_STATS, p + USI_STATS, STATS_BYTES);
  store<u32>(rec + R_SEQ, rd32(p + USI_SEQ));
  store<u32>(rec + R_REQID, rd32(p + USI_REQID));
  store<u8>(rec + R_FAMILY, <u8>load<u16>(p + USI_FAMILY));
  store<u8>(rec + R_MODE, load<u8>(p + USI_MODE));
  store<u8>(rec + R_REPLAY, load<u8>(p + USI_REPLAY_WINDOW));
  store<u8>(rec + R_SAFLAGS, load<u8>(p + USI_FLAGS));
  store<u32>(rec + R_REPLAY_WIN, <u32>load<u8>(p + USI_REPLAY_WINDOW));
  store<u8>(rec + R_STATE, 1); // a dumped/notified SA is usable: PF_KEY's SADB_SASTATE_MATURE
  setFlag(RF_HAS_SPI | RF_HAS_PROTO | RF_HAS_SRCADDR | RF_HAS_SEL | RF_HAS_LFT);
}

/** struct xfrm_usersa_id at p. */
function takeSaId(p: usize): void {
  copy16(rec + R_DADDR, p + UID_DADDR);
  store<u32>(rec + R_SPI, rd32(p + UID_SPI));
  store<u8>(rec + R_FAMILY, <u8>load<u16>(p + UID_FAMILY));
  store<u8>(rec + R_PROTO, load<u8>(p + UID_PROTO));
  setFlag(RF_HAS_SPI | RF_HAS_PROTO);
}

/** struct xfrm_userpolicy_info at p. */
function takePolicyInfo(p: usize): void {
  memory.copy(rec + R_SEL, p + UPI_SEL, SEL_BYTES);
  store<u8>(rec + R_FAMILY, <u8>load<u16>(p + UPI_SEL + SEL_FAMILY));
  memory.copy(rec + R_LFT, p + UPI_LFT, LFT_BYTES);
  memory.copy(rec + R_CUR, p + UPI_CURLFT, CUR_BYTES_SIZE);
  store<u32>(rec + R_PRIORITY, rd32(p + UPI_PRIORITY));
  store<u32>(rec + R_INDEX, rd32(p + UPI_INDEX));
  store<u8>(rec + R_DIR, load<u8>(p + UPI_DIR));
  store<u8>(rec + R_ACTION, load<u8>(p + UPI_ACTION));
  store<u8>(rec + R_POLFLAGS, load<u8>(p + UPI_FLAGS));
  store<u8>(rec + R_SHARE, load<u8>(p + UPI_SHARE));
  setFlag(RF_HAS_SEL | RF_HAS_LFT | RF_HAS_PRIORITY | RF_HAS_INDEX | RF_HAS_DIR);
}

/** struct xfrm_userpolicy_id at p. */
function takePolicyId(p: usize): void {
  memory.copy(rec + R_SEL, p + UPID_SEL, SEL_BYTES);
  store<u8>(rec + R_FAMILY, <u8>load<u16>(p + UPID_SEL + SEL_FAMILY));
  store<u32>(rec + R_INDEX, rd32(p + UPID_INDEX));
  store<u8>(rec + R_DIR, load<u8>(p + UPID_DIR));
  setFlag(RF_HAS_SEL | RF_HAS_DIR);
}

// ---- attributes → record ----

/** An XFRMA_ALG_* attribute (payload at p, n bytes) into an ALG_SIZE slot; names/keys point into the blob copy. */
function takeAlg(p: usize, n: u32, slot: u32, withParam: bool): void {
  const hdr: u32 = withParam ? ALGO_KEY_X : ALGO_KEY;
  if (n < hdr) { bad = true; return; }
  const bits = rd32(p + ALGO_KEY_LEN);
  const keyBytes = (<u64>bits + 7) >>> 3;
  if (<u64>hdr + keyBytes > <u64>n) { bad = true; return; }
  let nameLen: u32 = 0;
  while (nameLen < <u32>ALGO_NAME_MAX && load<u8>(p + nameLen) != 0) nameLen++;
  if (nameLen == 0) { bad = true; return; }
  const s = rec + slot;
  store<u32>(s + ALG_NAME_OFF, blobOf(p));
  store<u32>(s + ALG_NAME_LEN, nameLen);
  store<u32>(s + ALG_KEY_OFF, blobOf(p + hdr));
  store<u32>(s + ALG_KEY_BITS, bits);
  store<u32>(s + ALG_PARAM, withParam ? rd32(p + ALGO_PARAM) : 0);
}

/** XFRMA_TMPL: n/64 struct xfrm_user_tmpl, re-laid out TMPL_SIZE apart in the blob (our 8 extra bytes zero). */
function takeTmpl(p: usize, n: u32): void {
  const count = n / <u32>XFRM_TMPL_SIZE;
  if (count * <u32>XFRM_TMPL_SIZE != n) bad = true;
  if (count == 0) return;
  const off = append(REGION_BLOB, count * TMPL_SIZE); // may move the blob: only offsets are kept
  const dst = at(REGION_BLOB, off);
  for (let i: u32 = 0; i < count; i++) memory.copy(dst + i * TMPL_SIZE, p + i * XFRM_TMPL_SIZE, XFRM_TMPL_SIZE);
  store<u32>(rec + R_TMPL_OFF, off);
  store<u32>(rec + R_TMPL_COUNT, count);
}

function takeAttr(type: u32, p: usize, n: u32): void {
  switch (type) {
    case XFRMA_ALG_AUTH:
      if (!authTrunc) takeAlg(p, n, R_ALG_AUTH, false); // the kernel sends ALG_AUTH and ALG_AUTH_TRUNC: TRUNC wins
      noteOrder(AO_AUTH);
      break;
    case XFRMA_ALG_AUTH_TRUNC: {
      takeAlg(p, n, R_ALG_AUTH, true);
      if (load<u32>(rec + R_ALG_AUTH + ALG_NAME_LEN) != 0 && n >= <u32>ALGO_KEY_X) { authTrunc = true; setFlag(RF_AUTH_TRUNC); }
      noteOrder(AO_AUTH);
      break;
    }
    case XFRMA_ALG_CRYPT: takeAlg(p, n, R_ALG_ENC, false); noteOrder(AO_ENC); break;
    case XFRMA_ALG_COMP: takeAlg(p, n, R_ALG_COMP, false); noteOrder(AO_COMP); break;
    case XFRMA_ALG_AEAD: takeAlg(p, n, R_ALG_AEAD, true); noteOrder(AO_AEAD); break;
    case XFRMA_ENCAP:
      if (n < <u32>ENC_SIZE) { bad = true; break; }
      store<u16>(rec + R_ENCAP_TYPE, load<u16>(p + ENC_TYPE));
      store<u16>(rec + R_ENCAP_SPORT, <u16>bswap16(<u32>load<u16>(p + ENC_SPORT)));
      store<u16>(rec + R_ENCAP_DPORT, <u16>bswap16(<u32>load<u16>(p + ENC_DPORT)));
      copy16(rec + R_ENCAP_OA, p + ENC_OA);
      setFlag(RF_HAS_ENCAP);
      noteOrder(AO_ENCAP);
      break;
    case XFRMA_TMPL: takeTmpl(p, n); break;
    case XFRMA_SEC_CTX: {
      if (n < <u32>SCTX_SIZE) { bad = true; break; }
      let len = <u32>load<u16>(p + SCTX_CTX_LEN);
      if (len > n - SCTX_SIZE) { bad = true; break; }
      // ip and setkey send the string with its NUL (ctx_len counts it); the record keeps the text only.
      while (len > 0 && load<u8>(p + SCTX_SIZE + len - 1) == 0) len--;
      store<u8>(rec + R_CTX_DOI, load<u8>(p + SCTX_DOI));
      store<u8>(rec + R_CTX_ALG, load<u8>(p + SCTX_ALG));
      store<u32>(rec + R_CTX_OFF, blobOf(p + SCTX_SIZE));
      store<u32>(rec + R_CTX_LEN, len);
      setFlag(RF_HAS_CTX);
      noteOrder(AO_CTX);
      break;
    }
    case XFRMA_LTIME_VAL:
      if (n < <u32>CUR_BYTES_SIZE) { bad = true; break; }
      memory.copy(rec + R_CUR, p, CUR_BYTES_SIZE);
      break;
    case XFRMA_REPLAY_VAL:
      if (n < <u32>RS_SIZE) { bad = true; break; }
      store<u32>(rec + R_REPLAY_OSEQ, rd32(p + RS_OSEQ));
      store<u32>(rec + R_REPLAY_SEQ, rd32(p + RS_SEQ));
      store<u32>(rec + R_REPLAY_BITMAP, rd32(p + RS_BITMAP));
      break;
    case XFRMA_REPLAY_ESN_VAL:
      if (n < <u32>ESN_SIZE) { bad = true; break; }
      store<u32>(rec + R_REPLAY_OSEQ, rd32(p + ESN_OSEQ));
      store<u32>(rec + R_REPLAY_SEQ, rd32(p + ESN_SEQ));
      store<u32>(rec + R_REPLAY_WIN, rd32(p + ESN_REPLAY_WINDOW));
      if (rd32(p + ESN_BMP_LEN) > 0 && n >= <u32>ESN_BMP + 4) store<u32>(rec + R_REPLAY_BITMAP, rd32(p + ESN_BMP));
      setFlag(RF_REPLAY_ESN);
      break;
    case XFRMA_COADDR: // mode ro states and XFRM_MSG_REPORT: the care-of address, kept in the blob copy
      if (n < 16) { bad = true; break; }
      store<u32>(rec + R_COA_OFF, blobOf(p));
      setFlag(RF_HAS_COA);
      noteOrder(AO_COA);
      break;
    case XFRMA_SRCADDR:
      if (n < 16) { bad = true; break; }
      copy16(rec + R_SADDR, p);
      setFlag(RF_HAS_SRCADDR);
      break;
    case XFRMA_LASTUSED:
      if (n < 8) { bad = true; break; }
      store<u64>(rec + R_LASTUSED, load<u64>(p));
      break;
    case XFRMA_POLICY_TYPE:
      if (n < 1) { bad = true; break; }
      store<u8>(rec + R_PTYPE, load<u8>(p));
      setFlag(RF_HAS_PTYPE);
      break;
    case XFRMA_MARK:
      if (n < <u32>MARK_SIZE) { bad = true; break; }
      store<u32>(rec + R_MARK_V, rd32(p));
      store<u32>(rec + R_MARK_M, rd32(p + 4));
      setFlag(RF_HAS_MARK);
      break;
    case XFRMA_SA_EXTRA_FLAGS:
      if (n < 4) { bad = true; break; }
      store<u32>(rec + R_EXTRA_FLAGS, rd32(p));
      setFlag(RF_HAS_EXTRA_FLAGS);
      break;
    case XFRMA_IF_ID:
      if (n < 4) { bad = true; break; }
      store<u32>(rec + R_IFID, rd32(p));
      setFlag(RF_HAS_IFID);
      break;
    case XFRMA_PROTO: // GETSA dump request filter
      if (n < 1) { bad = true; break; }
      store<u8>(rec + R_PROTO, load<u8>(p));
      setFlag(RF_HAS_PROTO);
      break;
    case XFRMA_ADDRESS_FILTER: // GETSA dump request filter (what `ip xfrm state list` sends)
      if (n < <u32>AF_SIZE) { bad = true; break; }
      copy16(rec + R_SADDR, p + AF_SADDR);
      copy16(rec + R_DADDR, p + AF_DADDR);
      store<u8>(rec + R_FAMILY, <u8>load<u16>(p + AF_FAMILY));
      store<u8>(rec + R_SEL + SEL_PREFIXLEN_S, load<u8>(p + AF_SPLEN));
      store<u8>(rec + R_SEL + SEL_PREFIXLEN_D, load<u8>(p + AF_DPLEN));
      break;
    case XFRMA_SA: // DELSA notifications: the full state follows the xfrm_usersa_id
      if (n < <u32>USI_SIZE) { bad = true; break; }
      takeSaInfo(p);
      store<u8>(rec + R_KIND, <u8>OP_SA_ADD);
      break;
    case XFRMA_POLICY: // DELPOLICY notifications: the full policy follows the xfrm_userpolicy_id
      if (n < <u32>UPI_SIZE) { bad = true; break; }
      takePolicyInfo(p);
      store<u8>(rec + R_KIND, <u8>OP_SP_ADD);
      break;
    default:
      break; // unknown or not mapped: still in the raw copy
  }
}

/** Walk attributes in [p, end); stop at the first impossible length. */
function takeAttrs(p: usize, end: usize): void {
  while (p + 4 <= end) {
    const alen = <u32>load<u16>(p);
    if (alen < 4 || p + <usize>alen > end) { bad = true; return; }
    takeAttr(<u32>load<u16>(p + 2) & NLA_TYPE_MASK, p + 4, alen - 4);
    p += <usize>align4(alen);
  }
  if (p != end && p < end) bad = true;
}

/** Decode one message (input address m, nlmsg_len len, ≥ 16). Returns true if a record was appended. */
function decodeOne(m: usize, len: u32, keepAll: bool): bool {
  const type = <u32>load<u16>(m + NLH_TYPE);
  const nlflags = <u32>load<u16>(m + NLH_FLAGS);
  if (type == NLMSG_NOOP || type == NLMSG_ERROR || type == NLMSG_DONE || type == NLMSG_OVERRUN) return false;
  let fixed = xfrmFixedSize(type, nlflags);
  if (fixed < 0) {
    if (!keepAll) return false;
    fixed = 0;
  }
  const payload = len - NLH_SIZE;
  if (<u32>fixed > payload) { malformed++; return false; }
  const attrStart = align4(<u32>fixed) > payload ? payload : align4(<u32>fixed);

  // Record and raw copy first (appending may move regions); then fill.
  const roff = append(REGION_RECORDS, REC_SIZE);
  msgBlob = append(REGION_BLOB, align4(len));
  memory.copy(at(REGION_BLOB, msgBlob), m, len);
  rec = at(REGION_RECORDS, roff);
  msgIn = m;
  bad = false;
  authTrunc = false;
  orderShift = 0;
  const p = m + NLH_SIZE;
  store<u16>(rec + R_MSGTYPE, <u16>type);
  store<u16>(rec + R_NLFLAGS, <u16>nlflags);
  store<u32>(rec + R_NLSEQ, rd32(m + NLH_SEQ));
  store<u32>(rec + R_NLPID, rd32(m + NLH_PID));
  store<u32>(rec + R_ATTRS_OFF, msgBlob + NLH_SIZE + attrStart);
  store<u32>(rec + R_ATTRS_LEN, payload - attrStart);
  let kind: i32 = OP_NONE;
  const isDump = (nlflags & NLM_F_DUMP) == NLM_F_DUMP;
  switch (type) {
    case XFRM_MSG_NEWSA: takeSaInfo(p); kind = OP_SA_ADD; break;
    case XFRM_MSG_UPDSA: takeSaInfo(p); kind = OP_SA_UPDATE; break;
    case XFRM_MSG_DELSA: takeSaId(p); kind = OP_SA_DELETE; break; // XFRMA_SA (event) turns it into OP_SA_ADD
    case XFRM_MSG_GETSA:
      if (isDump) kind = OP_SA_DUMP;
      else { takeSaId(p); kind = OP_SA_GET; }
      break;
    case XFRM_MSG_ALLOCSPI:
      takeSaInfo(p);
      store<u8>(rec + R_STATE, 0);
      store<u32>(rec + R_SPI_MIN, rd32(p + USPI_MIN));
      store<u32>(rec + R_SPI_MAX, rd32(p + USPI_MAX));
      kind = OP_SA_ALLOCSPI;
      break;
    case XFRM_MSG_EXPIRE:
      takeSaInfo(p);
      store<u8>(rec + R_HARD, load<u8>(p + UEXP_HARD));
      store<u8>(rec + R_STATE, load<u8>(p + UEXP_HARD) != 0 ? 3 : 2); // dead / dying
      kind = OP_SA_ADD;
      break;
    case XFRM_MSG_NEWPOLICY: takePolicyInfo(p); kind = OP_SP_ADD; break;
    case XFRM_MSG_UPDPOLICY: takePolicyInfo(p); kind = OP_SP_UPDATE; break;
    case XFRM_MSG_DELPOLICY: takePolicyId(p); kind = OP_SP_DELETE; break; // XFRMA_POLICY (event) → OP_SP_ADD
    case XFRM_MSG_GETPOLICY:
      if (isDump) kind = OP_SP_DUMP;
      else { takePolicyId(p); kind = OP_SP_GET; }
      break;
    case XFRM_MSG_POLEXPIRE:
      takePolicyInfo(p);
      store<u8>(rec + R_HARD, load<u8>(p + UPEXP_HARD));
      kind = OP_SP_ADD;
      break;
    case XFRM_MSG_ACQUIRE:
      // id/saddr/sel of the packet; the policy's priority/index/dir/...; its selector stays in the raw copy.
      takePolicyInfo(p + UACQ_POLICY);
      memory.copy(rec + R_SEL, p + UACQ_SEL, SEL_BYTES);
      copy16(rec + R_DADDR, p + UACQ_ID + ID_DADDR);
      store<u32>(rec + R_SPI, rd32(p + UACQ_ID + ID_SPI));
      store<u8>(rec + R_PROTO, load<u8>(p + UACQ_ID + ID_PROTO));
      copy16(rec + R_SADDR, p + UACQ_SADDR);
      store<u8>(rec + R_FAMILY, <u8>load<u16>(p + UACQ_SEL + SEL_FAMILY));
      store<u32>(rec + R_AUX, rd32(p + UACQ_AALGOS));
      store<u32>(rec + R_AUX2, rd32(p + UACQ_EALGOS));
      store<u32>(rec + R_SEQ, rd32(p + UACQ_SEQ));
      break;
    case XFRM_MSG_FLUSHSA:
      store<u8>(rec + R_PROTO, load<u8>(p));
      kind = OP_SA_FLUSH;
      break;
    case XFRM_MSG_FLUSHPOLICY: kind = OP_SP_FLUSH; break;
    case XFRM_MSG_NEWAE: case XFRM_MSG_GETAE:
      takeSaId(p + AEV_SA_ID);
      copy16(rec + R_SADDR, p + AEV_SADDR);
      store<u32>(rec + R_AUX, rd32(p + AEV_FLAGS));
      store<u32>(rec + R_REQID, rd32(p + AEV_REQID));
      break;
    case XFRM_MSG_REPORT:
      store<u8>(rec + R_PROTO, load<u8>(p + UREP_PROTO));
      memory.copy(rec + R_SEL, p + UREP_SEL, SEL_BYTES);
      store<u8>(rec + R_FAMILY, <u8>load<u16>(p + UREP_SEL + SEL_FAMILY));
      break;
    case XFRM_MSG_MIGRATE: takePolicyId(p); break;
    case XFRM_MSG_MAPPING:
      // NAT-T mapping change: old source in R_SADDR/R_ENCAP_SPORT, new one in R_ENCAP_OA/R_ENCAP_DPORT.
      takeSaId(p + UMAP_ID);
      store<u32>(rec + R_REQID, rd32(p + UMAP_REQID));
      copy16(rec + R_SADDR, p + UMAP_OLD_SADDR);
      copy16(rec + R_ENCAP_OA, p + UMAP_NEW_SADDR);
      store<u16>(rec + R_ENCAP_SPORT, <u16>bswap16(<u32>load<u16>(p + UMAP_OLD_SPORT)));
      store<u16>(rec + R_ENCAP_DPORT, <u16>bswap16(<u32>load<u16>(p + UMAP_NEW_SPORT)));
      break;
    case XFRM_MSG_NEWSADINFO: case XFRM_MSG_GETSADINFO: case XFRM_MSG_NEWSPDINFO: case XFRM_MSG_GETSPDINFO:
      store<u32>(rec + R_AUX, rd32(p));
      break;
    default:
      break; // SETDEFAULT/GETDEFAULT (3 bytes) and unknown types: raw copy only
  }
  store<u8>(rec + R_KIND, <u8>kind);
  // Attributes: only XFRM types have them after the fixed part; unknown types keep their payload raw.
  if (xfrmFixedSize(type, nlflags) >= 0) takeAttrs(p + attrStart, m + len);
  if (bad) malformed++;
  return true;
}

/**
 * Decode the netlink messages in REGION_INPUT [0, len) into records. flags: XDEC_RESET empties REGION_RECORDS and
 * REGION_BLOB first (else records are appended, e.g. datagram by datagram of one dump); XDEC_KEEP_ALL also makes
 * OP_NONE records of non-XFRM message types. NLMSG_ERROR/DONE/NOOP/OVERRUN make no records. Returns how many
 * records were appended; xfrmDecodeMalformed() tells how many messages were truncated or had bad lengths.
 */
export function xfrmDecode(len: u32, flags: u32): u32 {
  malformed = 0;
  if ((flags & XDEC_RESET) != 0) {
    resetRegion(REGION_RECORDS);
    resetRegion(REGION_BLOB);
  }
  const inLen = regionLen(REGION_INPUT);
  if (len > inLen) len = inLen;
  const base = regionPtr(REGION_INPUT);
  const keepAll = (flags & XDEC_KEEP_ALL) != 0;
  let off: u32 = 0;
  let n: u32 = 0;
  while (off + NLH_SIZE <= len) {
    const m = base + off;
    const mlen = rd32(m + NLH_LEN);
    if (mlen < NLH_SIZE || <u64>off + <u64>mlen > <u64>len) { malformed++; break; } // cannot resync after this
    if (decodeOne(m, mlen, keepAll)) n++;
    off += align4(mlen);
  }
  if (off < len && off + NLH_SIZE > len && malformed == 0) malformed++; // trailing garbage shorter than a header
  return n;
}

/** Malformed messages seen by the last xfrmDecode. */
export function xfrmDecodeMalformed(): u32 {
  return malformed;
}
