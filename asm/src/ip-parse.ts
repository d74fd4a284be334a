// asm/src/ip-parse.ts — the `ip xfrm` command-line parser (layer: asm). Owns ipParse: command lines (argv words, or a
// whole `ip -batch` file split as lib/utils.c getcmdline()/makeargs() split it) → one record per line in
// REGION_RECORDS (+ keys, names, ctx, templates in REGION_BLOB), or a diagnostic in REGION_DIAG carrying which of
// iproute2 6.1's error printers fires (asm/shared/ip-diag.ts). Mirrors ip/ipxfrm.c, ip/xfrm_state.c,
// ip/xfrm_policy.c and lib/utils.c (matches, get_u32, get_prefix) branch for branch, in source order.
import {
  REGION_INPUT, REGION_RECORDS, REGION_BLOB, REGION_DIAG, REC_SIZE, DIAG_SIZE,
  R_KIND, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_LINE, R_COL, R_SRC_START, R_SRC_END, R_STMT, R_SEL,
  SEL_DADDR, SEL_SADDR, SEL_DPORT, SEL_DPORT_MASK, SEL_SPORT, SEL_SPORT_MASK, SEL_FAMILY, SEL_PREFIXLEN_D,
  SEL_PREFIXLEN_S, SEL_PROTO, SEL_IFINDEX, R_DADDR, R_SADDR, R_SPI, R_PROTO, R_MODE, R_REPLAY, R_SAFLAGS, R_REQID,
  R_PRIORITY, R_INDEX, R_POLFLAGS, R_PTYPE, R_LFT, LFT_SOFT_BYTE, LFT_HARD_BYTE, LFT_SOFT_PACKET, LFT_HARD_PACKET,
  LFT_SOFT_ADD, LFT_HARD_ADD, LFT_SOFT_USE, LFT_HARD_USE, R_SEQ, R_ALG_AUTH, R_ALG_ENC, R_ALG_AEAD, R_ALG_COMP,
  ALG_NAME_OFF, ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS, ALG_PARAM, R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT,
  R_ENCAP_OA, R_CTX_DOI, R_CTX_ALG, R_CTX_OFF, R_CTX_LEN, R_MARK_V, R_MARK_M, R_IFID, R_EXTRA_FLAGS, R_TMPL_OFF,
  R_TMPL_COUNT, R_REPLAY_WIN, R_SPI_MIN, R_SPI_MAX, R_AUX, R_AUX2, R_REPLAY_SEQ, R_REPLAY_OSEQ, R_ATTR_ORDER,
  RF_HAS_MARK, RF_HAS_IFID, RF_AUTH_TRUNC, RF_HAS_ENCAP, RF_HAS_CTX, RF_HAS_PTYPE, RF_HAS_SEL, RF_HAS_DIR,
  RF_HAS_INDEX, RF_HAS_PRIORITY, RF_HAS_SPI, RF_HAS_PROTO, RF_HAS_OFFLOAD, RF_HAS_COA, RF_NO_SRCADDR, AO_COA, RF_SPI_RANGE, R_ENCAP_PREV, ENCAP_ENTRY_LINK, ENCAP_ENTRY_SIZE, R_TFCPAD, R_SET_MARK_V,
  R_SET_MARK_M, R_OFFLOAD_IFINDEX, R_OFFLOAD_FLAGS, R_COA_OFF, R_REPLAY_SEQ_HI, R_REPLAY_OSEQ_HI,
  OP_NONE, OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_GET, OP_SA_DELETEALL, OP_SA_FLUSH, OP_SA_DUMP, OP_SA_ALLOCSPI,
  OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE, OP_SP_GET, OP_SP_FLUSH, OP_SP_DUMP, OP_SP_DELETEALL,
  AO_AUTH, AO_ENC, AO_AEAD, AO_COMP, AO_ENCAP, AO_CTX,
  T_DADDR, T_SPI, T_PROTO, T_FAMILY, T_SADDR, T_REQID, T_MODE, T_OPTIONAL, T_AALGOS, T_EALGOS, T_CALGOS, TMPL_SIZE,
  D_CODE, D_START, D_END, D_LINE, D_COL, D_ARG, D_STMT, AF_INET, AF_INET6, IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP,
} from "../shared/layout";
import {
  IPD_INVARG, IPD_MISSARG, IPD_DUPARG, IPD_DUPARG2, IPD_INCOMPLETE, IPD_PREFIX, IPD_ADDR, IPD_PLAIN, IPD_USAGE,
  IPD_UNKNOWN_CMD, IPD_UNKNOWN_OBJ, IPD_UNSUPPORTED, IPD_MONITOR_ARG, IPO_MONITOR, IPS_HTHRESH4, IPS_HTHRESH6,
  IPS_HTHRESH6_FIRST, IPM_ALL_NSID, IPM_FILE, K_HTHRESH4, K_HTHRESH6, K_IN, K_FWD, K_OUT, IPD_REPLAY_MAX, IPD_UNTERMINATED, IPD_TOO_MANY, IPD_CONTINUATION,
  IPO_XFRM, IPO_STATE, IPO_POLICY,
  K_XFRM_PROTO, K_ID, K_UPSPEC, K_SELECTOR, K_TMPL, K_ALGO_NAME, K_ALGO_KEYMAT, K_ALGO_ICV, K_ALGO_TRUNC, K_ALGO_TYPE,
  K_DIR, K_CTX, K_PTYPE, K_INDEX, K_COA, K_MIN, K_MAX, K_UNKNOWN, K_PROTO,
  IPC_SA_ADD, IPC_SA_UPDATE, IPC_SA_ALLOCSPI, IPC_SA_DELETE, IPC_SA_DELETEALL, IPC_SA_LIST, IPC_SA_GET, IPC_SA_FLUSH,
  IPC_SA_COUNT, IPC_SP_ADD, IPC_SP_UPDATE, IPC_SP_DELETE, IPC_SP_DELETEALL, IPC_SP_LIST, IPC_SP_GET, IPC_SP_FLUSH,
  IPC_SP_COUNT, IPC_SP_SET, IPC_SP_SETDEFAULT, IPC_SP_GETDEFAULT, IPC_MONITOR,
  IPF_USE, IPF_NOKEYS, IPF_SPI, IPF_PROTO, IPF_MODE, IPF_REQID, IPF_SAFLAGS, IPF_SEL_SRC, IPF_SEL_DST, IPF_SEL_DEV,
  IPF_UPSPEC_PROTO, IPF_UPSPEC_SPORT, IPF_UPSPEC_DPORT, IPF_DIR, IPF_INDEX, IPF_PTYPE, IPF_ACTION, IPF_PRIORITY,
  IPF_POLFLAGS, IPF_NOSOCK, IPF_ID_SRC, IPF_ID_DST, IPP_BATCH, IPP_STOP_AT_LIST, PROTO_NAME, PROTO_NUM,
} from "../shared/ip-diag";
import { regionPtr, regionLen, append, at, truncate, resetRegion } from "./arena";

const MAXW: i32 = 16384;      // words per line kept (ip -batch: MAX_ARGS 512; argv: ours)
const BATCH_MAX_ARGS: i32 = 512;
const XFRM_INF: u64 = 0xffffffffffffffff;
const MAX_TMPLS: u32 = 16;    // XFRM_TMPLS_BUF_SIZE 1024 / sizeof(struct xfrm_user_tmpl)
const KEY_BUF: u32 = 512;     // XFRM_ALGO_KEY_BUF_SIZE
const XFRMA_REPLAY_ESN_MAX: u32 = 4096;

const WS = new StaticArray<u32>(MAXW);  // word start offsets in REGION_INPUT
const WE = new StaticArray<u32>(MAXW);  // word end offsets (exclusive)
const TMPLS = new StaticArray<u8>(<i32>(MAX_TMPLS * TMPL_SIZE));
const ADDR = new StaticArray<u8>(16);

let IN: usize = 0;     // REGION_INPUT base
let K: i32 = 0;        // current word (argv)
let N: i32 = 0;        // words on the line (argc = N - K)
let E: bool = false;   // a diagnostic was recorded: unwind
let PF: u32 = 0;       // preferred_family
let REC: usize = 0;    // the line's record
let LINE: u32 = 0;
let STMT: u32 = 0;
let FILT: u32 = 0;     // IPF_* bits
let BITLEN: i32 = 0;   // get_prefix result: prefix length
let NUM: u64 = 0;      // get_u* result
let IDF: bool = false; // xfrm_id_parse records src/dst prefix lengths (list/deleteall filters) in the selector

// ---------------------------------------------------------------- words
// @ts-ignore: decorator
@inline function wlen(k: i32): u32 { return unchecked(WE[k]) - unchecked(WS[k]); }
// @ts-ignore: decorator
@inline function wc(k: i32, j: u32): u32 { return <u32>load<u8>(IN + unchecked(WS[k]) + j); }

function weq(k: i32, s: string): bool {
  const n = <u32>s.length;
  if (wlen(k) != n) return false;
  for (let j: u32 = 0; j < n; j++) if (wc(k, j) != <u32>s.charCodeAt(<i32>j)) return false;
  return true;
}

/** lib/utils.c matches(word, s) == 0: the word is a non-empty prefix of s. */
function wmatch(k: i32, s: string): bool {
  const n = wlen(k);
  if (n == 0 || n > <u32>s.length) return false;
  for (let j: u32 = 0; j < n; j++) if (wc(k, j) != <u32>s.charCodeAt(<i32>j)) return false;
  return true;
}

// ---------------------------------------------------------------- diagnostics
function diag(code: u32, k: i32, arg: u32, arg2: u32): void {
  if (E) return;
  E = true;
  const off = append(REGION_DIAG, DIAG_SIZE);
  const d = at(REGION_DIAG, off);
  store<u32>(d + D_CODE, code);
  const s: u32 = k >= 0 && k < N ? unchecked(WS[k]) : 0;
  const e: u32 = k >= 0 && k < N ? unchecked(WE[k]) : 0;
  store<u32>(d + D_START, s);
  store<u32>(d + D_END, e);
  store<u32>(d + D_LINE, LINE);
  store<u32>(d + D_COL, arg2);
  store<u32>(d + D_ARG, arg);
  store<u32>(d + D_STMT, STMT);
}
function invarg(msg: u32, k: i32): void { diag(IPD_INVARG, k, msg, 0); }
function missarg(key: u32): void { diag(IPD_MISSARG, -1, key, 0); }
function duparg(key: u32, k: i32): void { diag(IPD_DUPARG, k, key, 0); }
function plain(msg: u32, proto: u32): void { diag(IPD_PLAIN, -1, msg, proto); }

/** NEXT_ARG(): false (and the "not complete" diagnostic) when the words run out. */
function next(): bool {
  K++;
  if (N - K <= 0) { diag(IPD_INCOMPLETE, -1, 0, 0); return false; }
  return true;
}
// @ts-ignore: decorator
@inline function nextOk(): bool { return N - K - 1 > 0; }

// ---------------------------------------------------------------- numbers (strtoul/strtoull as lib/utils.c uses them)
/** get_u8/16/32/64(word, base): NUM = value; false on empty text, junk, overflow or > max. */
function getNum(k: i32, base: u32, max: u64): bool {
  const n = wlen(k);
  if (n == 0) return false;
  let j: u32 = 0;
  while (j < n && (wc(k, j) == 0x20 || (wc(k, j) >= 9 && wc(k, j) <= 13))) j++;
  let neg = false;
  if (j < n && (wc(k, j) == 0x2b || wc(k, j) == 0x2d)) { neg = wc(k, j) == 0x2d; j++; }
  let b = base;
  if ((b == 0 || b == 16) && j + 1 < n && wc(k, j) == 0x30 && (wc(k, j + 1) | 0x20) == 0x78 && j + 2 < n && digitVal(wc(k, j + 2)) < 16) {
    j += 2; b = 16;
  } else if (b == 0) {
    b = j < n && wc(k, j) == 0x30 ? 8 : 10;
  }
  const st = j;
  let v: u64 = 0;
  let ovf = false;
  while (j < n) {
    const d = digitVal(wc(k, j));
    if (d >= b) break;
    const nv = v * <u64>b + <u64>d;
    if (v > (0xffffffffffffffff - <u64>d) / <u64>b) ovf = true;
    v = nv;
    j++;
  }
  if (j == st || j != n || ovf) return false;
  if (neg) v = ~v + 1;
  if (v > max) return false;
  NUM = v;
  return true;
}
function digitVal(c: u32): u32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x7a) return l - 0x61 + 10;
  return 99;
}
// @ts-ignore: decorator
@inline function bswap32(v: u32): u32 { return bswap<u32>(v); }
// @ts-ignore: decorator
@inline function bswap16(v: u32): u32 { return ((v & 0xff) << 8) | ((v >> 8) & 0xff); }

// ---------------------------------------------------------------- addresses (lib/utils.c get_addr_1 / get_prefix_1)
/** ip's get_addr_ipv4 of word bytes [s, e): strtoul(.., 0) per part, "10.8" = 10.8.0.0. */
function addrV4(k: i32, s: u32, e: u32, dst: usize): bool {
  memory.fill(dst, 0, 16);
  let j = s;
  for (let i = 0; i < 4; i++) {
    // strtoul(cp, &endp, 0): optional space/sign, 0x / 0 prefixes
    let p = j;
    while (p < e && wc(k, p) == 0x20) p++;
    let neg = false;
    if (p < e && (wc(k, p) == 0x2b || wc(k, p) == 0x2d)) { neg = wc(k, p) == 0x2d; p++; }
    let b: u32 = 10;
    if (p + 1 < e && wc(k, p) == 0x30 && (wc(k, p + 1) | 0x20) == 0x78 && p + 2 < e && digitVal(wc(k, p + 2)) < 16) { p += 2; b = 16; }
    else if (p < e && wc(k, p) == 0x30) b = 8;
    const st = p;
    let v: u64 = 0;
    while (p < e) {
      const d = digitVal(wc(k, p));
      if (d >= b) break;
      v = v * <u64>b + <u64>d;
      if (v > 0xffffffff) v = 0xffffffff;
      p++;
    }
    if (p == st) return false;
    if (neg && v != 0) return false;
    if (v > 255) return false;
    store<u8>(dst + i, <u8>v);
    if (p == e) return true;
    if (i == 3 || wc(k, p) != 0x2e) return false;
    j = p + 1;
  }
  return true;
}

/** glibc inet_pton4 (strict dotted quad, no leading zeros) of [s, e). */
function pton4(k: i32, s: u32, e: u32, dst: usize): bool {
  let saw = false; let octets = 0; let cur: u32 = 0;
  for (let i = s; i < e; i++) {
    const c = wc(k, i);
    if (c >= 0x30 && c <= 0x39) {
      if (saw && cur == 0) return false;
      cur = cur * 10 + (c - 0x30);
      if (cur > 255) return false;
      if (!saw) { if (++octets > 4) return false; saw = true; }
    } else if (c == 0x2e && saw) {
      if (octets == 4) return false;
      store<u8>(dst + octets - 1, <u8>cur);
      cur = 0; saw = false;
    } else return false;
  }
  if (octets < 4 || !saw) return false;
  store<u8>(dst + 3, <u8>cur);
  return true;
}

/** glibc inet_pton(AF_INET6) of word bytes [s, e) into dst. */
function pton6(k: i32, s: u32, e: u32, dst: usize): bool {
  memory.fill(dst, 0, 16);
  let tp: u32 = 0; let colonp: i32 = -1; let i = s;
  if (i < e && wc(k, i) == 0x3a) { if (i + 1 >= e || wc(k, i + 1) != 0x3a) return false; i++; }
  let curtok = i; let sawX = false; let val: u32 = 0; let nd = 0;
  while (i < e) {
    const c = wc(k, i); i++;
    const d = digitVal(c);
    if (d < 16) {
      if (++nd > 4) return false;
      val = (val << 4) | d; sawX = true; continue;
    }
    if (c == 0x3a) {
      curtok = i;
      if (!sawX) { if (colonp >= 0) return false; colonp = <i32>tp; continue; }
      if (i >= e) return false;
      if (tp + 2 > 16) return false;
      store<u8>(dst + tp, <u8>(val >> 8)); store<u8>(dst + tp + 1, <u8>val); tp += 2;
      sawX = false; val = 0; nd = 0; continue;
    }
    if (c == 0x2e && tp + 4 <= 16) {
      if (!pton4(k, curtok, e, dst + tp)) return false;
      tp += 4; sawX = false; break;
    }
    return false;
  }
  if (sawX) {
    if (tp + 2 > 16) return false;
    store<u8>(dst + tp, <u8>(val >> 8)); store<u8>(dst + tp + 1, <u8>val); tp += 2;
  }
  if (colonp >= 0) {
    if (tp == 16) return false;
    const n = tp - <u32>colonp;
    for (let q: u32 = 1; q <= n; q++) {
      store<u8>(dst + 16 - q, load<u8>(dst + <u32>colonp + n - q));
      store<u8>(dst + <u32>colonp + n - q, 0);
    }
    tp = 16;
  }
  return tp == 16;
}

function rangeEq(k: i32, s: u32, e: u32, lit: string): bool {
  if (e - s != <u32>lit.length) return false;
  for (let j: u32 = 0; j < e - s; j++) if (wc(k, s + j) != <u32>lit.charCodeAt(<i32>j)) return false;
  return true;
}

/**
 * get_addr_1 of [s, e) for `family`: returns the address family (0 for any/all/default without a family) with the
 * bytes in ADDR and BITLEN = -1 (a host address) or -2 (any/default), or -1 when the text is not an address.
 */
function addr1(k: i32, s: u32, e: u32, family: u32): i32 {
  const dst = changetype<usize>(ADDR);
  memory.fill(dst, 0, 16);
  if (rangeEq(k, s, e, "default") || rangeEq(k, s, e, "all") || rangeEq(k, s, e, "any")) {
    BITLEN = -2;
    return <i32>family;
  }
  for (let j = s; j < e; j++) {
    if (wc(k, j) == 0x3a) {
      if (family != 0 && family != AF_INET6) return -1;
      if (!pton6(k, s, e, dst)) return -1;
      BITLEN = -1;
      return AF_INET6;
    }
  }
  if (family != 0 && family != AF_INET) return -1;
  if (!addrV4(k, s, e, dst)) return -1;
  BITLEN = -1;
  return AF_INET;
}

/** get_prefix(word, family): family of the prefix (0 = any without a family), ADDR, BITLEN; diagnostic on failure. */
function getPrefix(k: i32, family: u32): i32 {
  const s = unchecked(WS[k]);
  const e = unchecked(WE[k]);
  let slash = e;
  for (let j = s; j < e; j++) if (wc(k, j - s) == 0x2f) { slash = j; break; }
  const f = addr1(k, 0, slash - s, family);
  let ok = f >= 0;
  if (ok) {
    const full: i32 = f == AF_INET6 ? 128 : f == AF_INET ? 32 : 0;
    if (slash < e) {
      if (BITLEN == -2) ok = false;
      else {
        const plen = netmask(k, slash + 1 - s, e - s);
        if (plen < 0 || plen > full) ok = false;
        else BITLEN = plen;
      }
    } else BITLEN = BITLEN == -2 ? 0 : full;
  }
  if (!ok) { diag(IPD_PREFIX, k, family, 0); return -1; }
  return f;
}

/** get_netmask: a number (base 0) or, for IPv4, a contiguous dotted mask. -1 if neither. */
function netmask(k: i32, s: u32, e: u32): i32 {
  if (e == s) return -1;
  // number: strtoul base 0 over the whole range
  let b: u32 = 10; let p = s;
  if (p + 1 < e && wc(k, p) == 0x30 && (wc(k, p + 1) | 0x20) == 0x78 && p + 2 < e) { b = 16; p += 2; }
  else if (wc(k, p) == 0x30) b = 8;
  let v: u32 = 0; const st = p;
  while (p < e && digitVal(wc(k, p)) < b) { v = v * b + digitVal(wc(k, p)); if (v > 0xffff) v = 0xffff; p++; }
  if (p == e && p > st) return <i32>v;
  // dotted mask (get_addr_1 AF_INET + mask2bits)
  const tmp = changetype<usize>(ADDR);
  const save0 = load<u64>(tmp); const save1 = load<u64>(tmp + 8);
  let r: i32 = -1;
  if (addrV4(k, s, e, tmp)) {
    const m = bswap32(load<u32>(tmp));
    const bits = <i32>popcnt<u32>(m);
    if (bits == 0 || (~m & 0xffffffff) == (0xffffffff >>> <u32>bits)) r = bits;
    if (m == 0) r = 0;
  }
  store<u64>(tmp, save0); store<u64>(tmp + 8, save1);
  return r;
}

// ---------------------------------------------------------------- shared sub-parsers (ip/ipxfrm.c)
function xfrmProto(k: i32): i32 {
  if (weq(k, "esp")) return 50;
  if (weq(k, "ah")) return 51;
  if (weq(k, "comp")) return 108;
  if (weq(k, "route2")) return 43;
  if (weq(k, "hao")) return 60;
  if (weq(k, "ipsec-any")) return 255;
  return -1;
}

/**
 * xfrm_id_parse: [src A] [dst A] [proto P] [spi S]. Writes saddr/daddr (16 bytes), spi (be32), proto, and the family
 * (u8 or u16 at famp, famWidth bytes; famp 0 = none). Leaves K on the last word of the ID.
 */
function idParse(saddr: usize, daddr: usize, spip: usize, protop: usize, famp: usize, famWidth: u32, loose: bool): void {
  const k0 = K;
  let srcFam: i32 = 0; let dstFam: i32 = 0;
  while (true) {
    if (weq(K, "src")) {
      if (!next()) return;
      const f = getPrefix(K, PF); if (E) return;
      if (f == 0) { invarg(3, K); return; }
      srcFam = f;
      if (famp != 0) { if (famWidth == 1) store<u8>(famp, <u8>f); else store<u16>(famp, <u16>f); }
      memory.copy(saddr, changetype<usize>(ADDR), 16);
      FILT |= IPF_ID_SRC; if (IDF) store<u8>(REC + R_SEL + SEL_PREFIXLEN_S, <u8>BITLEN);
    } else if (weq(K, "dst")) {
      if (!next()) return;
      const f = getPrefix(K, PF); if (E) return;
      if (f == 0) { invarg(4, K); return; }
      dstFam = f;
      if (famp != 0) { if (famWidth == 1) store<u8>(famp, <u8>f); else store<u16>(famp, <u16>f); }
      memory.copy(daddr, changetype<usize>(ADDR), 16);
      FILT |= IPF_ID_DST; if (IDF) store<u8>(REC + R_SEL + SEL_PREFIXLEN_D, <u8>BITLEN);
    } else if (weq(K, "proto")) {
      if (!next()) return;
      const p = xfrmProto(K);
      if (p < 0) { invarg(1, K); return; }
      store<u8>(protop, <u8>p);
      FILT |= IPF_PROTO;
    } else if (weq(K, "spi")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(2, K); return; }
      store<u32>(spip, bswap32(<u32>NUM));
      FILT |= IPF_SPI;
    } else {
      K--; // PREV_ARG
      break;
    }
    if (!nextOk()) break;
    if (!next()) return;
  }
  if (srcFam != 0 && dstFam != 0 && srcFam != dstFam) { invarg(5, K); return; }
  const spi = bswap32(load<u32>(spip));
  const proto = <u32>load<u8>(protop);
  if (spi != 0 && proto != 0) {
    if (proto == 43 || proto == 60) { plain(0, proto); return; }
    if (proto == IPPROTO_COMP && spi >= 0x10000) { plain(1, proto); return; }
  }
  if (!loose && proto == 0) { missarg(K_XFRM_PROTO); return; }
  if (K == k0) { missarg(K_ID); return; }
}

function modeParse(dst: usize): void {
  let m: i32 = -1;
  if (wmatch(K, "transport")) m = 0;
  else if (wmatch(K, "tunnel")) m = 1;
  else if (wmatch(K, "ro")) m = 2;
  else if (wmatch(K, "in_trigger")) m = 3;
  else if (wmatch(K, "beet")) m = 4;
  if (m < 0) { invarg(6, K); return; }
  store<u8>(dst, <u8>m);
}

function reqidParse(dst: usize): void {
  if (!getNum(K, 0, 0xffffffff)) { invarg(8, K); return; }
  store<u32>(dst, <u32>NUM);
}

/** xfrm_parse_mark: mark V [mask M]; the mask defaults to 0xffffffff. */
function markParse(): void {
  if (!next()) return;
  if (!getNum(K, 0, 0xffffffff)) { invarg(24, K); return; }
  store<u32>(REC + R_MARK_V, <u32>NUM);
  store<u32>(REC + R_FLAGS, load<u32>(REC + R_FLAGS) | RF_HAS_MARK);
  if (N - K > 1) { if (!next()) return; }
  else { store<u32>(REC + R_MARK_M, 0xffffffff); return; }
  if (weq(K, "mask")) {
    if (!next()) return;
    if (!getNum(K, 0, 0xffffffff)) { invarg(25, K); return; }
    store<u32>(REC + R_MARK_M, <u32>NUM);
  } else {
    store<u32>(REC + R_MARK_M, 0xffffffff);
    K--;
  }
}

function protoByName(k: i32): i32 {
  for (let i = 0; i < PROTO_NAME.length; i++) if (weq(k, unchecked(PROTO_NAME[i]))) return unchecked(PROTO_NUM[i]) & 0xff;
  return -1;
}

function upspecParse(sel: usize): void {
  const k0 = K;
  let sportp = false; let dportp = false; let typep = false; let codep = false; let grekey = false;
  while (true) {
    if (weq(K, "proto")) {
      if (!next()) return;
      let up: i32 = 0;
      if (!weq(K, "any")) {
        up = protoByName(K);
        if (up < 0) {
          if (!getNum(K, 0, 0xff)) { invarg(9, K); return; }
          up = <i32>NUM;
        }
      }
      store<u8>(sel + SEL_PROTO, <u8>up);
      FILT |= IPF_UPSPEC_PROTO;
    } else if (weq(K, "sport")) {
      sportp = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffff)) { invarg(10, K); return; }
      store<u16>(sel + SEL_SPORT, <u16>bswap16(<u32>NUM));
      if (NUM != 0) store<u16>(sel + SEL_SPORT_MASK, 0xffff);
      FILT |= IPF_UPSPEC_SPORT;
    } else if (weq(K, "dport")) {
      dportp = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffff)) { invarg(11, K); return; }
      store<u16>(sel + SEL_DPORT, <u16>bswap16(<u32>NUM));
      if (NUM != 0) store<u16>(sel + SEL_DPORT_MASK, 0xffff);
      FILT |= IPF_UPSPEC_DPORT;
    } else if (weq(K, "type")) {
      typep = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffff) || NUM > 0xff) { invarg(12, K); return; }
      store<u16>(sel + SEL_SPORT, <u16>bswap16(<u32>NUM));
      store<u16>(sel + SEL_SPORT_MASK, 0xffff);
      FILT |= IPF_UPSPEC_SPORT;
    } else if (weq(K, "code")) {
      codep = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffff) || NUM > 0xff) { invarg(13, K); return; }
      store<u16>(sel + SEL_DPORT, <u16>bswap16(<u32>NUM));
      store<u16>(sel + SEL_DPORT_MASK, 0xffff);
      FILT |= IPF_UPSPEC_DPORT;
    } else if (weq(K, "key")) {
      grekey = true;
      if (!next()) return;
      let dotted = false;
      for (let j: u32 = 0; j < wlen(K); j++) if (wc(K, j) == 0x2e) dotted = true;
      let uval: u32 = 0;
      if (dotted) {
        const tmp = changetype<usize>(ADDR);
        if (!addrV4(K, 0, wlen(K), tmp)) { diag(IPD_ADDR, K, 0xffff, 0); return; }
        uval = bswap32(load<u32>(tmp));
      } else {
        if (!getNum(K, 0, 0xffffffff)) { plain(5, 0); return; }
        uval = <u32>NUM;
      }
      store<u16>(sel + SEL_SPORT, <u16>bswap16(uval >>> 16));
      store<u16>(sel + SEL_DPORT, <u16>bswap16(uval & 0xffff));
      store<u16>(sel + SEL_SPORT_MASK, 0xffff);
      store<u16>(sel + SEL_DPORT_MASK, 0xffff);
      FILT |= IPF_UPSPEC_DPORT;
    } else {
      K--;
      break;
    }
    if (!nextOk()) break;
    if (!next()) return;
  }
  if (K == k0) { missarg(K_UPSPEC); return; }
  const p = <u32>load<u8>(sel + SEL_PROTO);
  if (sportp || dportp) {
    if (!(p == 6 || p == 17 || p == 132 || p == 33 || p == 0)) { plain(2, p); return; }
  }
  if (typep || codep) {
    if (!(p == 1 || p == 58 || p == 135)) { plain(3, p); return; }
  }
  if (grekey && p != 47) { plain(4, p); return; }
}

// ---------------------------------------------------------------- interface names (ll_name_to_index)
// The target netns's links, handed in by TypeScript (an RTM_GETLINK dump) before parsing: [i32 index][u8 len][name].
const PIF_MAX = 1024;
const PIF_BUF: usize = memory.data(PIF_MAX * 24, 8);
let pifCount: i32 = 0;
export function ipParseIfBuffer(): usize { return PIF_BUF; }
export function ipParseIfMax(): i32 { return PIF_MAX; }
export function ipParseSetIfCount(n: i32): void { pifCount = n < 0 ? 0 : (n > PIF_MAX ? PIF_MAX : n); }

/** lib/ll_map.c ll_name_to_index: a link of that name, else sscanf(name, "if%u"), else 0. */
function nameToIndex(k: i32): i32 {
  const n = wlen(k);
  for (let i = 0; i < pifCount; i++) {
    const e = PIF_BUF + <usize>i * 24;
    if (<u32>load<u8>(e + 4) != n) continue;
    if (memory.compare(e + 5, IN + unchecked(WS[k]), n) == 0) return load<i32>(e);
  }
  if (n < 3 || wc(k, 0) != 0x69 || wc(k, 1) != 0x66) return 0;
  let j: u32 = 2;
  while (j < n && (wc(k, j) == 0x20 || (wc(k, j) >= 9 && wc(k, j) <= 13))) j++;
  if (j < n && wc(k, j) == 0x2b) j++;
  let v: u32 = 0; let any = false;
  while (j < n && wc(k, j) >= 0x30 && wc(k, j) <= 0x39) { v = v * 10 + (wc(k, j) - 0x30); j++; any = true; }
  return any ? <i32>v : 0;
}

/** xfrm_selector_parse into the selector at sel. */
function selectorParse(sel: usize): void {
  const k0 = K;
  let srcFam: i32 = 0; let dstFam: i32 = 0;
  let upspec = false;
  while (true) {
    if (weq(K, "src")) {
      if (!next()) return;
      const f = getPrefix(K, PF); if (E) return;
      if (f == 0) { invarg(3, K); return; }
      srcFam = f;
      store<u16>(sel + SEL_FAMILY, <u16>f);
      memory.copy(sel + SEL_SADDR, changetype<usize>(ADDR), 16);
      store<u8>(sel + SEL_PREFIXLEN_S, <u8>BITLEN);
      FILT |= IPF_SEL_SRC;
    } else if (weq(K, "dst")) {
      if (!next()) return;
      const f = getPrefix(K, PF); if (E) return;
      if (f == 0) { invarg(4, K); return; }
      dstFam = f;
      store<u16>(sel + SEL_FAMILY, <u16>f);
      memory.copy(sel + SEL_DADDR, changetype<usize>(ADDR), 16);
      store<u8>(sel + SEL_PREFIXLEN_D, <u8>BITLEN);
      FILT |= IPF_SEL_DST;
    } else if (weq(K, "dev")) {
      if (!next()) return;
      if (weq(K, "none")) store<i32>(sel + SEL_IFINDEX, 0);
      else {
        const idx = nameToIndex(K);
        if (idx <= 0) { invarg(14, K); return; }
        store<i32>(sel + SEL_IFINDEX, idx);
      }
      FILT |= IPF_SEL_DEV;
    } else {
      if (upspec) { K--; break; }
      upspec = true;
      upspecParse(sel); if (E) return;
    }
    if (!nextOk()) break;
    if (!next()) return;
  }
  if (srcFam != 0 && dstFam != 0 && srcFam != dstFam) { invarg(5, K); return; }
  if (K == k0) { missarg(K_SELECTOR); return; }
}

function lifetimeParse(lft: usize): void {
  let off: u32 = 0; let msg: u32 = 0;
  if (weq(K, "time-soft")) { off = LFT_SOFT_ADD; msg = 15; }
  else if (weq(K, "time-hard")) { off = LFT_HARD_ADD; msg = 16; }
  else if (weq(K, "time-use-soft")) { off = LFT_SOFT_USE; msg = 17; }
  else if (weq(K, "time-use-hard")) { off = LFT_HARD_USE; msg = 18; }
  else if (weq(K, "byte-soft")) { off = LFT_SOFT_BYTE; msg = 19; }
  else if (weq(K, "byte-hard")) { off = LFT_HARD_BYTE; msg = 20; }
  else if (weq(K, "packet-soft")) { off = LFT_SOFT_PACKET; msg = 21; }
  else if (weq(K, "packet-hard")) { off = LFT_HARD_PACKET; msg = 22; }
  else { invarg(23, K); return; }
  if (!next()) return;
  if (!getNum(K, 0, XFRM_INF)) { invarg(msg, K); return; }
  store<u64>(lft + off, NUM);
}

/** xfrm_sctx_parse: the context string goes to the blob (the encoder adds the NUL and the header). */
function ctxParse(): void {
  const n = wlen(K);
  const off = append(REGION_BLOB, n);
  memory.copy(at(REGION_BLOB, off), IN + unchecked(WS[K]), n);
  store<u8>(REC + R_CTX_DOI, 1);
  store<u8>(REC + R_CTX_ALG, 1);
  store<u32>(REC + R_CTX_OFF, off);
  store<u32>(REC + R_CTX_LEN, n);
  store<u32>(REC + R_FLAGS, load<u32>(REC + R_FLAGS) | RF_HAS_CTX);
}

function setFlag(f: u32): void { store<u32>(REC + R_FLAGS, load<u32>(REC + R_FLAGS) | f); }

function hexPrefixed(k: i32): bool { return wlen(k) > 2 && wc(k, 0) == 0x30 && wc(k, 1) == 0x78; }

function stateFlagParse(dst: usize): void {
  if (hexPrefixed(K)) {
    if (!getNum(K, 16, 0xff)) { invarg(29, K); return; }
    store<u8>(dst, <u8>NUM);
    return;
  }
  let f = <u32>load<u8>(dst);
  while (true) {
    if (weq(K, "noecn")) f |= 1;
    else if (weq(K, "decap-dscp")) f |= 2;
    else if (weq(K, "nopmtudisc")) f |= 4;
    else if (weq(K, "wildrecv")) f |= 8;
    else if (weq(K, "icmp")) f |= 16;
    else if (weq(K, "af-unspec")) f |= 32;
    else if (weq(K, "align4")) f |= 64;
    else if (weq(K, "esn")) f |= 128;
    else { K--; break; }
    if (!nextOk()) break;
    if (!next()) return;
  }
  store<u8>(dst, <u8>f);
}

// ---------------------------------------------------------------- ip xfrm state
function algParse(type: u32, kw: i32): void {
  // ALGO-NAME
  if (!nextOk()) { missarg(K_ALGO_NAME); return; }
  if (!next()) return;
  const nameK = K;
  let keyK: i32 = -1;
  if (type != AO_COMP) {
    if (!nextOk()) { missarg(K_ALGO_KEYMAT); return; }
    if (!next()) return;
    keyK = K;
  }
  let param: u32 = 0;
  if (type == AO_AEAD) {
    if (!nextOk()) { missarg(K_ALGO_ICV); return; }
    if (!next()) return;
    if (!getNum(K, 0, 0xffffffff)) { invarg(42, K); return; }
    param = <u32>NUM;
  } else if (type == AO_AUTH && (load<u32>(REC + R_FLAGS) & RF_AUTH_TRUNC) != 0) {
    if (!nextOk()) { missarg(K_ALGO_TRUNC); return; }
    if (!next()) return;
    if (!getNum(K, 0, 0xffffffff)) { invarg(43, K); return; }
    param = <u32>NUM;
  }
  const slot: u32 = type == AO_AUTH ? R_ALG_AUTH : type == AO_ENC ? R_ALG_ENC : type == AO_AEAD ? R_ALG_AEAD : R_ALG_COMP;
  // name (strlcpy into alg_name[64]; an empty name still makes the attribute: keep length ≥ 1 by a NUL byte)
  let nl = wlen(nameK);
  if (nl > 63) nl = 63;
  const nameOff = append(REGION_BLOB, nl == 0 ? 1 : nl);
  memory.copy(at(REGION_BLOB, nameOff), IN + unchecked(WS[nameK]), nl);
  // key (xfrm_algo_parse)
  let keyOff: u32 = 0; let keyLen: u32 = 0;
  if (keyK >= 0) {
    const sl = wlen(keyK);
    if (sl > 2 && wc(keyK, 0) == 0x30 && wc(keyK, 1) == 0x78) {
      const plen = sl - 2;
      keyLen = (plen + 1) / 2;
      if (keyLen > KEY_BUF) { invarg(26, keyK); return; }
      keyOff = append(REGION_BLOB, keyLen);
      const kb = at(REGION_BLOB, keyOff);
      let i: i32 = -<i32>(plen % 2);
      for (let j: u32 = 0; j < keyLen; j++, i += 2) {
        const hi = i >= 0 ? wc(keyK, 2 + <u32>i) : 0x30;
        const lo = wc(keyK, 2 + <u32>(i + 1));
        const a = digitVal(hi); const b = digitVal(lo);
        if (a >= 16 || b >= 16) { invarg(27, keyK); return; }
        store<u8>(kb + j, <u8>((a << 4) | b));
      }
    } else {
      keyLen = sl;
      if (keyLen > KEY_BUF) { invarg(26, keyK); return; }
      keyOff = append(REGION_BLOB, keyLen);
      memory.copy(at(REGION_BLOB, keyOff), IN + unchecked(WS[keyK]), keyLen);
    }
  }
  store<u32>(REC + slot + ALG_NAME_OFF, nameOff);
  store<u32>(REC + slot + ALG_NAME_LEN, nl == 0 ? 1 : nl);
  store<u32>(REC + slot + ALG_KEY_OFF, keyOff);
  store<u32>(REC + slot + ALG_KEY_BITS, keyLen * 8);
  store<u32>(REC + slot + ALG_PARAM, param);
  pushOrder(type);
  void kw;
}

let ORDER_SHIFT: u32 = 0;
function pushOrder(code: u32): void {
  if (ORDER_SHIFT >= 32) return;
  store<u32>(REC + R_ATTR_ORDER, load<u32>(REC + R_ATTR_ORDER) | (code << ORDER_SHIFT));
  ORDER_SHIFT += 4;
}

function stateModify(update: bool): void {
  store<u8>(REC + R_KIND, update ? OP_SA_UPDATE : OP_SA_ADD);
  store<u8>(REC + R_FAMILY, <u8>PF);
  let replayWindow: u32 = 0; let seq: u32 = 0; let oseq: u32 = 0;
  let idp = false; let aeadop = false; let ealgop = false; let aalgop = false; let calgop = false;
  let coap = false; let sctxp = false; let extra: u32 = 0;
  while (N - K > 0) {
    if (weq(K, "mode")) { if (!next()) return; modeParse(REC + R_MODE); }
    else if (weq(K, "mark")) markParse();
    else if (weq(K, "reqid")) { if (!next()) return; reqidParse(REC + R_REQID); }
    else if (weq(K, "seq")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(28, K); return; }
      store<u32>(REC + R_SEQ, bswap32(<u32>NUM));
    } else if (weq(K, "replay-window")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(31, K); return; }
      replayWindow = <u32>NUM;
    } else if (weq(K, "replay-seq")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(32, K); return; }
      seq = <u32>NUM;
    } else if (weq(K, "replay-seq-hi")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(33, K); return; }
      store<u32>(REC + R_REPLAY_SEQ_HI, <u32>NUM);
    } else if (weq(K, "replay-oseq")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(34, K); return; }
      oseq = <u32>NUM;
    } else if (weq(K, "replay-oseq-hi")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(35, K); return; }
      store<u32>(REC + R_REPLAY_OSEQ_HI, <u32>NUM);
    } else if (weq(K, "flag")) { if (!next()) return; stateFlagParse(REC + R_SAFLAGS); }
    else if (weq(K, "extra-flag")) {
      if (!next()) return;
      if (hexPrefixed(K)) {
        if (!getNum(K, 16, 0xffffffff)) { invarg(30, K); return; }
        extra = <u32>NUM;
      } else {
        while (true) {
          if (weq(K, "dont-encap-dscp")) extra |= 1;
          else if (weq(K, "oseq-may-wrap")) extra |= 2;
          else { K--; break; }
          if (!nextOk()) break;
          if (!next()) return;
        }
      }
    } else if (weq(K, "sel")) {
      if (!next()) return;
      PF = 0;
      selectorParse(REC + R_SEL); if (E) return;
      PF = <u32>load<u16>(REC + R_SEL + SEL_FAMILY);
    } else if (weq(K, "limit")) { if (!next()) return; lifetimeParse(REC + R_LFT); }
    else if (weq(K, "encap")) {
      if (!next()) return;
      let t: u32 = 0;
      if (weq(K, "espinudp-nonike")) t = 1;
      else if (weq(K, "espinudp")) t = 2;
      else if (weq(K, "espintcp")) t = 7;
      else { invarg(7, K); return; }
      if (!next()) return;
      if (!getNum(K, 0, 0xffff)) { invarg(36, K); return; }
      const sp = <u32>NUM;
      if (!next()) return;
      if (!getNum(K, 0, 0xffff)) { invarg(37, K); return; }
      const dp = <u32>NUM;
      if (!next()) return;
      const f = addr1(K, 0, wlen(K), 0);
      if (f < 0) { diag(IPD_ADDR, K, 0, 0); return; }
      if ((load<u32>(REC + R_FLAGS) & RF_HAS_ENCAP) != 0) {
        // ip sends one XFRMA_ENCAP per `encap`, in order: keep the earlier one in the blob, linked from the record
        const e = append(REGION_BLOB, ENCAP_ENTRY_SIZE);
        memory.copy(at(REGION_BLOB, e), REC + R_ENCAP_TYPE, ENCAP_ENTRY_LINK);
        store<u32>(at(REGION_BLOB, e) + ENCAP_ENTRY_LINK, load<u32>(REC + R_ENCAP_PREV));
        store<u32>(REC + R_ENCAP_PREV, e + 1);
      }
      store<u16>(REC + R_ENCAP_TYPE, <u16>t);
      store<u16>(REC + R_ENCAP_SPORT, <u16>sp);
      store<u16>(REC + R_ENCAP_DPORT, <u16>dp);
      memory.copy(REC + R_ENCAP_OA, changetype<usize>(ADDR), 16);
      setFlag(RF_HAS_ENCAP);
      pushOrder(AO_ENCAP);
    } else if (weq(K, "coa")) {
      if (coap) { duparg(K_COA, K); return; }
      coap = true;
      if (!next()) return;
      const f = getPrefix(K, PF); if (E) return;
      if (f == 0) { invarg(38, K); return; }
      const off = append(REGION_BLOB, 16);
      memory.copy(at(REGION_BLOB, off), changetype<usize>(ADDR), 16);
      store<u32>(REC + R_COA_OFF, off);
      setFlag(RF_HAS_COA);
      pushOrder(AO_COA);
    } else if (weq(K, "ctx")) {
      if (sctxp) { duparg(K_CTX, K); return; }
      sctxp = true;
      if (!next()) return;
      ctxParse();
      pushOrder(AO_CTX);
    } else if (weq(K, "offload")) {
      if (!next()) return;
      if (weq(K, "dev")) {
        if (!next()) return;
        const idx = nameToIndex(K);
        if (idx == 0) { invarg(63, K); return; }
        store<i32>(REC + R_OFFLOAD_IFINDEX, idx);
        if (!next()) return;
      }
      if (weq(K, "dir")) {
        if (!next()) return;
        if (weq(K, "in")) store<u32>(REC + R_OFFLOAD_FLAGS, 2); // XFRM_OFFLOAD_INBOUND
        else if (weq(K, "out")) store<u32>(REC + R_OFFLOAD_FLAGS, 0);
        else { invarg(46, K); return; }
      } else { invarg(64, K); return; }
      setFlag(RF_HAS_OFFLOAD);
    } else if (weq(K, "output-mark")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(41, K); return; }
      store<u32>(REC + R_SET_MARK_V, <u32>NUM);
      if (N - K > 1) {
        if (!next()) return;
        if (weq(K, "mask")) {
          if (!next()) return;
          if (!getNum(K, 0, 0xffffffff)) { invarg(54, K); return; }
          store<u32>(REC + R_SET_MARK_M, <u32>NUM);
        } else K--;
      }
    } else if (weq(K, "tfcpad")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(40, K); return; }
      store<u32>(REC + R_TFCPAD, <u32>NUM);
    } else if (weq(K, "if_id")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(39, K); return; }
      store<u32>(REC + R_IFID, <u32>NUM);
      setFlag(RF_HAS_IFID);
    } else {
      let type: u32 = 0;
      if (weq(K, "enc")) type = AO_ENC;
      else if (weq(K, "auth")) type = AO_AUTH;
      else if (weq(K, "comp")) type = AO_COMP;
      else if (weq(K, "aead")) type = AO_AEAD;
      else if (weq(K, "auth-trunc")) { type = AO_AUTH; }
      if (type != 0) {
        const trunc = weq(K, "auth-trunc");
        if (type == AO_AEAD) { if (ealgop || aalgop || aeadop) { duparg(K_ALGO_TYPE, K); return; } aeadop = true; }
        else if (type == AO_ENC) { if (ealgop || aeadop) { duparg(K_ALGO_TYPE, K); return; } ealgop = true; }
        else if (type == AO_AUTH) { if (aalgop || aeadop) { duparg(K_ALGO_TYPE, K); return; } aalgop = true; if (trunc) setFlag(RF_AUTH_TRUNC); }
        else { if (calgop) { duparg(K_ALGO_TYPE, K); return; } calgop = true; }
        algParse(type, K);
      } else {
        if (idp) { invarg(0, K); return; }
        idp = true;
        idParse(REC + R_SADDR, REC + R_DADDR, REC + R_SPI, REC + R_PROTO, REC + R_FAMILY, 1, false); if (E) return;
        if (PF == 0) PF = <u32>load<u8>(REC + R_FAMILY);
      }
    }
    if (E) return;
    K++;
  }
  const saflags = <u32>load<u8>(REC + R_SAFLAGS);
  if ((saflags & 128) != 0 && replayWindow == 0) { plain(6, 0); return; }
  if (replayWindow > XFRMA_REPLAY_ESN_MAX) { diag(IPD_REPLAY_MAX, -1, replayWindow, 0); return; }
  store<u32>(REC + R_REPLAY_WIN, replayWindow);
  store<u8>(REC + R_REPLAY, <u8>replayWindow);
  store<u32>(REC + R_REPLAY_SEQ, seq);
  store<u32>(REC + R_REPLAY_OSEQ, oseq);
  store<u32>(REC + R_EXTRA_FLAGS, extra);
  if (!idp) { plain(7, 0); return; }
  const proto = <u32>load<u8>(REC + R_PROTO);
  const mode = <u32>load<u8>(REC + R_MODE);
  if (proto == IPPROTO_ESP || proto == IPPROTO_AH || proto == IPPROTO_COMP) {
    if (!(mode == 0 || mode == 1 || (mode == 4 && proto == IPPROTO_ESP))) { plain(8, proto); return; }
    if (proto == IPPROTO_ESP) {
      if (calgop) { plain(9, proto); return; }
      if (!ealgop && !aeadop) { plain(10, proto); return; }
    } else if (proto == IPPROTO_AH) {
      if (ealgop || aeadop || calgop) { plain(11, proto); return; }
      if (!aalgop) { plain(12, proto); return; }
    } else {
      if (ealgop || aalgop || aeadop) { plain(13, proto); return; }
      if (!calgop) { plain(14, proto); return; }
    }
  } else if (ealgop || aalgop || aeadop || calgop) { plain(15, proto); return; }
  if (proto == 43 || proto == 60) {
    if (mode == 0) { plain(16, proto); return; }
    if (mode != 2 && mode != 3) { plain(8, proto); return; }
    if (!coap) { plain(17, proto); return; }
  } else if (coap) { plain(18, proto); return; }
}

function stateAllocspi(): void {
  store<u8>(REC + R_KIND, OP_SA_ALLOCSPI);
  store<u8>(REC + R_FAMILY, <u8>PF);
  let idp = false; let minp = false; let maxp = false;
  while (N - K > 0) {
    if (weq(K, "mode")) { if (!next()) return; modeParse(REC + R_MODE); }
    else if (weq(K, "mark")) markParse();
    else if (weq(K, "reqid")) { if (!next()) return; reqidParse(REC + R_REQID); }
    else if (weq(K, "seq")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(28, K); return; }
      store<u32>(REC + R_SEQ, bswap32(<u32>NUM));
    } else if (weq(K, "min")) {
      if (minp) { duparg(K_MIN, K); return; }
      minp = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(44, K); return; }
      store<u32>(REC + R_SPI_MIN, <u32>NUM);
    } else if (weq(K, "max")) {
      if (maxp) { duparg(K_MAX, K); return; }
      maxp = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(45, K); return; }
      store<u32>(REC + R_SPI_MAX, <u32>NUM);
    } else {
      if (idp) { invarg(0, K); return; }
      idp = true;
      idParse(REC + R_SADDR, REC + R_DADDR, REC + R_SPI, REC + R_PROTO, REC + R_FAMILY, 1, false); if (E) return;
      if (load<u32>(REC + R_SPI) != 0) { plain(19, 0); return; }
      if (PF == 0) PF = <u32>load<u8>(REC + R_FAMILY);
    }
    if (E) return;
    K++;
  }
  if (!idp) { plain(7, 0); return; }
  if (minp) {
    if (!maxp) { plain(20, 0); return; }
    if (load<u32>(REC + R_SPI_MIN) > load<u32>(REC + R_SPI_MAX)) { plain(22, 0); return; }
    // ip sends the range as given; the kernel then answers ENOENT (and leaves a larval SA with SPI 0 behind)
    if (load<u32>(REC + R_SPI_MIN) == 0 && load<u32>(REC + R_SPI_MAX) == 0) setFlag(RF_SPI_RANGE);
  } else {
    if (maxp) { plain(21, 0); return; }
    store<u32>(REC + R_SPI_MIN, 0x100);
    store<u32>(REC + R_SPI_MAX, load<u8>(REC + R_PROTO) == IPPROTO_COMP ? 0xffff : 0x0fffffff);
  }
}

function stateGetOrDelete(del: bool): void {
  store<u8>(REC + R_KIND, del ? OP_SA_DELETE : OP_SA_GET);
  store<u8>(REC + R_FAMILY, <u8>PF);
  let idp = false;
  while (N - K > 0) {
    if (weq(K, "mark")) markParse();
    else {
      if (idp) { invarg(0, K); return; }
      idp = true;
      memory.fill(REC + R_SADDR, 0, 16); memory.fill(REC + R_DADDR, 0, 16);
      store<u32>(REC + R_SPI, 0); store<u8>(REC + R_PROTO, 0);
      idParse(REC + R_SADDR, REC + R_DADDR, REC + R_SPI, REC + R_PROTO, REC + R_FAMILY, 1, false);
    }
    if (E) return;
    K++;
  }
  if (!idp) setFlag(RF_NO_SRCADDR); // no ID: ip sends a bare struct xfrm_usersa_id (family AF_INET by default)
}

function stateListOrDeleteall(del: bool): void {
  store<u8>(REC + R_KIND, del ? OP_SA_DELETEALL : OP_SA_DUMP);
  if (N - K > 0 || PF != 0) FILT |= IPF_USE;
  store<u8>(REC + R_FAMILY, <u8>PF);
  let idp = false;
  while (N - K > 0) {
    if (weq(K, "nokeys")) FILT |= IPF_NOKEYS;
    else if (weq(K, "mode")) { if (!next()) return; modeParse(REC + R_MODE); FILT |= IPF_MODE; }
    else if (weq(K, "reqid")) { if (!next()) return; reqidParse(REC + R_REQID); FILT |= IPF_REQID; }
    else if (weq(K, "flag")) { if (!next()) return; stateFlagParse(REC + R_SAFLAGS); FILT |= IPF_SAFLAGS; }
    else {
      if (idp) { invarg(0, K); return; }
      idp = true;
      IDF = true;
      idParse(REC + R_SADDR, REC + R_DADDR, REC + R_SPI, REC + R_PROTO, REC + R_FAMILY, 1, true);
      IDF = false;
      if (E) return;
      if (PF == 0) PF = <u32>load<u8>(REC + R_FAMILY);
    }
    if (E) return;
    K++;
  }
}

function stateFlush(): void {
  store<u8>(REC + R_KIND, OP_SA_FLUSH);
  let protop = false;
  while (N - K > 0) {
    if (weq(K, "proto")) {
      if (protop) { duparg(K_PROTO, K); return; }
      protop = true;
      if (!next()) return;
      const p = xfrmProto(K);
      if (p < 0) { invarg(1, K); return; }
      store<u8>(REC + R_PROTO, <u8>p);
      FILT |= IPF_PROTO;
    } else { invarg(0, K); return; }
    K++;
  }
}

function doState(): void {
  if (N - K < 1) { store<u32>(REC + R_AUX, IPC_SA_LIST); stateListOrDeleteall(false); return; }
  const c = K; K++;
  if (wmatch(c, "add")) { store<u32>(REC + R_AUX, IPC_SA_ADD); stateModify(false); return; }
  if (wmatch(c, "update")) { store<u32>(REC + R_AUX, IPC_SA_UPDATE); stateModify(true); return; }
  if (wmatch(c, "allocspi")) { store<u32>(REC + R_AUX, IPC_SA_ALLOCSPI); stateAllocspi(); return; }
  if (wmatch(c, "delete")) { store<u32>(REC + R_AUX, IPC_SA_DELETE); stateGetOrDelete(true); return; }
  if (wmatch(c, "deleteall") || wmatch(c, "delall")) { store<u32>(REC + R_AUX, IPC_SA_DELETEALL); stateListOrDeleteall(true); return; }
  if (wmatch(c, "list") || wmatch(c, "show") || wmatch(c, "lst")) { store<u32>(REC + R_AUX, IPC_SA_LIST); stateListOrDeleteall(false); return; }
  if (wmatch(c, "get")) { store<u32>(REC + R_AUX, IPC_SA_GET); stateGetOrDelete(false); return; }
  if (wmatch(c, "flush")) { store<u32>(REC + R_AUX, IPC_SA_FLUSH); stateFlush(); return; }
  if (wmatch(c, "count")) { store<u32>(REC + R_AUX, IPC_SA_COUNT); return; }
  if (wmatch(c, "help")) { diag(IPD_USAGE, -1, IPO_STATE, 0); return; }
  diag(IPD_UNKNOWN_CMD, c, IPO_STATE, 0);
}

// ---------------------------------------------------------------- ip xfrm policy
function dirParse(dst: usize): void {
  if (weq(K, "in")) store<u8>(dst, 0);
  else if (weq(K, "out")) store<u8>(dst, 1);
  else if (weq(K, "fwd")) store<u8>(dst, 2);
  else invarg(46, K);
}
function ptypeParse(): void {
  if (weq(K, "main")) store<u8>(REC + R_PTYPE, 0);
  else if (weq(K, "sub")) store<u8>(REC + R_PTYPE, 1);
  else { invarg(47, K); return; }
  setFlag(RF_HAS_PTYPE);
}
function policyFlagParse(): void {
  if (hexPrefixed(K)) {
    if (!getNum(K, 16, 0xff)) { invarg(29, K); return; }
    store<u8>(REC + R_POLFLAGS, <u8>NUM);
    return;
  }
  let f = <u32>load<u8>(REC + R_POLFLAGS);
  while (true) {
    if (weq(K, "localok")) f |= 1;
    else if (weq(K, "icmp")) f |= 2;
    else { K--; break; }
    if (!nextOk()) break;
    if (!next()) return;
  }
  store<u8>(REC + R_POLFLAGS, <u8>f);
}

let NTMPL: u32 = 0;
function tmplParse(t: usize): void {
  const k0 = K;
  let idp = false;
  while (true) {
    if (weq(K, "mode")) { if (!next()) return; modeParse(t + T_MODE); }
    else if (weq(K, "reqid")) { if (!next()) return; reqidParse(t + T_REQID); }
    else if (weq(K, "level")) {
      if (!next()) return;
      if (weq(K, "required")) store<u8>(t + T_OPTIONAL, 0);
      else if (weq(K, "use")) store<u8>(t + T_OPTIONAL, 1);
      else { invarg(52, K); return; }
    } else {
      if (idp) { K--; break; }
      idp = true;
      PF = 0;
      // the ID's src/dst prefix lengths must not land in the policy's selector: park them and restore
      const sp = load<u8>(REC + R_SEL + SEL_PREFIXLEN_S); const dp = load<u8>(REC + R_SEL + SEL_PREFIXLEN_D);
      const savedFilt = FILT;
      idParse(t + T_SADDR, t + T_DADDR, t + T_SPI, t + T_PROTO, t + T_FAMILY, 2, false);
      store<u8>(REC + R_SEL + SEL_PREFIXLEN_S, sp); store<u8>(REC + R_SEL + SEL_PREFIXLEN_D, dp);
      FILT = savedFilt;
      if (E) return;
      PF = <u32>load<u16>(t + T_FAMILY);
    }
    if (E) return;
    if (!nextOk()) break;
    if (!next()) return;
  }
  if (K == k0) { missarg(K_TMPL); return; }
}

function policyModify(update: bool): void {
  store<u8>(REC + R_KIND, update ? OP_SP_UPDATE : OP_SP_ADD);
  store<u16>(REC + R_SEL + SEL_FAMILY, <u16>PF);
  let dirp = false; let selp = false; let ptypep = false; let sctxp = false;
  NTMPL = 0;
  const tb = changetype<usize>(TMPLS);
  while (N - K > 0) {
    if (weq(K, "dir")) {
      if (dirp) { duparg(K_DIR, K); return; }
      dirp = true;
      if (!next()) return;
      dirParse(REC + R_DIR);
    } else if (weq(K, "ctx")) {
      if (sctxp) { duparg(K_CTX, K); return; }
      sctxp = true;
      if (!next()) return;
      ctxParse();
    } else if (weq(K, "mark")) markParse();
    else if (weq(K, "index")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(50, K); return; }
      store<u32>(REC + R_INDEX, <u32>NUM); setFlag(RF_HAS_INDEX);
    } else if (weq(K, "ptype")) {
      if (ptypep) { duparg(K_PTYPE, K); return; }
      ptypep = true;
      if (!next()) return;
      ptypeParse();
    } else if (weq(K, "action")) {
      if (!next()) return;
      if (weq(K, "allow")) store<u8>(REC + R_ACTION, 0);
      else if (weq(K, "block")) store<u8>(REC + R_ACTION, 1);
      else { invarg(48, K); return; }
    } else if (weq(K, "priority")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(49, K); return; }
      store<u32>(REC + R_PRIORITY, <u32>NUM); setFlag(RF_HAS_PRIORITY);
    } else if (weq(K, "flag")) { if (!next()) return; policyFlagParse(); }
    else if (weq(K, "limit")) { if (!next()) return; lifetimeParse(REC + R_LFT); }
    else if (weq(K, "tmpl")) {
      if (NTMPL >= MAX_TMPLS) { plain(25, 0); return; }
      const t = tb + NTMPL * TMPL_SIZE;
      memory.fill(t, 0, TMPL_SIZE);
      store<u16>(t + T_FAMILY, <u16>PF);
      store<u32>(t + T_AALGOS, 0xffffffff);
      store<u32>(t + T_EALGOS, 0xffffffff);
      store<u32>(t + T_CALGOS, 0xffffffff);
      if (!next()) return;
      tmplParse(t); if (E) return;
      NTMPL++;
    } else if (weq(K, "if_id")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(51, K); return; }
      store<u32>(REC + R_IFID, <u32>NUM); setFlag(RF_HAS_IFID);
    } else {
      if (selp) { duparg(K_UNKNOWN, K); return; }
      selp = true;
      selectorParse(REC + R_SEL); if (E) return;
      setFlag(RF_HAS_SEL);
      if (PF == 0) PF = <u32>load<u16>(REC + R_SEL + SEL_FAMILY);
    }
    if (E) return;
    K++;
  }
  if (!dirp) { plain(23, 0); return; }
  setFlag(RF_HAS_DIR);
  putTemplates();
}

function putTemplates(): void {
  if (NTMPL == 0) return;
  const n = NTMPL * TMPL_SIZE;
  const off = append(REGION_BLOB, n);
  memory.copy(at(REGION_BLOB, off), changetype<usize>(TMPLS), n);
  store<u32>(REC + R_TMPL_OFF, off);
  store<u32>(REC + R_TMPL_COUNT, NTMPL);
}

function policyGetOrDelete(del: bool): void {
  store<u8>(REC + R_KIND, del ? OP_SP_DELETE : OP_SP_GET);
  let dirp = false; let selp = false; let indexp = false; let ptypep = false; let sctxp = false;
  while (N - K > 0) {
    if (weq(K, "dir")) {
      if (dirp) { duparg(K_DIR, K); return; }
      dirp = true;
      if (!next()) return;
      dirParse(REC + R_DIR);
    } else if (weq(K, "ctx")) {
      if (sctxp) { duparg(K_CTX, K); return; }
      sctxp = true;
      if (!next()) return;
      ctxParse();
    } else if (weq(K, "mark")) markParse();
    else if (weq(K, "index")) {
      if (indexp) { duparg(K_INDEX, K); return; }
      indexp = true;
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(50, K); return; }
      store<u32>(REC + R_INDEX, <u32>NUM); setFlag(RF_HAS_INDEX);
    } else if (weq(K, "ptype")) {
      if (ptypep) { duparg(K_PTYPE, K); return; }
      ptypep = true;
      if (!next()) return;
      ptypeParse();
    } else if (weq(K, "if_id")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(51, K); return; }
      store<u32>(REC + R_IFID, <u32>NUM); setFlag(RF_HAS_IFID);
    } else {
      if (selp) { invarg(0, K); return; }
      selp = true;
      selectorParse(REC + R_SEL); if (E) return;
      setFlag(RF_HAS_SEL);
      if (PF == 0) PF = <u32>load<u16>(REC + R_SEL + SEL_FAMILY);
    }
    if (E) return;
    K++;
  }
  if (!dirp) { plain(23, 0); return; }
  setFlag(RF_HAS_DIR);
  if (!selp && !indexp) { plain(24, 0); return; }
  if (selp && indexp) { diag(IPD_DUPARG2, -1, 0, 0); return; }
}

function policyListOrDeleteall(del: bool): void {
  store<u8>(REC + R_KIND, del ? OP_SP_DELETEALL : OP_SP_DUMP);
  if (N - K > 0 || PF != 0) FILT |= IPF_USE;
  store<u16>(REC + R_SEL + SEL_FAMILY, <u16>PF);
  let selp = false;
  while (N - K > 0) {
    if (weq(K, "dir")) { if (!next()) return; dirParse(REC + R_DIR); FILT |= IPF_DIR; }
    else if (weq(K, "index")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(50, K); return; }
      store<u32>(REC + R_INDEX, <u32>NUM); FILT |= IPF_INDEX;
    } else if (weq(K, "ptype")) { if (!next()) return; ptypeParse(); FILT |= IPF_PTYPE; }
    else if (weq(K, "action")) {
      if (!next()) return;
      if (weq(K, "allow")) store<u8>(REC + R_ACTION, 0);
      else if (weq(K, "block")) store<u8>(REC + R_ACTION, 1);
      else { invarg(48, K); return; }
      FILT |= IPF_ACTION;
    } else if (weq(K, "priority")) {
      if (!next()) return;
      if (!getNum(K, 0, 0xffffffff)) { invarg(49, K); return; }
      store<u32>(REC + R_PRIORITY, <u32>NUM); FILT |= IPF_PRIORITY;
    } else if (weq(K, "flag")) { if (!next()) return; policyFlagParse(); FILT |= IPF_POLFLAGS; }
    else if (weq(K, "nosock")) FILT |= IPF_NOSOCK;
    else {
      if (selp) { invarg(0, K); return; }
      selp = true;
      selectorParse(REC + R_SEL); if (E) return;
      if (PF == 0) PF = <u32>load<u16>(REC + R_SEL + SEL_FAMILY);
    }
    if (E) return;
    K++;
  }
  store<u8>(REC + R_FAMILY, <u8>PF);
}

function policyFlush(): void {
  store<u8>(REC + R_KIND, OP_SP_FLUSH);
  let ptypep = false;
  while (N - K > 0) {
    if (weq(K, "ptype")) {
      if (ptypep) { duparg(K_PTYPE, K); return; }
      ptypep = true;
      if (!next()) return;
      ptypeParse();
    } else { invarg(0, K); return; }
    if (E) return;
    K++;
  }
}

/** xfrm_spd_setinfo: [ hthresh4 LBITS RBITS ] [ hthresh6 LBITS RBITS ]. */
function spdSet(): void {
  while (N - K > 0) {
    const six = weq(K, "hthresh6");
    if (six || weq(K, "hthresh4")) {
      const bit = six ? IPS_HTHRESH6 : IPS_HTHRESH4;
      if ((FILT & bit) != 0) { duparg(six ? K_HTHRESH6 : K_HTHRESH4, K); return; }
      if (six && (FILT & IPS_HTHRESH4) == 0) FILT |= IPS_HTHRESH6_FIRST;
      FILT |= bit;
      const lim: u64 = six ? 128 : 32;
      if (!next()) return;
      if (!getNum(K, 0, 0xff) || NUM > lim) { invarg(six ? 57 : 55, K); return; }
      const l = <u32>NUM;
      if (!next()) return;
      if (!getNum(K, 0, 0xff) || NUM > lim) { invarg(six ? 58 : 56, K); return; }
      store<u32>(REC + (six ? R_SPI_MAX : R_SPI_MIN), l | (<u32>NUM << 8));
    } else { invarg(0, K); return; }
    K++;
  }
}

/** xfrm_spd_setdefault: DIR ACTION pairs, DIR in|fwd|out, ACTION block|accept (duplicates refused once set). */
function spdSetDefault(): void {
  while (N - K > 0) {
    let shift: u32 = 0; let key: u32 = 0; let msg: u32 = 0;
    if (weq(K, "in")) { shift = 0; key = K_IN; msg = 59; }
    else if (weq(K, "fwd")) { shift = 8; key = K_FWD; msg = 60; }
    else if (weq(K, "out")) { shift = 16; key = K_OUT; msg = 61; }
    else { invarg(62, K); return; }
    const cur = load<u32>(REC + R_SPI_MIN);
    if (((cur >> shift) & 0xff) != 0) { duparg(key, K); return; }
    if (!next()) return;
    let v: u32 = 0;
    if (weq(K, "block")) v = 1;
    else if (weq(K, "accept")) v = 2;
    else { invarg(msg, K); return; }
    store<u32>(REC + R_SPI_MIN, cur | (v << shift));
    K++;
  }
}

/** do_xfrm_monitor's arguments (ip/xfrm_monitor.c): file, nokeys, all, all-nsid, object names, help. */
function monitorParse(): void {
  let groups: u32 = 0xffffffff;
  let picked: u32 = 0;
  while (N - K > 0) {
    if (wmatch(K, "file")) {
      if (!next()) return;
      const n = wlen(K);
      const off = append(REGION_BLOB, n);
      memory.copy(at(REGION_BLOB, off), IN + unchecked(WS[K]), n);
      store<u32>(REC + R_CTX_OFF, off);
      store<u32>(REC + R_CTX_LEN, n);
      FILT |= IPM_FILE;
    } else if (weq(K, "nokeys")) FILT |= IPF_NOKEYS;
    else if (weq(K, "all")) { /* fall out */ }
    else if (wmatch(K, "all-nsid")) FILT |= IPM_ALL_NSID;
    else if (wmatch(K, "acquire")) { picked |= 1 << 0; groups = 0; }
    else if (wmatch(K, "expire")) { picked |= 1 << 1; groups = 0; }
    else if (wmatch(K, "SA")) { picked |= 1 << 2; groups = 0; }
    else if (wmatch(K, "aevent")) { picked |= 1 << 4; groups = 0; }
    else if (wmatch(K, "policy")) { picked |= 1 << 3; groups = 0; }
    else if (wmatch(K, "report")) { picked |= 1 << 5; groups = 0; }
    else if (wmatch(K, "help")) { diag(IPD_USAGE, -1, IPO_MONITOR, 0); return; }
    else { diag(IPD_MONITOR_ARG, K, 0, 0); return; }
    K++;
  }
  store<u32>(REC + R_SPI_MAX, groups | picked);
}

function doPolicy(): void {
  if (N - K < 1) { store<u32>(REC + R_AUX, IPC_SP_LIST); policyListOrDeleteall(false); return; }
  const c = K; K++;
  if (wmatch(c, "add")) { store<u32>(REC + R_AUX, IPC_SP_ADD); policyModify(false); return; }
  if (wmatch(c, "update")) { store<u32>(REC + R_AUX, IPC_SP_UPDATE); policyModify(true); return; }
  if (wmatch(c, "delete")) { store<u32>(REC + R_AUX, IPC_SP_DELETE); policyGetOrDelete(true); return; }
  if (wmatch(c, "deleteall") || wmatch(c, "delall")) { store<u32>(REC + R_AUX, IPC_SP_DELETEALL); policyListOrDeleteall(true); return; }
  if (wmatch(c, "list") || wmatch(c, "show") || wmatch(c, "lst")) { store<u32>(REC + R_AUX, IPC_SP_LIST); policyListOrDeleteall(false); return; }
  if (wmatch(c, "get")) { store<u32>(REC + R_AUX, IPC_SP_GET); policyGetOrDelete(false); return; }
  if (wmatch(c, "flush")) { store<u32>(REC + R_AUX, IPC_SP_FLUSH); policyFlush(); return; }
  if (wmatch(c, "count")) { store<u32>(REC + R_AUX, IPC_SP_COUNT); return; }
  if (wmatch(c, "set")) { store<u32>(REC + R_AUX, IPC_SP_SET); spdSet(); return; }
  if (wmatch(c, "setdefault")) { store<u32>(REC + R_AUX, IPC_SP_SETDEFAULT); spdSetDefault(); return; }
  if (wmatch(c, "getdefault")) { store<u32>(REC + R_AUX, IPC_SP_GETDEFAULT); return; }
  if (wmatch(c, "help")) { diag(IPD_USAGE, -1, IPO_POLICY, 0); return; }
  diag(IPD_UNKNOWN_CMD, c, IPO_POLICY, 0);
}

// ---------------------------------------------------------------- lines
const OTHER_OBJECTS = [
  "address", "addrlabel", "maddress", "route", "rule", "neighbor", "neighbour", "ntable", "ntbl", "link", "l2tp", "fou",
  "ila", "macsec", "tunnel", "tuntap", "tap", "token", "tcpmetrics", "tcp_metrics", "monitor",
];
const LATER_OBJECTS = ["mroute", "mrule", "netns", "netconf", "vrf", "sr", "nexthop", "mptcp", "ioam", "stats", "help"];

/** One command line: words [0, N) → one record (or a diagnostic, the record dropped). Returns false on a diagnostic. */
function parseLine(srcStart: u32, srcEnd: u32): bool {
  E = false; FILT = 0; K = 0; ORDER_SHIFT = 0; IDF = false;
  const recBytes = regionLen(REGION_RECORDS);
  const blobBytes = regionLen(REGION_BLOB);
  const off = append(REGION_RECORDS, REC_SIZE);
  REC = at(REGION_RECORDS, off);
  store<u32>(REC + R_LINE, LINE);
  store<u32>(REC + R_COL, 1);
  store<u32>(REC + R_SRC_START, srcStart);
  store<u32>(REC + R_SRC_END, srcEnd);
  store<u32>(REC + R_STMT, STMT);
  store<u64>(REC + R_LFT + LFT_SOFT_BYTE, XFRM_INF);
  store<u64>(REC + R_LFT + LFT_HARD_BYTE, XFRM_INF);
  store<u64>(REC + R_LFT + LFT_SOFT_PACKET, XFRM_INF);
  store<u64>(REC + R_LFT + LFT_HARD_PACKET, XFRM_INF);
  store<u8>(REC + R_KIND, OP_NONE);
  // do_cmd(): objects are matched in ip.c's table order; only xfrm is ours
  let obj: i32 = -1;
  for (let i = 0; i < OTHER_OBJECTS.length; i++) if (wmatch(0, unchecked(OTHER_OBJECTS[i]))) { obj = 0; break; }
  if (obj < 0 && wmatch(0, "xfrm")) obj = 1;
  if (obj < 0) for (let i = 0; i < LATER_OBJECTS.length; i++) if (wmatch(0, unchecked(LATER_OBJECTS[i]))) { obj = 0; break; }
  if (obj == 0) diag(IPD_UNSUPPORTED, 0, 0, 0);
  else if (obj < 0) diag(IPD_UNKNOWN_OBJ, 0, 0, 0);
  else {
    K = 1;
    if (N - K < 1) diag(IPD_USAGE, -1, IPO_XFRM, 0);
    else {
      const o = K; K++;
      if (wmatch(o, "state") || wmatch(o, "sa")) doState();
      else if (wmatch(o, "policy")) doPolicy();
      else if (wmatch(o, "monitor")) { store<u32>(REC + R_AUX, IPC_MONITOR); monitorParse(); }
      else diag(IPD_USAGE, -1, IPO_XFRM, 0);
    }
  }
  if (E) {
    truncate(REGION_RECORDS, recBytes);
    truncate(REGION_BLOB, blobBytes);
    return false;
  }
  REC = at(REGION_RECORDS, off);
  store<u32>(REC + R_AUX2, FILT);
  return true;
}

function isListKind(): bool {
  const aux = load<u32>(REC + R_AUX);
  return aux == IPC_SA_LIST || aux == IPC_SA_DELETEALL || aux == IPC_SP_LIST || aux == IPC_SP_DELETEALL;
}

let CONSUMED: u32 = 0;

/**
 * Parse REGION_INPUT[0, len) into records appended to REGION_RECORDS (diagnostics to REGION_DIAG, which is reset).
 * Without IPP_BATCH the input is one command line: argv words, each terminated by a NUL byte, starting with the object
 * (`xfrm`). With IPP_BATCH it is an `ip -batch` file: lines split as getcmdline() (`#` comments, `\` continuations)
 * and makeargs() (blanks, '…'/"…" words) split them, one record per non-blank line, R_LINE = the line number ip reports.
 * family: ip's preferred_family (-4/-6/-f), reset for every line. IPP_STOP_AT_LIST: stop after the first diagnostic
 * and after a list/deleteall line, as ip does (their exit()). Returns the records made; ipParseConsumed() tells
 * how many input bytes were consumed.
 */
export function ipParse(len: u32, family: u32, flags: u32): u32 {
  resetRegion(REGION_DIAG);
  IN = regionPtr(REGION_INPUT);
  const rec0 = regionLen(REGION_RECORDS) / REC_SIZE;
  CONSUMED = 0;
  if ((flags & IPP_BATCH) == 0) {
    N = 0;
    let s: u32 = 0;
    for (let i: u32 = 0; i < len; i++) {
      if (load<u8>(IN + i) == 0) {
        if (N < MAXW) { unchecked(WS[N] = s); unchecked(WE[N] = i); N++; }
        s = i + 1;
      }
    }
    LINE = 1; STMT = 0; PF = family;
    if (N >= MAXW) { N = 0; diag(IPD_TOO_MANY, -1, 0, 0); }
    else parseLine(0, len);
    CONSUMED = len;
    return regionLen(REGION_RECORDS) / REC_SIZE - rec0;
  }
  const stop = (flags & IPP_STOP_AT_LIST) != 0;
  let p: u32 = 0;
  let lineno: u32 = 0;
  STMT = 0;
  while (p < len) {
    // getcmdline: one physical line, '#' cuts it, a "\\\n" joins the next one (whose '#' cuts it too)
    let start = p;
    N = 0;
    let inWord = false; let quote: u32 = 0;
    let bad: u32 = 0;
    let ended = false;
    while (!ended) {
      // scan one physical line [p, eol)
      let eol = p;
      while (eol < len && load<u8>(IN + eol) != 0x0a) eol++;
      lineno++;
      let cut = eol;
      for (let i = p; i < eol; i++) if (load<u8>(IN + i) == 0x23) { cut = i; break; }
      let cont = false;
      let textEnd = cut;
      if (cut == eol && eol > p && load<u8>(IN + eol - 1) == 0x5c && eol < len) { cont = true; textEnd = eol - 1; }
      if (inWord) unchecked(WE[N - 1] = textEnd); // a word (or quote) carried over by a join runs on into this line
      // makeargs over [p, textEnd): words end at blanks; a word opening with a quote runs to the closing quote
      for (let i = p; i < textEnd; i++) {
        const c = <u32>load<u8>(IN + i);
        if (quote != 0) {
          if (c == quote) { unchecked(WE[N - 1] = i); quote = 0; inWord = false; }
          continue;
        }
        const blank = c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a;
        if (inWord) {
          if (blank) { unchecked(WE[N - 1] = i); inWord = false; }
          continue;
        }
        if (blank) continue;
        if (N >= BATCH_MAX_ARGS - 1) { bad = IPD_TOO_MANY; break; }
        if (c == 0x27 || c == 0x22) { quote = c; unchecked(WS[N] = i + 1); unchecked(WE[N] = textEnd); N++; inWord = true; continue; }
        unchecked(WS[N] = i); unchecked(WE[N] = textEnd); N++; inWord = true;
      }
      p = eol < len ? eol + 1 : len;
      if (!cont || bad != 0) ended = true;
      else if (p >= len) { bad = IPD_CONTINUATION; ended = true; }
      else {
        // strcat without a separator: "foo\<newline>bar" is the word "foobar". Close the gap in place by moving
        // this command's bytes so far 2 bytes right over the "\\\n" (O(command) per join, and only bytes
        // already consumed are touched), so every word stays one contiguous range.
        memory.copy(IN + start + 2, IN + start, textEnd - start);
        for (let k = 0; k < N; k++) { unchecked(WS[k] = WS[k] + 2); unchecked(WE[k] = WE[k] + 2); }
        start += 2;
      }
    }
    if (quote != 0 && bad == 0) bad = IPD_UNTERMINATED;
    LINE = lineno;
    if (bad != 0) {
      E = false;
      const keepN = N; N = 0;
      diag(bad, -1, 0, 0);
      N = keepN;
      CONSUMED = p;
      if (bad == IPD_CONTINUATION) break;
      if (stop) break;
      continue;
    }
    if (N == 0) { CONSUMED = p; continue; }
    PF = family;
    const ok = parseLine(start, p);
    STMT++;
    CONSUMED = p;
    if (stop && (!ok || isListKind())) break;
  }
  return regionLen(REGION_RECORDS) / REC_SIZE - rec0;
}

/** Input bytes the last ipParse consumed (batch: up to the line it stopped after). */
export function ipParseConsumed(): u32 {
  return CONSUMED;
}
