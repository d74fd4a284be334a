// asm/src/ip-format.ts — records → the text iproute2 6.1 `ip xfrm` prints (layer: asm). Owns the printers of
// ip/ipxfrm.c (xfrm_state_info_print, xfrm_policy_info_print, xfrm_xfrma_print, xfrm_selector_print, …),
// ip/xfrm_state.c / xfrm_policy.c (the list/get/allocspi/count printers) and ip/xfrm_monitor.c (event printers),
// written byte by byte into REGION_OUTPUT: one reserve() per entry, no managed allocation per entry.
// Attributes: decoded records (R_MSGTYPE != 0) are printed from their raw attribute copy, exactly as ip parses the
// message (parse_rtattr: first occurrence wins); records built by hand (R_MSGTYPE 0) from their fields, with the
// attributes the kernel would send for them (see synthAttrs).
import { resetRegion, at, regionLen, append } from "./arena";
import {
  P, begin, finish, ch, str, sp, tab, dec32, dec64, hex08, hexn, ipv4, ipv6, zoneOffset, civil, civY, civM, civD,
  civSecs,
  protoName as protoNameIn, HEX2,
} from "./text-out";
import {
  IPF_USE as IPFM_USE, IPF_SPI as IPFM_SPI, IPF_PROTO as IPFM_PROTO, IPF_MODE as IPFM_MODE, IPF_REQID as IPFM_REQID,
  IPF_SAFLAGS as IPFM_SAFLAGS, IPF_SEL_SRC as IPFM_SEL_SRC, IPF_SEL_DST as IPFM_SEL_DST, IPF_SEL_DEV as IPFM_SEL_DEV,
  IPF_UPSPEC_PROTO as IPFM_UPSPEC_PROTO, IPF_UPSPEC_SPORT as IPFM_UPSPEC_SPORT, IPF_UPSPEC_DPORT as IPFM_UPSPEC_DPORT,
  IPF_DIR as IPFM_DIR, IPF_INDEX as IPFM_INDEX, IPF_PTYPE as IPFM_PTYPE, IPF_ACTION as IPFM_ACTION,
  IPF_PRIORITY as IPFM_PRIORITY, IPF_POLFLAGS as IPFM_POLFLAGS, IPF_NOSOCK as IPFM_NOSOCK, IPF_ID_SRC as IPFM_ID_SRC,
  IPF_ID_DST as IPFM_ID_DST,
} from "../shared/ip-diag";
import {
  REGION_RECORDS, REGION_BLOB, REGION_OUTPUT, REC_SIZE, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_SEL, SEL_DADDR,
  SEL_SADDR, SEL_DPORT, SEL_DPORT_MASK, SEL_SPORT, SEL_SPORT_MASK, SEL_FAMILY, SEL_PREFIXLEN_D, SEL_PREFIXLEN_S,
  SEL_PROTO, SEL_IFINDEX, SEL_USER, SEL_SIZE, R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REPLAY, R_SAFLAGS,
  R_REQID, R_PRIORITY, R_INDEX, R_POLFLAGS, R_SHARE, R_PTYPE, R_LFT, R_CUR, R_STATS, R_SEQ, R_ALG_AUTH,
  R_ALG_ENC, R_ALG_AEAD, R_ALG_COMP, ALG_NAME_OFF, ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS, ALG_PARAM,
  R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT, R_ENCAP_OA, R_CTX_OFF, R_CTX_LEN, R_MARK_V, R_MARK_M, R_IFID,
  R_EXTRA_FLAGS, R_TMPL_OFF, R_TMPL_COUNT, R_REPLAY_WIN, R_AUX, R_AUX2, R_ATTRS_OFF, R_ATTRS_LEN, R_MSGTYPE, R_NLFLAGS,
  R_HARD, R_LASTUSED, R_REPLAY_SEQ, R_REPLAY_OSEQ, R_REPLAY_BITMAP, RF_HAS_MARK, RF_HAS_IFID, RF_AUTH_TRUNC,
  RF_HAS_ENCAP, RF_HAS_CTX, RF_HAS_EXTRA_FLAGS, RF_REPLAY_ESN, TMPL_SIZE, XFRM_TMPL_SIZE, T_DADDR, T_SPI,
  T_PROTO, T_FAMILY, T_SADDR, T_REQID, T_MODE, T_SHARE, T_OPTIONAL, T_AALGOS, T_EALGOS, T_CALGOS, AF_INET,
  AF_INET6, IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP, OP_SA_DELETE, OP_SP_DELETE, RF_HAS_SRCADDR, R_KIND, R_LINE,
} from "../shared/layout";
import {
  NLMSG_ERROR, NLMSG_NOOP, NLMSG_DONE, NLM_F_DUMP,
  XFRM_MSG_NEWSA, XFRM_MSG_UPDSA, XFRM_MSG_DELSA, XFRM_MSG_GETSA, XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY,
  XFRM_MSG_DELPOLICY, XFRM_MSG_GETPOLICY, XFRM_MSG_ALLOCSPI, XFRM_MSG_ACQUIRE, XFRM_MSG_EXPIRE, XFRM_MSG_POLEXPIRE,
  XFRM_MSG_FLUSHSA, XFRM_MSG_FLUSHPOLICY, XFRM_MSG_NEWAE, XFRM_MSG_GETAE, XFRM_MSG_REPORT, XFRM_MSG_MIGRATE,
  XFRM_MSG_NEWSADINFO, XFRM_MSG_GETSADINFO, XFRM_MSG_NEWSPDINFO, XFRM_MSG_GETSPDINFO, XFRM_MSG_MAPPING,
  XFRM_MSG_SETDEFAULT, XFRM_MSG_GETDEFAULT,
  XFRMA_ALG_AUTH, XFRMA_ALG_CRYPT, XFRMA_ALG_COMP, XFRMA_ENCAP, XFRMA_TMPL, XFRMA_SA, XFRMA_POLICY, XFRMA_SEC_CTX, XFRMA_REPLAY_VAL,
  XFRMA_COADDR, XFRMA_LASTUSED, XFRMA_POLICY_TYPE, XFRMA_ALG_AEAD, XFRMA_ALG_AUTH_TRUNC, XFRMA_MARK, XFRMA_TFCPAD,
  XFRMA_REPLAY_ESN_VAL, XFRMA_SA_EXTRA_FLAGS, XFRMA_OFFLOAD_DEV, XFRMA_SET_MARK, XFRMA_SET_MARK_MASK, XFRMA_IF_ID,
} from "../shared/xfrm";
import {
  NLH_SIZE, USI_SIZE, UID_SIZE, USPI_SIZE, UPI_SIZE, UPID_SIZE, UEXP_SIZE, UPEXP_SIZE, UACQ_SIZE, UACQ_POLICY,
  UACQ_CALGOS, UPI_SEL, AEV_SIZE, UREP_SIZE, UMAP_SIZE, ALGO_KEY_LEN, ALGO_KEY, ALGO_PARAM, ALGO_KEY_X,
  ALGO_NAME_MAX, ENC_TYPE, ENC_SPORT, ENC_DPORT, ENC_OA, ENC_SIZE, SCTX_CTX_LEN, SCTX_SIZE, RS_OSEQ, RS_SEQ,
  RS_BITMAP, RS_SIZE, ESN_BMP_LEN, ESN_OSEQ, ESN_SEQ, ESN_OSEQ_HI, ESN_SEQ_HI, ESN_REPLAY_WINDOW, ESN_BMP,
  ESN_SIZE, align4, xfrmFixedSize,
} from "./xfrm-wire";

// ---- flags of the ipFormat* exports (src/wasm/ip-format.ts mirrors them) ----
const IPF_STATS = 3;          // show_stats level: `-s` = 1, `-s -s` = 2 (bits 0..1)
const IPF_ONELINE = 4;        // `-o`: _SL_ is "\" and every object ends with "\n"
const IPF_NOKEYS = 8;         // `nokeys`: keys print as <<Keys hidden>>
const IPF_FAMILY_SHIFT = 16;  // preferred_family (`-4` 2 / `-6` 10 / 0) in bits 16..23

// linux/xfrm.h values ip prints by name
const XFRM_STATE_NOECN: u32 = 1, XFRM_STATE_DECAP_DSCP: u32 = 2, XFRM_STATE_NOPMTUDISC: u32 = 4;
const XFRM_STATE_WILDRECV: u32 = 8, XFRM_STATE_ICMP: u32 = 16, XFRM_STATE_AF_UNSPEC: u32 = 32;
const XFRM_STATE_ALIGN4: u32 = 64, XFRM_STATE_ESN: u32 = 128;
const XFRM_SA_XFLAG_DONT_ENCAP_DSCP: u32 = 1, XFRM_SA_XFLAG_OSEQ_MAY_WRAP: u32 = 2;
const XFRM_POLICY_LOCALOK: u32 = 1, XFRM_POLICY_ICMP: u32 = 2;
const XFRM_POLICY_MAX: u32 = 3;
const XFRM_AE_CR: u32 = 16, XFRM_AE_CE: u32 = 32, XFRM_AE_CU: u32 = 64;
const XFRM_OFFLOAD_INBOUND: u32 = 2;
// linux/in.h / in6.h protocols the selector printer switches on
const IPPROTO_ICMP = 1, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_DCCP = 33, IPPROTO_GRE = 47;
const IPPROTO_ICMPV6 = 58, IPPROTO_SCTP = 132, IPPROTO_MH = 135, IPPROTO_ROUTING = 43, IPPROTO_DSTOPTS = 60;
const IPSEC_PROTO_ANY = 255;
// SADINFO / SPDINFO attributes (linux/xfrm.h enum xfrm_sadattr_type_t / xfrm_spdattr_type_t)
const XFRMA_SAD_CNT = 1, XFRMA_SAD_HINFO = 2;
const XFRMA_SPD_INFO = 1, XFRMA_SPD_HINFO = 2, XFRMA_SPD_IPV4_HTHRESH = 3, XFRMA_SPD_IPV6_HTHRESH = 4;

// ---- host state handed in by TypeScript: local-time offsets, /etc/protocols names, interface names ----
// TZ_BUF: TZ_MAX pairs of i64 (start second UTC, offset seconds east of UTC), sorted by start. No pairs = UTC.
const TZ_MAX = 1024;
const TZ_BUF: usize = memory.data(TZ_MAX * 16, 8);
let tzCount: i32 = 0;
// getprotobynumber(): 256 slots of 32 bytes, byte 0 = name length (0 = no name: the number is printed).
const PROTO_BUF: usize = memory.data(256 * 32, 8);
// ll_index_to_name(): IF_MAX entries of 24 bytes: u32 ifindex, u8 name length, name (≤ 19 bytes).
const IF_MAX = 256;
const IF_BUF: usize = memory.data(IF_MAX * 24, 8);
let ifCount: i32 = 0;
// ipFmtCollectIfindexes output: up to IF_MAX distinct u32 ifindexes.
const IFQ_BUF: usize = memory.data(IF_MAX * 4, 8);

export function ipFmtTzBuffer(): usize { return TZ_BUF; }
export function ipFmtTzMax(): i32 { return TZ_MAX; }
export function ipFmtSetTz(n: i32): void { tzCount = n < 0 ? 0 : (n > TZ_MAX ? TZ_MAX : n); timeCacheReset(); }
export function ipFmtProtoBuffer(): usize { return PROTO_BUF; }
export function ipFmtIfBuffer(): usize { return IF_BUF; }
export function ipFmtIfMax(): i32 { return IF_MAX; }
export function ipFmtSetIfCount(n: i32): void { ifCount = n < 0 ? 0 : (n > IF_MAX ? IF_MAX : n); }
export function ipFmtIfQueryBuffer(): usize { return IFQ_BUF; }

function tzOffset(t: i64): i64 { return zoneOffset(TZ_BUF, tzCount, t); }

// ---- options of the current call ----
let stats: i32 = 0;     // show_stats
let oneline = false;
let nokeys = false;
let prefFamily: i32 = 0; // preferred_family
let SL: i32 = 10;        // _SL_: '\n' or '\\'

function setOptions(flags: u32): void {
  stats = <i32>(flags & IPF_STATS);
  oneline = (flags & IPF_ONELINE) != 0;
  nokeys = (flags & IPF_NOKEYS) != 0;
  prefFamily = <i32>((flags >>> IPF_FAMILY_SHIFT) & 255);
  SL = oneline ? 92 : 10;
}

function sl(): void { ch(SL); }
/** Bytes from memory, stopping at a NUL (C "%s" / "%.*s"). */
function cstr(p: usize, max: u32): void {
  for (let i: u32 = 0; i < max; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0) return;
    ch(c);
  }
}

/** %d of a value C holds as int */
function deci(v: i32): void { if (v < 0) { ch(45); dec32(<u32>(-(<i64>v))); } else dec32(<u32>v); }
/** %0Nu (zero-padded to width w) */
function dec0(v: u32, w: i32): void {
  let n = 1; let x = v;
  while (x >= 10) { n++; x /= 10; }
  for (let i = n; i < w; i++) ch(48);
  dec32(v);
}
/** %#x: "0" for zero, else 0x%x */
function hexAlt(v: u32): void { if (v == 0) ch(48); else { str("0x"); hexn(v); } }
/** %.4x */
function hex4(v: u32): void {
  store<u16>(P, load<u16>(HEX2 + <usize>(((v >>> 8) & 255) << 1)));
  store<u16>(P + 2, load<u16>(HEX2 + <usize>((v & 255) << 1)));
  P += 4;
}
// @ts-ignore: decorator
@inline function bswap32(v: u32): u32 { return (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24); }
// @ts-ignore: decorator
@inline function ntohs(p: usize): u32 { return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1); }

// ---- addresses: rt_addr_n2a (lib/utils.c): inet_ntop for inet/inet6, "???" otherwise ----
function addr(family: i32, p: usize): void {
  if (family == AF_INET) ipv4(p);
  else if (family == AF_INET6) ipv6(p);
  else str("???");
}

// ---- names ----
/** strxf_xfrmproto */
function xfrmProto(proto: u32): void {
  if (proto == IPPROTO_ESP) str("esp");
  else if (proto == IPPROTO_AH) str("ah");
  else if (proto == IPPROTO_COMP) str("comp");
  else if (proto == IPPROTO_ROUTING) str("route2");
  else if (proto == IPPROTO_DSTOPTS) str("hao");
  else if (proto == IPSEC_PROTO_ANY) str("ipsec-any");
  else dec32(proto);
}
/** strxf_proto: getprotobynumber() name, else the number */
function protoName(p: u32): void { protoNameIn(PROTO_BUF, <i32>p); }
/** strxf_share */
function shareName(s: u32): void {
  if (s == 0) str("any");
  else if (s == 1) str("session");
  else if (s == 2) str("user");
  else if (s == 3) str("unique");
  else dec32(s);
}
/** strxf_ptype */
function ptypeName(t: u32): void {
  if (t == 0) str("main"); else if (t == 1) str("sub"); else dec32(t);
}
/** strxf_mask8: 8 binary digits */
function mask8(m: u32): void { for (let b: u32 = 128; b > 0; b >>= 1) ch((m & b) != 0 ? 49 : 48); }
/** ll_index_to_name (lib/ll_map.c): 0 → "*", known → name, else "if%u" */
function ifName(idx: u32): void {
  if (idx == 0) { ch(42); return; }
  for (let i = 0; i < ifCount; i++) {
    const e = IF_BUF + <usize>i * 24;
    if (load<u32>(e) == idx) {
      const n = <i32>load<u8>(e + 4);
      for (let j = 0; j < n; j++) ch(load<u8>(e + 5 + <usize>j));
      return;
    }
  }
  str("if"); dec32(idx);
}
/** XFRM_FLAG_PRINT: name, then a blank if bits remain. Returns the remaining bits. */
function flagPrint(flags: u32, f: u32, s: string): u32 {
  if ((flags & f) != 0) {
    flags &= ~f;
    str(s);
    if (flags != 0) sp();
  }
  return flags;
}

// ---- strxf_time: "%Y-%m-%d %T" in local time, "-" for 0 (a few renderings cached: -s dumps repeat them) ----
const T_CACHE = 4;
const TC_BUF: usize = memory.data(T_CACHE * 32, 8);
const tcKey = new StaticArray<u64>(T_CACHE);
const tcLen = new StaticArray<i32>(T_CACHE); // 0 = empty
let tcNext = 0;
function timeCacheReset(): void { for (let i = 0; i < T_CACHE; i++) unchecked(tcLen[i] = 0); }

function timeStr(tu: u64): void {
  if (tu == 0) { ch(45); return; }
  for (let i = 0; i < T_CACHE; i++) {
    const n = unchecked(tcLen[i]);
    if (n != 0 && unchecked(tcKey[i]) == tu) { memory.copy(P, TC_BUF + <usize>i * 32, n); P += <usize>n; return; }
  }
  const start = P;
  timeRender(<i64>tu); // (long) cast in strxf_time
  const slot = tcNext;
  tcNext = (tcNext + 1) % T_CACHE;
  const n = <i32>(P - start);
  if (n <= 32) {
    memory.copy(TC_BUF + <usize>slot * 32, start, n);
    unchecked(tcKey[slot] = tu);
    unchecked(tcLen[slot] = n);
  }
}
function timeRender(t: i64): void {
  // localtime() fails beyond int years; ip 6.1 then hands a NULL tm to strftime. Print what HEAD prints.
  if (t > 67767976233316800 || t < -67767976233316800) { str("invalid-time"); return; }
  civil(t + tzOffset(t));
  const y = civY, m = civM, d = civD, secs = civSecs;
  if (y < 0) { ch(45); dec64(<u64>(-y)); } else dec64(<u64>y); // %Y: no padding
  ch(45); dec0(<u32>m, 2); ch(45); dec0(<u32>d, 2); sp();
  dec0(<u32>(secs / 3600), 2); ch(58); dec0(<u32>((secs % 3600) / 60), 2); ch(58); dec0(<u32>(secs % 60), 2);
}

// ---- the attribute table of the current message (parse_rtattr: tb[type] = first attribute of that type) ----
const TB_N = 64;
const TB_P = new StaticArray<usize>(TB_N); // payload address
const TB_L = new StaticArray<u32>(TB_N);   // payload length
let tbMask: u64 = 0;
let raw = false;   // the record has its kernel message: print from it
let recP: usize = 0;

// @ts-ignore: decorator
@inline function has(t: i32): bool { return (tbMask & (<u64>1 << <u64>t)) != 0; }
// @ts-ignore: decorator
@inline function tbp(t: i32): usize { return unchecked(TB_P[t]); }
// @ts-ignore: decorator
@inline function tbl(t: i32): u32 { return unchecked(TB_L[t]); }

/** Walk the attributes at [p, p+len) into the table (rtnetlink parse_rtattr: stops at a bad length). */
function scanAttrs(p: usize, len: u32): void {
  tbMask = 0;
  let rem = <i64>len;
  while (rem >= 4) {
    const alen = <u32>load<u16>(p);
    if (alen < 4 || <i64>alen > rem) break;
    const t = <i32>(load<u16>(p + 2) & 0x7fff); // ~NLA_F_NESTED; NLA_F_NET_BYTEORDER is kept, as ip does
    if (t < TB_N && !has(t)) {
      unchecked(TB_P[t] = p + 4);
      unchecked(TB_L[t] = alen - 4);
      tbMask |= <u64>1 << <u64>t;
    }
    const step = align4(alen);
    rem -= <i64>step;
    p += <usize>step;
  }
}
function setSynth(t: i32): void { unchecked(TB_L[t] = 0); unchecked(TB_P[t] = 0); tbMask |= <u64>1 << <u64>t; }

/** Which attributes the kernel would have sent with a hand-built record (net/xfrm/xfrm_user.c). */
function synthAttrs(r: usize, isPolicy: bool): void {
  tbMask = 0;
  const f = load<u32>(r + R_FLAGS);
  if ((f & RF_HAS_MARK) != 0) setSynth(XFRMA_MARK);
  if ((f & RF_HAS_IFID) != 0) setSynth(XFRMA_IF_ID);
  if ((f & RF_HAS_CTX) != 0) setSynth(XFRMA_SEC_CTX);
  if (load<u32>(r + R_TMPL_COUNT) != 0) setSynth(XFRMA_TMPL);
  if (isPolicy) {
    setSynth(XFRMA_POLICY_TYPE); // copy_to_user_policy_type: always, with CONFIG_XFRM_SUB_POLICY (Debian)
    return;
  }
  if (load<u32>(r + R_ALG_AUTH + ALG_NAME_LEN) != 0) {
    // copy_to_user_state_extra sends ALG_AUTH and ALG_AUTH_TRUNC for every authenticated SA
    setSynth(XFRMA_ALG_AUTH);
    if ((f & RF_AUTH_TRUNC) != 0) setSynth(XFRMA_ALG_AUTH_TRUNC);
  }
  if (load<u32>(r + R_ALG_AEAD + ALG_NAME_LEN) != 0) setSynth(XFRMA_ALG_AEAD);
  if (load<u32>(r + R_ALG_ENC + ALG_NAME_LEN) != 0) setSynth(XFRMA_ALG_CRYPT);
  if (load<u32>(r + R_ALG_COMP + ALG_NAME_LEN) != 0) setSynth(XFRMA_ALG_COMP);
  if ((f & RF_HAS_ENCAP) != 0) setSynth(XFRMA_ENCAP);
  if ((f & RF_HAS_EXTRA_FLAGS) != 0 && load<u32>(r + R_EXTRA_FLAGS) != 0) setSynth(XFRMA_SA_EXTRA_FLAGS);
  if (load<u64>(r + R_LASTUSED) != 0) setSynth(XFRMA_LASTUSED);
  if ((f & RF_REPLAY_ESN) != 0) setSynth(XFRMA_REPLAY_ESN_VAL); else setSynth(XFRMA_REPLAY_VAL);
}

/** Set up the table for record r: from its raw message if it has one. */
function loadAttrs(r: usize, isPolicy: bool): void {
  recP = r;
  raw = load<u16>(r + R_MSGTYPE) != 0;
  if (raw) scanAttrs(at(REGION_BLOB, load<u32>(r + R_ATTRS_OFF)), load<u32>(r + R_ATTRS_LEN));
  else synthAttrs(r, isPolicy);
}

// ---- blob bounds: hand-built records may point anywhere ----
function blobOk(off: u32, n: u64): bool { return <u64>off + n <= <u64>regionLen(REGION_BLOB); }

// ---- printers (ip/ipxfrm.c) ----

/** xfrm_id_info_print */
function idInfo(saddr: usize, daddr: usize, spiBe: u32, proto: u32, mode: u32, reqid: u32, family: i32,
  forceSpi: bool, prefix: string | null, title: string | null): void {
  if (title !== null) str(title);
  str("src "); addr(family, saddr); sp();
  str("dst "); addr(family, daddr);
  sl();
  if (prefix !== null) str(prefix);
  tab();
  str("proto "); xfrmProto(proto); sp();
  if (stats > 0 || forceSpi || spiBe != 0) {
    const spi = bswap32(spiBe);
    str("spi 0x"); hex08(spi);
    if (stats > 0) { ch(40); dec32(spi); ch(41); }
    sp();
  }
  str("reqid "); dec32(reqid);
  if (stats > 0) { str("(0x"); hex08(reqid); ch(41); }
  sp();
  str("mode ");
  if (mode == 0) str("transport");
  else if (mode == 1) str("tunnel");
  else if (mode == 2) str("ro");
  else if (mode == 3) str("in_trigger");
  else if (mode == 4) str("beet");
  else dec32(mode);
  sl();
}

/** strxf_limit */
function limit(v: u64): void { if (v == 0xffffffffffffffff) str("(INF)"); else dec64(v); }

/** xfrm_lifetime_print(cfg, cur) with a non-NULL prefix */
function lifetimes(cfg: usize, cur: usize, prefix: string): void {
  str(prefix); str("lifetime config:"); sl();
  str(prefix); str("  limit: soft "); limit(load<u64>(cfg)); str("(bytes),");
  str(" hard "); limit(load<u64>(cfg + 8)); str("(bytes)"); sl();
  str(prefix); str("  limit: soft "); limit(load<u64>(cfg + 16)); str("(packets),");
  str(" hard "); limit(load<u64>(cfg + 24)); str("(packets)"); sl();
  str(prefix); str("  expire add: soft "); dec64(load<u64>(cfg + 32)); str("(sec), hard "); dec64(load<u64>(cfg + 40));
  str("(sec)"); sl();
  str(prefix); str("  expire use: soft "); dec64(load<u64>(cfg + 48)); str("(sec), hard "); dec64(load<u64>(cfg + 56));
  str("(sec)"); sl();
  str(prefix); str("lifetime current:"); sl();
  str(prefix); str("  "); dec64(load<u64>(cur)); str("(bytes), "); dec64(load<u64>(cur + 8)); str("(packets)"); sl();
  str(prefix); str("  add "); timeStr(load<u64>(cur + 16)); sp();
  str("use "); timeStr(load<u64>(cur + 24)); sl();
}

/** xfrm_selector_print(sel, family, prefix); prefix "\tsel " is the state's, null the policy list's */
function selector(sel: usize, family: i32, prefix: string | null): void {
  let f = <i32>load<u16>(sel + SEL_FAMILY);
  if (f == 0) f = family;
  if (f == 0) f = prefFamily;
  if (prefix !== null) str(prefix);
  str("src "); addr(f, sel + SEL_SADDR); ch(47); dec32(load<u8>(sel + SEL_PREFIXLEN_S)); sp();
  str("dst "); addr(f, sel + SEL_DADDR); ch(47); dec32(load<u8>(sel + SEL_PREFIXLEN_D)); sp();
  const proto = <i32>load<u8>(sel + SEL_PROTO);
  if (proto != 0) { str("proto "); protoName(<u32>proto); sp(); }
  const spm = load<u16>(sel + SEL_SPORT_MASK) != 0;
  const dpm = load<u16>(sel + SEL_DPORT_MASK) != 0;
  if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
    // type/code is stored at sport/dport in selector
    if (spm) { str("type "); dec32(ntohs(sel + SEL_SPORT)); sp(); }
    if (dpm) { str("code "); dec32(ntohs(sel + SEL_DPORT)); sp(); }
  } else if (proto == IPPROTO_GRE) {
    if (spm || dpm) { str("key "); dec32((ntohs(sel + SEL_SPORT) << 16) + ntohs(sel + SEL_DPORT)); sp(); }
  } else if (proto == IPPROTO_MH) {
    if (spm) { str("type "); dec32(ntohs(sel + SEL_SPORT)); sp(); }
    if (dpm && stats > 0) { str("(dport) 0x"); hex4(<u32>load<u16>(sel + SEL_DPORT)); sp(); } // raw __be16 as a host int
  } else { // tcp, udp, sctp, dccp and (XXX) everything else
    if (spm) { str("sport "); dec32(ntohs(sel + SEL_SPORT)); sp(); }
    if (dpm) { str("dport "); dec32(ntohs(sel + SEL_DPORT)); sp(); }
  }
  const ifindex = load<i32>(sel + SEL_IFINDEX);
  if (ifindex > 0) { str("dev "); ifName(<u32>ifindex); sp(); }
  if (stats > 0) { str("uid "); dec32(load<u32>(sel + SEL_USER)); }
  sl();
}

/** __xfrm_algo_print's key part for a key of keyBits at kp (kp 0 = unreadable) */
function algoBody(type: i32, name: usize, nameMax: u32, keyBits: u32, kp: usize, keyAvail: u64, prefix: string): bool {
  str(prefix);
  algoType(type); sp();
  cstr(name, nameMax); sp();
  const keylen = keyBits / 8;
  if (kp == 0 || <u64>keylen > keyAvail) { str("(ERROR truncated)"); return false; }
  if (nokeys) str("<<Keys hidden>>");
  else if (keylen > 0) {
    str("0x");
    for (let i: u32 = 0; i < keylen; i++) { store<u16>(P, load<u16>(HEX2 + (<usize>load<u8>(kp + <usize>i) << 1))); P += 2; }
    if (stats > 0) { str(" ("); deci(<i32>keyBits); str(" bits)"); }
  }
  return true;
}
function algoType(type: i32): void {
  if (type == XFRMA_ALG_CRYPT) str("enc");
  else if (type == XFRMA_ALG_AUTH) str("auth");
  else if (type == XFRMA_ALG_COMP) str("comp");
  else if (type == XFRMA_ALG_AEAD) str("aead");
  else str("auth-trunc");
}
/** xfrm_algo_print / xfrm_aead_print / xfrm_auth_trunc_print for attribute `type`, slot `slot` of the record */
function algo(type: i32, slot: i32, withParam: bool, prefix: string): void {
  if (raw) {
    const p = tbp(type);
    const len = tbl(type);
    const hdr: u32 = withParam ? ALGO_KEY_X : ALGO_KEY;
    if (len < ALGO_KEY) { // len < sizeof(struct xfrm_algo)
      str(prefix); algoType(type); sp(); str("(ERROR truncated)");
      if (withParam) { sp(); deci(len >= ALGO_KEY_X ? load<i32>(p + ALGO_PARAM) : 0); }
      sl();
      return;
    }
    const bits = load<u32>(p + ALGO_KEY_LEN);
    // ip checks the key against len - sizeof(struct xfrm_algo) even for the 4-byte-longer aead/auth structs
    const ok = algoBody(type, p, ALGO_NAME_MAX, bits, p + hdr, <u64>(len - ALGO_KEY), prefix);
    void ok;
    if (withParam) { sp(); deci(load<i32>(p + ALGO_PARAM)); }
    sl();
    return;
  }
  const s = recP + <usize>slot;
  const nameOff = load<u32>(s + ALG_NAME_OFF);
  const nameLen = load<u32>(s + ALG_NAME_LEN);
  const bits = load<u32>(s + ALG_KEY_BITS);
  const keyOff = load<u32>(s + ALG_KEY_OFF);
  const nameOk = blobOk(nameOff, <u64>nameLen);
  const keyBytes = <u64>(bits / 8);
  const kp = blobOk(keyOff, keyBytes) ? at(REGION_BLOB, keyOff) : 0;
  algoBody(type, nameOk ? at(REGION_BLOB, nameOff) : changetype<usize>(0), nameOk ? (nameLen < 63 ? nameLen : 63) : 0, bits, kp, keyBytes, prefix);
  if (withParam) { sp(); deci(<i32>load<u32>(s + ALG_PARAM)); }
  sl();
}

/** xfrm_tmpl_print for one struct xfrm_user_tmpl at t (our TMPL_SIZE copies start with it) */
function tmplOne(t: usize, prefix: string): void {
  str(prefix);
  idInfo(t + T_SADDR, t + T_DADDR, load<u32>(t + T_SPI), load<u8>(t + T_PROTO), load<u8>(t + T_MODE),
    load<u32>(t + T_REQID), <i32>load<u16>(t + T_FAMILY), false, prefix, "tmpl ");
  const optional = <u32>load<u8>(t + T_OPTIONAL);
  if (stats > 0 || optional != 0) {
    str(prefix); tab();
    if (optional == 0) { if (stats > 0) str("level required "); }
    else if (optional == 1) str("level use ");
    else { str("level "); dec32(optional); sp(); }
    if (stats > 0) { str("share "); shareName(load<u8>(t + T_SHARE)); sp(); }
    sl();
  }
  if (stats > 0) {
    str(prefix); tab();
    str("enc-mask "); hex08(load<u32>(t + T_EALGOS)); sp();
    str("auth-mask "); hex08(load<u32>(t + T_AALGOS)); sp();
    str("comp-mask "); hex08(load<u32>(t + T_CALGOS));
    sl();
  }
}

/** xfrm_xfrma_print(tb, family, prefix, nokeys) */
function xfrma(family: i32, prefix: string, keysHidden: bool): void {
  const r = recP;
  const saveNokeys = nokeys;
  nokeys = keysHidden;
  if (has(XFRMA_MARK)) {
    const v = raw ? (tbl(XFRMA_MARK) >= 4 ? load<u32>(tbp(XFRMA_MARK)) : 0) : load<u32>(r + R_MARK_V);
    const m = raw ? (tbl(XFRMA_MARK) >= 8 ? load<u32>(tbp(XFRMA_MARK) + 4) : 0) : load<u32>(r + R_MARK_M);
    str("\tmark "); hexAlt(v); ch(47); hexAlt(m); sp();
    if (has(XFRMA_SET_MARK)) outputMark();
    sl();
  } else if (has(XFRMA_SET_MARK)) {
    tab(); outputMark(); sl();
  }
  if (has(XFRMA_ALG_AUTH) && !has(XFRMA_ALG_AUTH_TRUNC)) algo(XFRMA_ALG_AUTH, R_ALG_AUTH, false, prefix);
  if (has(XFRMA_ALG_AUTH_TRUNC)) algo(XFRMA_ALG_AUTH_TRUNC, R_ALG_AUTH, true, prefix);
  if (has(XFRMA_ALG_AEAD)) algo(XFRMA_ALG_AEAD, R_ALG_AEAD, true, prefix);
  if (has(XFRMA_ALG_CRYPT)) algo(XFRMA_ALG_CRYPT, R_ALG_ENC, false, prefix);
  if (has(XFRMA_ALG_COMP)) algo(XFRMA_ALG_COMP, R_ALG_COMP, false, prefix);
  if (has(XFRMA_ENCAP)) {
    str(prefix); str("encap ");
    let type: u32, sport: u32, dport: u32, oa: usize;
    if (raw) {
      if (tbl(XFRMA_ENCAP) < <u32>ENC_SIZE) { str("(ERROR truncated)"); sl(); nokeys = saveNokeys; return; }
      const e = tbp(XFRMA_ENCAP);
      type = load<u16>(e + ENC_TYPE); sport = ntohs(e + ENC_SPORT); dport = ntohs(e + ENC_DPORT); oa = e + ENC_OA;
    } else {
      type = load<u16>(r + R_ENCAP_TYPE); sport = load<u16>(r + R_ENCAP_SPORT); dport = load<u16>(r + R_ENCAP_DPORT);
      oa = r + R_ENCAP_OA;
    }
    str("type ");
    if (type == 1) str("espinudp-nonike ");
    else if (type == 2) str("espinudp ");
    else if (type == 7) str("espintcp ");
    else { dec32(type); sp(); }
    str("sport "); dec32(sport); sp();
    str("dport "); dec32(dport); sp();
    str("addr "); addr(family, oa);
    sl();
  }
  if (has(XFRMA_TMPL)) {
    if (raw) {
      const n = tbl(XFRMA_TMPL) / <u32>XFRM_TMPL_SIZE;
      if (n == 0) { str(prefix); str("(ERROR \"tmpl\" truncated)"); sl(); }
      for (let i: u32 = 0; i < n; i++) tmplOne(tbp(XFRMA_TMPL) + <usize>i * XFRM_TMPL_SIZE, prefix);
    } else {
      const n = load<u32>(r + R_TMPL_COUNT);
      const off = load<u32>(r + R_TMPL_OFF);
      if (blobOk(off, <u64>n * TMPL_SIZE)) for (let i: u32 = 0; i < n; i++) tmplOne(at(REGION_BLOB, off) + <usize>i * TMPL_SIZE, prefix);
    }
  }
  if (has(XFRMA_COADDR)) {
    str(prefix); str("coa ");
    if (tbl(XFRMA_COADDR) < 16) { str("(ERROR truncated)"); sl(); nokeys = saveNokeys; return; }
    addr(family, tbp(XFRMA_COADDR)); sl();
  }
  if (has(XFRMA_LASTUSED)) {
    str(prefix); str("lastused ");
    if (raw && tbl(XFRMA_LASTUSED) < 8) { str("(ERROR truncated)"); sl(); nokeys = saveNokeys; return; }
    timeStr(raw ? load<u64>(tbp(XFRMA_LASTUSED)) : load<u64>(r + R_LASTUSED)); sl();
  }
  if (has(XFRMA_REPLAY_VAL)) {
    str(prefix); str("anti-replay context: ");
    if (raw && tbl(XFRMA_REPLAY_VAL) < <u32>RS_SIZE) { str("(ERROR truncated)"); sl(); nokeys = saveNokeys; return; }
    const p = tbp(XFRMA_REPLAY_VAL);
    str("seq 0x"); hexn(raw ? load<u32>(p + RS_SEQ) : load<u32>(r + R_REPLAY_SEQ));
    str(", oseq 0x"); hexn(raw ? load<u32>(p + RS_OSEQ) : load<u32>(r + R_REPLAY_OSEQ));
    str(", bitmap 0x"); hex08(raw ? load<u32>(p + RS_BITMAP) : load<u32>(r + R_REPLAY_BITMAP));
    sl();
  }
  if (has(XFRMA_REPLAY_ESN_VAL)) {
    str(prefix); str("anti-replay esn context:");
    if (raw && tbl(XFRMA_REPLAY_ESN_VAL) < <u32>ESN_SIZE) { str("(ERROR truncated)"); sl(); nokeys = saveNokeys; return; }
    sl();
    const p = tbp(XFRMA_REPLAY_ESN_VAL);
    const win = raw ? load<u32>(p + ESN_REPLAY_WINDOW) : load<u32>(r + R_REPLAY_WIN);
    // hand-built records keep only the first bitmap word: the kernel's bmp_len is replay_window / 32 rounded up
    let bmpLen = raw ? load<u32>(p + ESN_BMP_LEN) : (win + 31) / 32;
    str(prefix); str(" seq-hi 0x"); hexn(raw ? load<u32>(p + ESN_SEQ_HI) : 0);
    str(", seq 0x"); hexn(raw ? load<u32>(p + ESN_SEQ) : load<u32>(r + R_REPLAY_SEQ));
    str(", oseq-hi 0x"); hexn(raw ? load<u32>(p + ESN_OSEQ_HI) : 0);
    str(", oseq 0x"); hexn(raw ? load<u32>(p + ESN_OSEQ) : load<u32>(r + R_REPLAY_OSEQ));
    sl();
    str(prefix); str(" replay_window "); dec32(win); str(", bitmap-length "); dec32(bmpLen);
    // ip reads bmp[] past the attribute if bmp_len lies; we print only words that are there (zeros otherwise)
    let avail: u32 = raw ? (tbl(XFRMA_REPLAY_ESN_VAL) - <u32>ESN_BMP) / 4 : 1;
    if (bmpLen > 1024) bmpLen = 1024; // XFRMA_REPLAY_ESN_MAX / 4: the kernel never sends more
    let j: u32 = 0;
    for (let i = bmpLen; i > 0; i--) {
      if (j++ % 8 == 0) { sl(); str(prefix); sp(); }
      const w: u32 = i - 1 < avail ? (raw ? load<u32>(p + ESN_BMP + <usize>(i - 1) * 4) : load<u32>(r + R_REPLAY_BITMAP)) : 0;
      hex08(w); sp();
    }
    sl();
  }
  if (has(XFRMA_OFFLOAD_DEV)) {
    str(prefix); str("crypto offload parameters: ");
    if (tbl(XFRMA_OFFLOAD_DEV) < 8) { str("(ERROR truncated)"); sl(); nokeys = saveNokeys; return; }
    const x = tbp(XFRMA_OFFLOAD_DEV);
    str("dev "); ifName(load<u32>(x)); str(" dir ");
    str((<u32>load<u8>(x + 4) & XFRM_OFFLOAD_INBOUND) != 0 ? "in" : "out");
    sl();
  }
  if (has(XFRMA_IF_ID)) {
    str(prefix); str("if_id ");
    hexAlt(raw ? (tbl(XFRMA_IF_ID) >= 4 ? load<u32>(tbp(XFRMA_IF_ID)) : 0) : load<u32>(r + R_IFID)); sl();
  }
  if (has(XFRMA_TFCPAD)) {
    str(prefix); str("tfcpad "); dec32(tbl(XFRMA_TFCPAD) >= 4 ? load<u32>(tbp(XFRMA_TFCPAD)) : 0); sl();
  }
  nokeys = saveNokeys;
}
function outputMark(): void {
  str("output-mark 0x"); hexn(tbl(XFRMA_SET_MARK) >= 4 ? load<u32>(tbp(XFRMA_SET_MARK)) : 0);
  if (has(XFRMA_SET_MARK_MASK)) { str("/0x"); hexn(tbl(XFRMA_SET_MARK_MASK) >= 4 ? load<u32>(tbp(XFRMA_SET_MARK_MASK)) : 0); }
}

/** xfrm_sec_ctx_print: "\tsecurity context %.*s " then _SL_ */
function secCtx(): void {
  str("\tsecurity context ");
  if (raw) {
    const p = tbp(XFRMA_SEC_CTX);
    const len = tbl(XFRMA_SEC_CTX);
    if (len < <u32>SCTX_SIZE) { str("(ERROR truncated)"); sp(); sl(); return; }
    let n = <u32>load<u16>(p + SCTX_CTX_LEN);
    if (n > len - SCTX_SIZE) n = len - SCTX_SIZE; // ip would read past the attribute
    cstr(p + SCTX_SIZE, n);
  } else {
    const off = load<u32>(recP + R_CTX_OFF);
    const n = load<u32>(recP + R_CTX_LEN);
    if (blobOk(off, <u64>n)) cstr(at(REGION_BLOB, off), n);
  }
  sp(); sl();
}

function selectorIsZero(sel: usize): bool {
  for (let i = 0; i < SEL_SIZE; i += 8) if (load<u64>(sel + <usize>i) != 0) return false;
  return true;
}

/** xfrm_state_info_print(xsinfo = record r, tb, NULL prefix, NULL title) */
function stateInfo(r: usize, keysHidden: bool): void {
  const proto = <u32>load<u8>(r + R_PROTO);
  const family = <i32>load<u8>(r + R_FAMILY);
  idInfo(r + R_SADDR, r + R_DADDR, load<u32>(r + R_SPI), proto, load<u8>(r + R_MODE), load<u32>(r + R_REQID),
    family, proto == IPPROTO_ESP || proto == IPPROTO_AH || proto == IPPROTO_COMP, null, null);
  tab();
  str("replay-window "); dec32(load<u8>(r + R_REPLAY)); sp();
  if (stats > 0) { str("seq 0x"); dec0(load<u32>(r + R_SEQ), 8); sp(); } // sic: "0x%08u"
  const flags0 = <u32>load<u8>(r + R_SAFLAGS);
  if (stats > 0 || flags0 != 0) {
    let f = flags0;
    str("flag ");
    f = flagPrint(f, XFRM_STATE_NOECN, "noecn");
    f = flagPrint(f, XFRM_STATE_DECAP_DSCP, "decap-dscp");
    f = flagPrint(f, XFRM_STATE_NOPMTUDISC, "nopmtudisc");
    f = flagPrint(f, XFRM_STATE_WILDRECV, "wildrecv");
    f = flagPrint(f, XFRM_STATE_ICMP, "icmp");
    f = flagPrint(f, XFRM_STATE_AF_UNSPEC, "af-unspec");
    f = flagPrint(f, XFRM_STATE_ALIGN4, "align4");
    f = flagPrint(f, XFRM_STATE_ESN, "esn");
    if (f != 0) hexn(f);
  }
  if (stats > 0 && has(XFRMA_SA_EXTRA_FLAGS)) {
    let x = raw ? (tbl(XFRMA_SA_EXTRA_FLAGS) >= 4 ? load<u32>(tbp(XFRMA_SA_EXTRA_FLAGS)) : 0) : load<u32>(r + R_EXTRA_FLAGS);
    str("extra_flag ");
    x = flagPrint(x, XFRM_SA_XFLAG_DONT_ENCAP_DSCP, "dont-encap-dscp");
    x = flagPrint(x, XFRM_SA_XFLAG_OSEQ_MAY_WRAP, "oseq-may-wrap");
    if (x != 0) hexn(x);
  }
  if (stats > 0) { str(" (0x"); mask8(flags0); ch(41); }
  sl();
  xfrma(family, "\t", keysHidden);
  if (!selectorIsZero(r + R_SEL)) selector(r + R_SEL, family, "\tsel ");
  if (stats > 0) {
    lifetimes(r + R_LFT, r + R_CUR, "\t");
    str("\tstats:"); sl();
    str("\t  replay-window "); dec32(load<u32>(r + R_STATS)); str(" replay "); dec32(load<u32>(r + R_STATS + 4));
    str(" failed "); dec32(load<u32>(r + R_STATS + 8)); sl();
  }
  if (has(XFRMA_SEC_CTX)) secCtx();
}

/** xfrm_policy_info_print(xpinfo = record r with selector sel, tb, prefix, title) */
function policyInfo(r: usize, sel: usize, prefix: string, title: string | null): void {
  selector(sel, prefFamily, title);
  if (has(XFRMA_SEC_CTX)) secCtx();
  str(prefix); tab();
  let dir = <u32>load<u8>(r + R_DIR);
  if (dir >= XFRM_POLICY_MAX) { dir -= XFRM_POLICY_MAX; str("socket "); } else str("dir ");
  if (dir == 0) str("in"); else if (dir == 1) str("out"); else if (dir == 2) str("fwd"); else dec32(dir);
  sp();
  const action = <u32>load<u8>(r + R_ACTION);
  if (action == 0) { if (stats > 0) str("action allow "); }
  else if (action == 1) str("action block ");
  else { str("action "); dec32(action); sp(); }
  if (stats != 0) { str("index "); dec32(load<u32>(r + R_INDEX)); sp(); }
  str("priority "); dec32(load<u32>(r + R_PRIORITY)); sp();
  if (has(XFRMA_POLICY_TYPE)) {
    str("ptype ");
    let t = <u32>load<u8>(r + R_PTYPE);
    if (raw) {
      if (tbl(XFRMA_POLICY_TYPE) < 6) str("(ERROR truncated)"); // sizeof(struct xfrm_userpolicy_type)
      t = tbl(XFRMA_POLICY_TYPE) >= 1 ? <u32>load<u8>(tbp(XFRMA_POLICY_TYPE)) : 0;
    }
    ptypeName(t); sp();
  }
  if (stats > 0) { str("share "); shareName(load<u8>(r + R_SHARE)); sp(); }
  const flags0 = <u32>load<u8>(r + R_POLFLAGS);
  if (stats > 0 || flags0 != 0) {
    let f = flags0;
    str("flag ");
    f = flagPrint(f, XFRM_POLICY_LOCALOK, "localok");
    f = flagPrint(f, XFRM_POLICY_ICMP, "icmp");
    if (f != 0) hexn(f);
  }
  if (stats > 0) { str(" (0x"); mask8(flags0); ch(41); }
  sl();
  if (stats > 0) {
    if (prefix.length == 0) lifetimes(r + R_LFT, r + R_CUR, "\t");
    else lifetimes(r + R_LFT, r + R_CUR, "    \t");
  }
  xfrma(<i32>load<u16>(sel + SEL_FAMILY), prefix.length == 0 ? "\t" : "    \t", false);
}

// ---- per-message printers (ip/xfrm_state.c, ip/xfrm_policy.c, ip/xfrm_monitor.c) ----

function isStateMsg(t: u32): bool {
  return t == 0 || t == XFRM_MSG_NEWSA || t == XFRM_MSG_DELSA || t == XFRM_MSG_UPDSA || t == XFRM_MSG_EXPIRE;
}
function isPolicyMsg(t: u32): bool {
  return t == 0 || t == XFRM_MSG_NEWPOLICY || t == XFRM_MSG_DELPOLICY || t == XFRM_MSG_UPDPOLICY || t == XFRM_MSG_POLEXPIRE;
}

/** Output bytes an entry can take at most (keys, templates, bitmaps and names all scale with these). */
function boundOf(r: usize): u32 {
  let b: u64 = 4096 + <u64>load<u32>(r + R_ATTRS_LEN) * 8;
  if (load<u16>(r + R_MSGTYPE) == 0) {
    b += <u64>load<u32>(r + R_TMPL_COUNT) * 512 + <u64>load<u32>(r + R_CTX_LEN) + 12 * 1024;
    b += (<u64>load<u32>(r + R_ALG_AUTH + ALG_KEY_BITS) + <u64>load<u32>(r + R_ALG_ENC + ALG_KEY_BITS) +
      <u64>load<u32>(r + R_ALG_AEAD + ALG_KEY_BITS) + <u64>load<u32>(r + R_ALG_COMP + ALG_KEY_BITS)) / 4 + 256;
  }
  const blob = <u64>regionLen(REGION_BLOB) * 8 + 65536; // nothing printed can exceed what the blob holds
  if (b > blob) b = blob;
  return <u32>b;
}

/** __do_xfrm_state_print for record r; false if ip would not print it */
function stateEntry(r: usize): bool {
  const t = <u32>load<u16>(r + R_MSGTYPE);
  if (!isStateMsg(t)) return false;
  begin(boundOf(r));
  loadAttrs(r, false);
  if (t == XFRM_MSG_DELSA) str("Deleted ");
  else if (t == XFRM_MSG_UPDSA) str("Updated ");
  else if (t == XFRM_MSG_EXPIRE) str("Expired ");
  if (t == XFRM_MSG_DELSA && raw && !(has(XFRMA_SA) && tbl(XFRMA_SA) >= <u32>USI_SIZE)) {
    finish(); // "Buggy XFRM_MSG_DELSA: no XFRMA_SA" goes to stderr
    return true;
  }
  stateInfo(r, nokeys);
  if (t == XFRM_MSG_EXPIRE) { str("\thard "); dec32(load<u8>(r + R_HARD)); sl(); }
  if (oneline) ch(10);
  finish();
  return true;
}


/** xfrm_policy_print for record r */
function policyEntry(r: usize): bool {
  const t = <u32>load<u16>(r + R_MSGTYPE);
  if (!isPolicyMsg(t)) return false;
  begin(boundOf(r));
  loadAttrs(r, true);
  if (t == XFRM_MSG_DELPOLICY) {
    str("Deleted ");
    if (raw && !(has(XFRMA_POLICY) && tbl(XFRMA_POLICY) >= <u32>UPI_SIZE)) { finish(); return true; }
  } else if (t == XFRM_MSG_UPDPOLICY) str("Updated ");
  else if (t == XFRM_MSG_POLEXPIRE) str("Expired ");
  policyInfo(r, r + R_SEL, "", null);
  if (t == XFRM_MSG_POLEXPIRE) { str("\thard "); dec32(load<u8>(r + R_HARD)); sl(); }
  if (oneline) ch(10);
  finish();
  return true;
}

/** Fixed-part size of a message type as the decoder lays its copy out (0 for types it does not know). */
function fixedSize(type: u32, nlflags: u32): i32 { const n = xfrmFixedSize(type, nlflags); return n < 0 ? 0 : n; }
/** Address of the netlink header of record r's message copy in the blob, 0 if it cannot be found. */
function msgHeader(r: usize): usize {
  const type = <u32>load<u16>(r + R_MSGTYPE);
  if (type == 0) return 0;
  const fixed = <u32>fixedSize(type, load<u16>(r + R_NLFLAGS));
  const aoff = load<u32>(r + R_ATTRS_OFF);
  const alen = load<u32>(r + R_ATTRS_LEN);
  // The decoder puts the attributes at align4(fixed), or at the end of a shorter payload (e.g. FLUSHSA's 17 bytes).
  for (let k = align4(fixed); k + 1 > fixed; k--) {
    if (<u64>aoff < <u64>(NLH_SIZE + k)) { if (k == 0) break; continue; }
    const h = at(REGION_BLOB, aoff - NLH_SIZE - k);
    if (<u32>load<u16>(h + 4) == type && load<u32>(h) == NLH_SIZE + k + alen) return h;
    if (k == 0) break;
  }
  return 0;
}

/** xfrm_acquire_print */
function acquireEntry(r: usize): void {
  begin(boundOf(r));
  loadAttrs(r, true);
  const h = msgHeader(r);
  const pay = h + NLH_SIZE;
  const psel = h != 0 ? pay + UACQ_POLICY + UPI_SEL : r + R_SEL;
  let family = <i32>load<u16>(r + R_SEL + SEL_FAMILY);
  if (family == 0) family = <i32>load<u16>(psel + SEL_FAMILY);
  if (family == 0) family = prefFamily;
  str("acquire ");
  str("proto "); xfrmProto(load<u8>(r + R_PROTO)); sp();
  const spiBe = load<u32>(r + R_SPI);
  if (stats > 0 || spiBe != 0) {
    const spi = bswap32(spiBe);
    str("spi 0x"); hex08(spi);
    if (stats > 0) { ch(40); dec32(spi); ch(41); }
    sp();
  }
  sl();
  selector(r + R_SEL, family, "  sel ");
  policyInfo(r, psel, "    ", "  policy ");
  if (stats > 0) {
    str("  seq 0x"); dec0(load<u32>(r + R_SEQ), 8); sp();
    str("enc-mask "); hex08(load<u32>(r + R_AUX2 /* ealgos */)); sp();
    str("auth-mask "); hex08(load<u32>(r + R_AUX)); sp();
    str("comp-mask "); hex08(h != 0 ? load<u32>(pay + UACQ_CALGOS) : 0);
  }
  sl();
  if (oneline) ch(10);
  finish();
}

/** xfrm_ae_print's and xfrm_mapping_print's SA line (xfrm_usersa_print) */
function usersa(r: usize): void {
  const family = <i32>load<u8>(r + R_FAMILY);
  str("dst "); addr(family, r + R_DADDR); sp();
  str(" reqid 0x"); hexn(load<u32>(r + R_REQID));
  str(" protocol "); protoName(load<u8>(r + R_PROTO)); sp();
  str(" SPI 0x"); hexn(bswap32(load<u32>(r + R_SPI)));
}

function monitorEntry(r: usize): bool {
  const t = <u32>load<u16>(r + R_MSGTYPE);
  if (t == XFRM_MSG_NEWSA || t == XFRM_MSG_DELSA || t == XFRM_MSG_UPDSA || t == XFRM_MSG_EXPIRE) return stateEntry(r);
  if (t == XFRM_MSG_NEWPOLICY || t == XFRM_MSG_DELPOLICY || t == XFRM_MSG_UPDPOLICY || t == XFRM_MSG_POLEXPIRE) return policyEntry(r);
  if (t == XFRM_MSG_ACQUIRE) { acquireEntry(r); return true; }
  if (t == 0) return false;
  begin(boundOf(r));
  loadAttrs(r, false);
  if (t == XFRM_MSG_FLUSHSA) {
    str("Flushed state proto "); xfrmProto(load<u8>(r + R_PROTO)); sl();
    if (oneline) ch(10);
  } else if (t == XFRM_MSG_FLUSHPOLICY) {
    str("Flushed policy ");
    if (has(XFRMA_POLICY_TYPE)) {
      str("ptype ");
      if (tbl(XFRMA_POLICY_TYPE) < 6) str("(ERROR truncated)");
      ptypeName(tbl(XFRMA_POLICY_TYPE) >= 1 ? load<u8>(tbp(XFRMA_POLICY_TYPE)) : 0); sp();
    }
    sl();
    if (oneline) ch(10);
  } else if (t == XFRM_MSG_REPORT) {
    let family = <i32>load<u16>(r + R_SEL + SEL_FAMILY);
    if (family == 0) family = prefFamily;
    str("report proto "); xfrmProto(load<u8>(r + R_PROTO)); sp(); sl();
    selector(r + R_SEL, family, "  sel ");
    xfrma(family, "  ", nokeys);
    if (oneline) ch(10);
  } else if (t == XFRM_MSG_NEWAE) {
    const flags = load<u32>(r + R_AUX);
    str("Async event  (0x"); hexn(flags); str(") ");
    if (flags != 0) {
      if ((flags & XFRM_AE_CR) != 0) str(" replay update ");
      if ((flags & XFRM_AE_CE) != 0) str(" timer expired ");
      if ((flags & XFRM_AE_CU) != 0) str(" policy updated ");
    }
    str("\n\t");
    str("src "); addr(<i32>load<u8>(r + R_FAMILY), r + R_SADDR); sp();
    usersa(r);
    ch(10);
  } else if (t == XFRM_MSG_MAPPING) {
    const family = <i32>load<u8>(r + R_FAMILY);
    str("Mapping change "); addr(family, r + R_SADDR);
    ch(58); deci(<i32>load<u16>(r + R_ENCAP_SPORT /* old sport */)); str(" -> ");
    addr(family, r + R_ENCAP_OA);
    ch(58); deci(<i32>load<u16>(r + R_ENCAP_DPORT /* new sport */)); str("\n\t");
    usersa(r);
    ch(10);
  } else if (t == XFRM_MSG_GETDEFAULT) {
    const h = msgHeader(r);
    if (h == 0 || load<u32>(h) < NLH_SIZE + 3) { finish(); return true; } // "BUG: short nlmsg len" on stderr
    str("Default policies:\n");
    str(" in:  "); defaultName(load<u8>(h + NLH_SIZE)); ch(10);
    str(" fwd: "); defaultName(load<u8>(h + NLH_SIZE + 1)); ch(10);
    str(" out: "); defaultName(load<u8>(h + NLH_SIZE + 2)); ch(10);
  } else if (t != NLMSG_ERROR && t != NLMSG_NOOP && t != NLMSG_DONE) {
    const h = msgHeader(r);
    const len = h != 0 ? load<u32>(h) : NLH_SIZE + align4(<u32>fixedSize(t, 0)) + load<u32>(r + R_ATTRS_LEN);
    str("Unknown message: "); dec0(len, 8); str(" 0x"); hex08(t); str(" 0x"); hex08(load<u16>(r + R_NLFLAGS)); ch(10);
  }
  finish();
  return true;
}
function defaultName(v: u32): void {
  if (v == 0) str("unspec"); else if (v == 1) str("block"); else if (v == 2) str("accept"); else str("unknown");
}

// ---- exports ----

/**
 * `ip xfrm state list|get|allocspi` text of records [first, end) into REGION_OUTPUT (emptied first). flags: IPF_*.
 * Records of non-state message types are skipped (ip: "Not a state" on stderr). Returns the entries printed.
 */
export function ipFormatStates(first: u32, end: u32, flags: u32): u32 {
  setOptions(flags);
  resetRegion(REGION_OUTPUT);
  let n: u32 = 0;
  for (let i = first; i < end; i++) {
    const r = at(REGION_RECORDS, i * REC_SIZE);
    if (passes(r) && stateEntry(r)) n++;
  }
  return n;
}

/** `ip xfrm policy list|get` text of records [first, end). */
export function ipFormatPolicies(first: u32, end: u32, flags: u32): u32 {
  setOptions(flags);
  resetRegion(REGION_OUTPUT);
  let n: u32 = 0;
  for (let i = first; i < end; i++) {
    const r = at(REGION_RECORDS, i * REC_SIZE);
    if (passes(r) && policyEntry(r)) n++;
  }
  return n;
}

/** `ip xfrm monitor` text of decoded event records [first, end) (xfrm_accept_msg without -t / all-nsid). */
export function ipFormatMonitor(first: u32, end: u32, flags: u32): u32 {
  setOptions(flags);
  resetRegion(REGION_OUTPUT);
  let n: u32 = 0;
  for (let i = first; i < end; i++) if (monitorEntry(at(REGION_RECORDS, i * REC_SIZE))) n++;
  return n;
}

/** `ip xfrm state count` (print_sadinfo) / `ip xfrm policy count` (print_spdinfo) of the reply record i. */
export function ipFormatCount(i: u32, flags: u32): u32 {
  setOptions(flags);
  resetRegion(REGION_OUTPUT);
  const r = at(REGION_RECORDS, i * REC_SIZE);
  const t = <u32>load<u16>(r + R_MSGTYPE);
  begin(4096);
  raw = true;
  scanAttrs(at(REGION_BLOB, load<u32>(r + R_ATTRS_OFF)), load<u32>(r + R_ATTRS_LEN));
  let ok: u32 = 1;
  if (t == XFRM_MSG_NEWSADINFO) {
    if (has(XFRMA_SAD_CNT) && tbl(XFRMA_SAD_CNT) >= 4) {
      str("\t SAD count "); dec32(load<u32>(tbp(XFRMA_SAD_CNT)));
      if (stats != 0 && has(XFRMA_SAD_HINFO)) {
        if (tbl(XFRMA_SAD_HINFO) < 8) { str("BAD SAD length returned\n"); finish(); return 0; }
        str(" (buckets count "); deci(load<i32>(tbp(XFRMA_SAD_HINFO)));
        str(" Max "); deci(load<i32>(tbp(XFRMA_SAD_HINFO) + 4)); ch(41);
      }
      ch(10);
    } else { str("BAD SAD info returned\n"); ok = 0; }
  } else if (t == XFRM_MSG_NEWSPDINFO) {
    str("\t SPD");
    if (has(XFRMA_SPD_INFO) && tbl(XFRMA_SPD_INFO) >= 24) {
      const s = tbp(XFRMA_SPD_INFO);
      str(" IN  "); deci(load<i32>(s)); str(" OUT "); deci(load<i32>(s + 4)); str(" FWD "); deci(load<i32>(s + 8));
      if (stats != 0) {
        str(" (Sock: IN "); deci(load<i32>(s + 12)); str(" OUT "); deci(load<i32>(s + 16));
        str(" FWD "); deci(load<i32>(s + 20)); ch(41);
      }
      sl();
    }
    if (stats > 1) {
      if (has(XFRMA_SPD_HINFO) && tbl(XFRMA_SPD_HINFO) >= 8) {
        const h = tbp(XFRMA_SPD_HINFO);
        str("\t SPD buckets: count "); deci(load<i32>(h)); str(" Max "); deci(load<i32>(h + 4)); sl();
      }
      if (has(XFRMA_SPD_IPV4_HTHRESH) && tbl(XFRMA_SPD_IPV4_HTHRESH) >= 2) {
        const h = tbp(XFRMA_SPD_IPV4_HTHRESH);
        str("\t SPD IPv4 thresholds: local "); dec32(load<u8>(h)); str(" remote "); dec32(load<u8>(h + 1)); sl();
      }
      if (has(XFRMA_SPD_IPV6_HTHRESH) && tbl(XFRMA_SPD_IPV6_HTHRESH) >= 2) {
        const h = tbp(XFRMA_SPD_IPV6_HTHRESH);
        str("\t SPD IPv6 thresholds: local "); dec32(load<u8>(h)); str(" remote "); dec32(load<u8>(h + 1)); sl();
      }
    }
    if (oneline) ch(10);
  } else ok = 0;
  finish();
  return ok;
}

/**
 * Distinct selector/offload interface indexes (> 0) of records [first, end), for TypeScript to name
 * (ll_index_to_name). Written as u32s at ipFmtIfQueryBuffer(); returns how many (at most IF_MAX).
 */
export function ipFmtCollectIfindexes(first: u32, end: u32): i32 {
  let n = 0;
  for (let i = first; i < end && n < IF_MAX; i++) {
    const r = at(REGION_RECORDS, i * REC_SIZE);
    n = addIfq(n, load<i32>(r + R_SEL + SEL_IFINDEX));
    if (load<u16>(r + R_MSGTYPE) == XFRM_MSG_ACQUIRE) {
      const h = msgHeader(r);
      if (h != 0) n = addIfq(n, load<i32>(h + NLH_SIZE + UACQ_POLICY + UPI_SEL + SEL_IFINDEX));
    }
    if (load<u32>(r + R_ATTRS_LEN) != 0 && load<u16>(r + R_MSGTYPE) != 0) {
      scanAttrs(at(REGION_BLOB, load<u32>(r + R_ATTRS_OFF)), load<u32>(r + R_ATTRS_LEN));
      if (has(XFRMA_OFFLOAD_DEV) && tbl(XFRMA_OFFLOAD_DEV) >= 8) n = addIfq(n, load<i32>(tbp(XFRMA_OFFLOAD_DEV)));
    }
  }
  return n;
}
function addIfq(n: i32, idx: i32): i32 {
  if (idx <= 0 || n >= IF_MAX) return n;
  for (let j = 0; j < n; j++) if (load<i32>(IFQ_BUF + <usize>j * 4) == idx) return n;
  store<i32>(IFQ_BUF + <usize>n * 4, idx);
  return n + 1;
}

// ---------------------------------------------------------------- list / deleteall filters (ip's `filter`)
// A filter is the record the ip parser made for a `list`/`deleteall` line: its fields hold filter.xsinfo /
// filter.xpinfo, R_AUX2 its IPF_* mask bits (asm/shared/ip-diag.ts). -1: no filter (filter.use = 0).
let FILTER: i32 = -1;

/** Filter the next ipFormatStates/ipFormatPolicies/ipDeleteallRecords calls by record `index` (-1: none). */
export function ipFmtSetFilter(index: i32): void { FILTER = index; }

/** xfrm_addr_match (ip/ipxfrm.c): 0 when the first `bits` bits agree. */
function addrMatch(a: usize, b: usize, bits: u32): bool {
  const words = bits >> 5;
  if (words != 0 && memory.compare(a, b, words << 2) != 0) return false;
  const rest = bits & 31;
  if (rest != 0) {
    const m = bswap<u32>(<u32>0xffffffff << (32 - rest));
    if (((load<u32>(a + (words << 2)) ^ load<u32>(b + (words << 2))) & m) != 0) return false;
  }
  return true;
}

/** xfrm_state_filter_match (ip/xfrm_state.c) of SA record r against filter record f. */
function stateMatch(r: usize, f: usize): bool {
  const m = load<u32>(f + R_AUX2);
  if ((m & IPFM_USE) == 0) return true;
  const fam = <u32>load<u8>(f + R_FAMILY);
  if (fam != 0 && fam != <u32>load<u8>(r + R_FAMILY)) return false;
  const sm = (m & IPFM_ID_SRC) != 0 ? <u32>load<u8>(f + R_SEL + SEL_PREFIXLEN_S) : 0;
  if (sm != 0 && !addrMatch(r + R_SADDR, f + R_SADDR, sm)) return false;
  const dm = (m & IPFM_ID_DST) != 0 ? <u32>load<u8>(f + R_SEL + SEL_PREFIXLEN_D) : 0;
  if (dm != 0 && !addrMatch(r + R_DADDR, f + R_DADDR, dm)) return false;
  if ((m & IPFM_PROTO) != 0 && load<u8>(r + R_PROTO) != load<u8>(f + R_PROTO)) return false;
  if ((m & IPFM_SPI) != 0 && load<u32>(r + R_SPI) != load<u32>(f + R_SPI)) return false;
  if ((m & IPFM_MODE) != 0 && load<u8>(r + R_MODE) != load<u8>(f + R_MODE)) return false;
  if ((m & IPFM_REQID) != 0 && load<u32>(r + R_REQID) != load<u32>(f + R_REQID)) return false;
  if ((m & IPFM_SAFLAGS) != 0 && (load<u8>(r + R_SAFLAGS) & load<u8>(f + R_SAFLAGS)) == 0) return false;
  return true;
}

/** xfrm_policy_filter_match (ip/xfrm_policy.c) of policy record r against filter record f. */
function policyMatch(r: usize, f: usize): bool {
  const m = load<u32>(f + R_AUX2);
  if ((m & IPFM_USE) == 0) return true;
  const fs = f + R_SEL, rs = r + R_SEL;
  const fam = <u32>load<u16>(fs + SEL_FAMILY);
  if (fam != 0 && fam != <u32>load<u16>(rs + SEL_FAMILY)) return false;
  if ((m & IPFM_DIR) != 0 && load<u8>(r + R_DIR) != load<u8>(f + R_DIR)) return false;
  if ((m & IPFM_NOSOCK) != 0 && <u32>load<u8>(r + R_DIR) >= XFRM_POLICY_MAX) return false;
  if ((m & IPFM_PTYPE) != 0 && load<u8>(r + R_PTYPE) != load<u8>(f + R_PTYPE)) return false;
  const sm = (m & IPFM_SEL_SRC) != 0 ? <u32>load<u8>(fs + SEL_PREFIXLEN_S) : 0;
  if (sm != 0 && !addrMatch(rs + SEL_SADDR, fs + SEL_SADDR, sm)) return false;
  const dm = (m & IPFM_SEL_DST) != 0 ? <u32>load<u8>(fs + SEL_PREFIXLEN_D) : 0;
  if (dm != 0 && !addrMatch(rs + SEL_DADDR, fs + SEL_DADDR, dm)) return false;
  if ((m & IPFM_SEL_DEV) != 0 && load<i32>(rs + SEL_IFINDEX) != load<i32>(fs + SEL_IFINDEX)) return false;
  if ((m & IPFM_UPSPEC_PROTO) != 0 && load<u8>(rs + SEL_PROTO) != load<u8>(fs + SEL_PROTO)) return false;
  if ((m & IPFM_UPSPEC_SPORT) != 0 && load<u16>(rs + SEL_SPORT) != load<u16>(fs + SEL_SPORT)) return false;
  if ((m & IPFM_UPSPEC_DPORT) != 0 && load<u16>(rs + SEL_DPORT) != load<u16>(fs + SEL_DPORT)) return false;
  if ((m & IPFM_INDEX) != 0 && load<u32>(r + R_INDEX) != load<u32>(f + R_INDEX)) return false;
  if ((m & IPFM_ACTION) != 0 && load<u8>(r + R_ACTION) != load<u8>(f + R_ACTION)) return false;
  if ((m & IPFM_PRIORITY) != 0 && load<u32>(r + R_PRIORITY) != load<u32>(f + R_PRIORITY)) return false;
  if ((m & IPFM_POLFLAGS) != 0 && (load<u8>(r + R_POLFLAGS) & load<u8>(f + R_POLFLAGS)) == 0) return false;
  return true;
}

/** Does record r pass the filter set by ipFmtSetFilter? DELSA/DELPOLICY events are never filtered (as in ip). */
function passes(r: usize): bool {
  if (FILTER < 0) return true;
  const t = <u32>load<u16>(r + R_MSGTYPE);
  const f = at(REGION_RECORDS, <u32>FILTER * REC_SIZE);
  if (isStateMsg(t)) return t == XFRM_MSG_DELSA || stateMatch(r, f);
  if (isPolicyMsg(t)) return t == XFRM_MSG_DELPOLICY || policyMatch(r, f);
  return true;
}

/** 1 when record i passes the filter set by ipFmtSetFilter. */
export function ipFmtFilterMatch(i: u32): u32 { return passes(at(REGION_RECORDS, i * REC_SIZE)) ? 1 : 0; }

const IPIP: u32 = 4, IPV6: u32 = 41;
// ip/xfrm.h NLMSG_DELETEALL_BUF_SIZE: one round of `policy deleteall` sends what fits in 8 KiB.
const DELETEALL_BUF: u32 = 8192;

/**
 * `deleteall`: for dumped records [first, end) that pass the filter (xfrm_state_keep / xfrm_policy_keep), append a
 * delete record each (SA: id + XFRMA_SRCADDR + mark; policy: selector, dir, index + mark + if_id, no policy type,
 * socket policies skipped). Policies: one round's worth, as ip's 8 KiB buffer holds. Returns how many were appended.
 */
export function ipDeleteallRecords(first: u32, end: u32): u32 {
  let n: u32 = 0;
  let bytes: u32 = 0;
  for (let i = first; i < end; i++) {
    const r = at(REGION_RECORDS, i * REC_SIZE);
    const t = <u32>load<u16>(r + R_MSGTYPE);
    let kind: i32 = 0;
    if (t == XFRM_MSG_NEWSA) {
      if (!passes(r)) continue;
      const p = <u32>load<u8>(r + R_PROTO);
      if (p == IPIP || p == IPV6) continue;
      kind = OP_SA_DELETE;
    } else if (t == XFRM_MSG_NEWPOLICY) {
      if (!passes(r)) continue;
      if (<u32>load<u8>(r + R_DIR) >= XFRM_POLICY_MAX) continue;
      const len: u32 = NLH_SIZE + UPID_SIZE + ((load<u32>(r + R_FLAGS) & RF_HAS_MARK) != 0 ? 16 : 0)
        + ((load<u32>(r + R_FLAGS) & RF_HAS_IFID) != 0 ? 8 : 0);
      if (bytes + NLH_SIZE + UPID_SIZE > DELETEALL_BUF) break;
      bytes += len;
      kind = OP_SP_DELETE;
    } else continue;
    const off = append(REGION_RECORDS, REC_SIZE);
    const d = at(REGION_RECORDS, off);
    const src = at(REGION_RECORDS, i * REC_SIZE); // the append may have moved the region
    memory.fill(d, 0, REC_SIZE);
    store<u8>(d + R_KIND, <u8>kind);
    const fl = load<u32>(src + R_FLAGS);
    let nf: u32 = fl & (RF_HAS_MARK | (kind == OP_SP_DELETE ? RF_HAS_IFID : 0));
    if (kind == OP_SA_DELETE) {
      store<u8>(d + R_FAMILY, load<u8>(src + R_FAMILY));
      memory.copy(d + R_DADDR, src + R_DADDR, 16);
      memory.copy(d + R_SADDR, src + R_SADDR, 16);
      store<u32>(d + R_SPI, load<u32>(src + R_SPI));
      store<u8>(d + R_PROTO, load<u8>(src + R_PROTO));
      nf |= RF_HAS_SRCADDR;
    } else {
      memory.copy(d + R_SEL, src + R_SEL, SEL_SIZE);
      store<u8>(d + R_FAMILY, load<u8>(src + R_FAMILY));
      store<u8>(d + R_DIR, load<u8>(src + R_DIR));
      store<u32>(d + R_INDEX, load<u32>(src + R_INDEX));
      store<u32>(d + R_IFID, load<u32>(src + R_IFID));
    }
    store<u32>(d + R_MARK_V, load<u32>(src + R_MARK_V));
    store<u32>(d + R_MARK_M, load<u32>(src + R_MARK_M));
    store<u32>(d + R_FLAGS, nf);
    store<u32>(d + R_LINE, i);
    n++;
  }
  return n;
}
