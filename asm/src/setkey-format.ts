// asm/src/setkey-format.ts — records → the text ipsec-tools 0.8.2 `setkey -D` / `-DP` print (layer: asm).
// Owns: the af_key translation of xfrm state/policy into what a PF_KEY dump would carry (net/key/af_key.c
// __pfkey_xfrm_state2msg, pfkey_xfrm_policy2msg) fused with libipsec's printers (pfkey_dump.c pfkey_sadump1,
// pfkey_spdump1; ipsec_dump_policy.c; setkey.c shortdump), written byte by byte into REGION_OUTPUT.
// One function per printed field, so a format detail found wrong against the real setkey is fixed in one place.
import { resetRegion, at } from "./arena";
import {
  P, begin, finish, ch, str, sp, tab, dec64, hex08, ipv4, ipv6, zoneOffset, civil, civY, civM, civD, civSecs,
  protoName as protoNameIn, HEX2,
} from "./text-out";
import {
  REGION_RECORDS, REGION_BLOB, REGION_OUTPUT, REC_SIZE, R_FAMILY, R_DIR, R_ACTION, R_FLAGS, R_SEL, SEL_DADDR,
  SEL_SADDR, SEL_DPORT, SEL_SPORT, SEL_FAMILY, SEL_PREFIXLEN_D, SEL_PREFIXLEN_S, SEL_PROTO, R_DADDR, R_SADDR,
  R_SPI, R_PROTO, R_MODE, R_REPLAY, R_SAFLAGS, R_REQID, R_PRIORITY, R_INDEX, R_PTYPE, R_STATE, R_LFT,
  LFT_SOFT_BYTE, LFT_HARD_BYTE, LFT_SOFT_PACKET, LFT_HARD_PACKET, LFT_SOFT_ADD, LFT_HARD_ADD, LFT_SOFT_USE,
  LFT_HARD_USE, R_CUR, CUR_BYTES, CUR_PACKETS, CUR_ADD_TIME, CUR_USE_TIME, R_ALG_AUTH, R_ALG_ENC, R_ALG_COMP,
  ALG_NAME_OFF, ALG_NAME_LEN, ALG_KEY_OFF, ALG_KEY_BITS, R_ENCAP_TYPE, R_ENCAP_SPORT, R_ENCAP_DPORT, R_CTX_DOI,
  R_CTX_ALG, R_CTX_OFF, R_CTX_LEN, RF_HAS_CTX, R_TMPL_OFF, R_TMPL_COUNT, TMPL_SIZE, T_DADDR, T_SADDR, T_PROTO,
  T_FAMILY, T_REQID, T_MODE, T_OPTIONAL, AF_INET, AF_INET6, IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP,
  XFRM_MODE_TRANSPORT, XFRM_MODE_TUNNEL, XFRM_MODE_BEET, XFRM_POLICY_BLOCK,
} from "../shared/layout";
import {
  KALG_KIND, KALG_ID, KALG_NAME, ALG_KIND_AUTH, ALG_KIND_ENC, ALG_KIND_COMP, DUMP_AUTH_ID, DUMP_AUTH_NAME,
  DUMP_ENC_ID, DUMP_ENC_NAME, DUMP_COMP_ID, DUMP_COMP_NAME,
} from "../shared/algorithms";

// ---- flags of setkeyFormatSA / setkeyFormatSP ----
const SKF_ALL = 1;   // -a: also print SAs in state dead (setkey.c postproc)
const SKF_PORTS = 2; // -p: addr[port] (pfkey_sadump_withports / ipsec_dump_policy_withports)
const SKF_SHORT = 4; // -l: one line per SA (setkey.c shortdump); SP dumps ignore it, as setkey does
const SKF_COUNT = 0x100;    // internal: count PF_KEY-visible entries, print nothing

// setkey's refcnt for policies is af_key's refcount_read(&xp->refcnt), which XFRM netlink never exposes; a
// policy at rest holds one reference (the real setkey shows 2 for a few seconds after an add, then 1).
const POLICY_REFCNT: u32 = 1;

// ---- ctime() support: local-time offsets handed in by TypeScript (src/wasm/setkey-format.ts) ----
// TZ_BUF holds TZ_MAX pairs of i64 (start second UTC, offset seconds east of UTC), sorted by start. No pairs = UTC.
const TZ_MAX = 1024;
const TZ_BUF: usize = memory.data(TZ_MAX * 16, 8);
let tzCount: i32 = 0;
// getprotobynumber() names (/etc/protocols, first entry per number): 256 slots of 32 bytes, byte 0 = length.
const PROTO_BUF: usize = memory.data(256 * 32, 8);

export function setkeyFmtTzBuffer(): usize { return TZ_BUF; }
export function setkeyFmtTzMax(): i32 { return TZ_MAX; }
export function setkeyFmtSetTz(n: i32): void { tzCount = n < 0 ? 0 : (n > TZ_MAX ? TZ_MAX : n); timeCacheReset(); }
export function setkeyFmtProtoBuffer(): usize { return PROTO_BUF; }

function tzOffset(t: i64): i64 { return zoneOffset(TZ_BUF, tzCount, t); }

function nl(): void { ch(10); }

/** %ld */
function decs(v: i64): void { if (v < 0) { ch(45); dec64(<u64>(-v)); } else dec64(<u64>v); }
/** %0Nd for small non-negative values */
function dec0(v: i64, w: i32): void {
  let n = 1; let x = v;
  while (x >= 10) { n++; x /= 10; }
  for (let i = n; i < w; i++) ch(48);
  decs(v);
}
/** %.0f of a u64 converted to double (str_lifetime_byte). */
function bytesF(v: u64): void {
  const d = <f64>v;
  if (d >= 18446744073709551616.0) { str("18446744073709551616"); return; }
  dec64(<u64>d);
}
/** af_key _X2KEY(): XFRM_INF (all ones) → 0 */
function x2key(v: u64): u64 { return v == 0xffffffffffffffff ? 0 : v; }

// ---- addresses (getnameinfo NI_NUMERICHOST; af_key fills sin6_scope_id = 0, so no %scope) ----
function addr(p: usize, family: i32): void { if (family == AF_INET6) ipv6(p); else ipv4(p); }

// ---- ctime(&t) characters 4..23 (pfkey_dump.c str_time); 0 prints 20 spaces ----
const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
// Bulk-loaded SAs share creation seconds and every entry prints "current: now": remember the last few renderings.
const T_CACHE = 4;
const TC_BUF: usize = memory.data(T_CACHE * 20, 8);
const tcKey = new StaticArray<u64>(T_CACHE);
const tcValid = new StaticArray<bool>(T_CACHE);
let tcNext = 0;
/** Forget cached renderings (the time-zone table changed). */
function timeCacheReset(): void { for (let i = 0; i < T_CACHE; i++) unchecked(tcValid[i] = false); }

function time20(tu: u64): void {
  if (tu == 0) { for (let i = 0; i < 20; i++) sp(); return; }
  for (let i = 0; i < T_CACHE; i++) {
    if (unchecked(tcValid[i]) && unchecked(tcKey[i]) == tu) {
      memory.copy(P, TC_BUF + <usize>i * 20, 20);
      P += 20;
      return;
    }
  }
  const at0 = P;
  time20Render(tu);
  const slot = tcNext;
  tcNext = (tcNext + 1) % T_CACHE;
  memory.copy(TC_BUF + <usize>slot * 20, at0, 20);
  unchecked(tcKey[slot] = tu);
  unchecked(tcValid[slot] = true);
}

function time20Render(tu: u64): void {
  const t = <i64>tu; // (long) cast in str_time
  if (t > 67767976233316800 || t < -67767976233316800) { for (let i = 0; i < 20; i++) ch(63); return; }
  civil(t + tzOffset(t));
  const y = civY, m = civM, d = civD, secs = civSecs;
  if (y > 2147483647 || y < -2147481748) { for (let i = 0; i < 20; i++) ch(63); return; } // localtime/asctime fail
  // asctime "%.3s %.3s%3d %.2d:%.2d:%.2d %d\n" from offset 4, exactly 20 bytes copied
  const start = P;
  const mi = <i32>(m - 1) * 3;
  ch(MONTHS.charCodeAt(mi)); ch(MONTHS.charCodeAt(mi + 1)); ch(MONTHS.charCodeAt(mi + 2));
  sp();
  if (d < 10) sp();
  decs(d);
  sp();
  dec0(secs / 3600, 2); ch(58); dec0((secs % 3600) / 60, 2); ch(58); dec0(secs % 60, 2);
  sp();
  decs(y);
  nl();
  while (P < start + 20) ch(0); // unreachable for real times; keeps the 20-byte contract
  P = start + 20;
}

// ---- algorithms: kernel name → PF_KEY id as af_key reports it (0 when the kernel alg has none) ----
export function pfkeyAlgId(rec: usize, slot: i32, kind: i32): i32 {
  const nlen = load<u32>(rec + <usize>slot + ALG_NAME_LEN);
  if (nlen == 0) return 0;
  const np = at(REGION_BLOB, load<u32>(rec + <usize>slot + ALG_NAME_OFF));
  for (let i = 0, n = KALG_NAME.length; i < n; i++) {
    if (unchecked(KALG_KIND[i]) != kind) continue;
    const s = unchecked(KALG_NAME[i]);
    if (<u32>s.length != nlen) continue;
    let same = true;
    for (let j = 0; j < <i32>nlen; j++) {
      if (<i32>load<u8>(np + <usize>j) != s.charCodeAt(j)) { same = false; break; }
    }
    if (same) return unchecked(KALG_ID[i]);
  }
  return 0;
}
/** GETMSGV2S: the dump name of an id followed by a space, else "%u ". */
function algName(kind: i32, id: i32): void {
  const ids = kind == ALG_KIND_AUTH ? DUMP_AUTH_ID : (kind == ALG_KIND_ENC ? DUMP_ENC_ID : DUMP_COMP_ID);
  const names = kind == ALG_KIND_AUTH ? DUMP_AUTH_NAME : (kind == ALG_KIND_ENC ? DUMP_ENC_NAME : DUMP_COMP_NAME);
  for (let i = 0, n = ids.length; i < n; i++) {
    if (unchecked(ids[i]) == id) { str(unchecked(names[i])); sp(); return; }
  }
  dec64(<u64>id); sp();
}
/** ipsec_hexdump: " " before every 4-byte group, "\n" (no tab) before every 32nd byte; sadb_key_bits / 8 bytes. */
function hexKey(rec: usize, slot: i32): void {
  const n = <i32>(load<u32>(rec + <usize>slot + ALG_KEY_BITS) >>> 3);
  const kp = at(REGION_BLOB, load<u32>(rec + <usize>slot + ALG_KEY_OFF));
  for (let i = 0; i < n; i++) {
    if (i != 0 && (i & 31) == 0) nl();
    if ((i & 3) == 0) sp();
    store<u16>(P, load<u16>(HEX2 + (<usize>load<u8>(kp + <usize>i) << 1)));
    P += 2;
  }
}
/** af_key sends KEY_AUTH / KEY_ENCRYPT only for an algorithm with alg_key_len != 0. */
function hasKey(rec: usize, slot: i32): bool {
  return load<u32>(rec + <usize>slot + ALG_NAME_LEN) != 0 && load<u32>(rec + <usize>slot + ALG_KEY_BITS) != 0;
}

// ---- enumerations (pfkey_dump.c tables; GETMSGSTR prints "%u " outside them) ----
function satypeOf(proto: i32): i32 { // af_key pfkey_proto2satype
  return proto == IPPROTO_AH ? 2 : (proto == IPPROTO_ESP ? 3 : (proto == IPPROTO_COMP ? 9 : 0));
}
function pfkeyMode(xmode: i32): i32 { // af_key pfkey_mode_from_xfrm (linux/ipsec.h IPSEC_MODE_*)
  return xmode == XFRM_MODE_TRANSPORT ? 1 : (xmode == XFRM_MODE_TUNNEL ? 2 : (xmode == XFRM_MODE_BEET ? 3 : -1));
}
const SATYPE_NAMES = ["unspec", "unknown", "ah", "esp", "unknown", "rsvp", "ospfv2", "ripv2", "mip", "ipcomp", "policy", "tcp"];
const MODE_NAMES = ["any", "transport", "tunnel"];
const STATE_NAMES = ["larval", "mature", "dying", "dead"];
function getMsgStr(names: string[], v: i32): void {
  if (v >= 0 && v < names.length) str(unchecked(names[v])); else dec64(<u64>v);
  sp();
}
const DIR_NAMES = ["any", "in", "out", "fwd", "in(socket)", "out(socket)"];
const POLICY_NAMES = ["discard", "none", "ipsec", "entrust", "bypass"];

function protoName(p: i32): void { protoNameIn(PROTO_BUF, p); } // getprotobynumber() else the number

// ---- pieces shared by both dumps ----
function secCtx(rec: usize): void {
  if ((load<u32>(rec + R_FLAGS) & RF_HAS_CTX) == 0) return;
  const len = load<u32>(rec + R_CTX_LEN);
  tab(); str("security context doi: "); dec64(load<u8>(rec + R_CTX_DOI)); nl();
  tab(); str("security context algorithm: "); dec64(load<u8>(rec + R_CTX_ALG)); nl();
  tab(); str("security context length: "); dec64(len); nl();
  tab(); str("security context: ");
  const cp = at(REGION_BLOB, load<u32>(rec + R_CTX_OFF));
  for (let i: u32 = 0; i < len; i++) { // "%s": stops at the first NUL
    const c = load<u8>(cp + <usize>i);
    if (c == 0) break;
    ch(c);
  }
  nl();
}
function seqOf(ordinal: u32, total: u32): u32 { return ordinal == total ? 0 : ordinal; } // af_key: last → 0

// ---- SA dump ----
function lftU64(rec: usize, off: i32): u64 { return load<u64>(rec + R_LFT + <usize>off); }
function curU64(rec: usize, off: i32): u64 { return load<u64>(rec + R_CUR + <usize>off); }

function saAddrPort(p: usize, family: i32, withports: bool, natt: bool, nport: u32): void {
  addr(p, family);
  if (withports) str("[0]"); // af_key fills ADDRESS_SRC/DST with port 0; str_ipport prints it
  if (natt) { ch(91); dec64(nport); ch(93); }
  sp();
}

function saFull(rec: usize, satype: i32, flags: u32, now: u64, pid: u32, seq: u32): void {
  const family = <i32>load<u8>(rec + R_FAMILY);
  const withports = (flags & SKF_PORTS) != 0;
  const natt = load<u16>(rec + R_ENCAP_TYPE) != 0;
  saAddrPort(rec + R_SADDR, family, withports, natt, load<u16>(rec + R_ENCAP_SPORT));
  saAddrPort(rec + R_DADDR, family, withports, natt, load<u16>(rec + R_ENCAP_DPORT));
  nl(); tab();
  if (natt && satype == 3) str("esp-udp ");
  else { if (natt) str("natt+"); getMsgStr(SATYPE_NAMES, satype); }
  str("mode="); getMsgStr(MODE_NAMES, pfkeyMode(<i32>load<u8>(rec + R_MODE)));
  const spi = bswap<u32>(load<u32>(rec + R_SPI));
  const reqid = load<u32>(rec + R_REQID);
  str("spi="); dec64(spi); ch(40); str("0x"); hex08(spi); ch(41);
  str(" reqid="); dec64(reqid); ch(40); str("0x"); hex08(reqid); ch(41); nl();
  // af_key never sends NAT_T_OA, so "\tNAT OA=" is never printed on Linux.
  if (satype == 9) { // KAME: sadb_sa_encrypt carries the calg id; printed without a newline
    tab(); str("C: "); algName(ALG_KIND_COMP, pfkeyAlgId(rec, R_ALG_COMP, ALG_KIND_COMP));
  } else if (satype == 3 && hasKey(rec, R_ALG_ENC)) {
    tab(); str("E: "); algName(ALG_KIND_ENC, pfkeyAlgId(rec, R_ALG_ENC, ALG_KIND_ENC)); hexKey(rec, R_ALG_ENC); nl();
  }
  if (hasKey(rec, R_ALG_AUTH)) {
    tab(); str("A: "); algName(ALG_KIND_AUTH, pfkeyAlgId(rec, R_ALG_AUTH, ALG_KIND_AUTH)); hexKey(rec, R_ALG_AUTH); nl();
  }
  // sadb_x_sa2_sequence is always 0; sadb_sa_flags keeps only NOECN/DECAP_DSCP/NOPMTUDISC (pfkeyv2.h values)
  const xf = <u32>load<u8>(rec + R_SAFLAGS);
  let saf: u32 = 0;
  if (xf & 1) saf |= 0x80000000;
  if (xf & 2) saf |= 0x40000000;
  if (xf & 4) saf |= 0x20000000;
  tab(); str("seq=0x00000000 replay="); dec64(load<u8>(rec + R_REPLAY));
  str(" flags=0x"); hex08(saf); str(" state="); getMsgStr(STATE_NAMES, <i32>load<u8>(rec + R_STATE)); nl();
  // lifetimes: LIFETIME_CURRENT, HARD and SOFT are always present in af_key dumps
  const addt = curU64(rec, CUR_ADD_TIME);
  tab(); str("created: "); time20(addt); tab(); str("current: "); time20(now); nl();
  tab(); str("diff: "); dec64(addt == 0 ? 0 : now - addt); str("(s)");
  tab(); str("hard: "); dec64(lftU64(rec, LFT_HARD_ADD)); str("(s)");
  tab(); str("soft: "); dec64(lftU64(rec, LFT_SOFT_ADD)); str("(s)"); nl();
  tab(); str("last: "); time20(curU64(rec, CUR_USE_TIME));
  tab(); str("hard: "); dec64(lftU64(rec, LFT_HARD_USE)); str("(s)");
  tab(); str("soft: "); dec64(lftU64(rec, LFT_SOFT_USE)); str("(s)"); nl();
  tab(); str("current: "); bytesF(curU64(rec, CUR_BYTES)); str("(bytes)");
  tab(); str("hard: "); bytesF(x2key(lftU64(rec, LFT_HARD_BYTE))); str("(bytes)");
  tab(); str("soft: "); bytesF(x2key(lftU64(rec, LFT_SOFT_BYTE))); str("(bytes)"); nl();
  // sadb_lifetime_allocations is a __u32
  tab(); str("allocated: "); dec64(<u32>curU64(rec, CUR_PACKETS));
  tab(); str("hard: "); dec64(<u32>x2key(lftU64(rec, LFT_HARD_PACKET)));
  tab(); str("soft: "); dec64(<u32>x2key(lftU64(rec, LFT_SOFT_PACKET))); nl();
  secCtx(rec);
  tab(); str("sadb_seq="); dec64(seq); str(" pid="); dec64(pid); str(" refcnt=0"); nl(); // sadb_msg_reserved = 0
}

const SHORT_SATYPE = ["", "", "ah", "esp"];
const SHORT_STATE = ["L", "M", "D", "d"];
/** STR_OR_ID padded with %-Ns */
function strOrId(names: string[], v: i32, w: i32): void {
  const s = P;
  if (v >= 0 && v < names.length && unchecked(names[v]).length > 0) str(unchecked(names[v]));
  else { ch(35); dec64(<u64>v); }
  while (<i32>(P - s) < w) sp();
}
/** setkey.c shortdump(): af_key addresses carry proto 0 and port 0, so neither is printed. */
function saShort(rec: usize, satype: i32, now: u64): void {
  const family = <i32>load<u8>(rec + R_FAMILY);
  dec0(<i64>((now % 3600) / 60), 2); dec0(<i64>(now % 60), 2);
  sp(); strOrId(SHORT_SATYPE, satype, 3);
  sp(); strOrId(SHORT_STATE, <i32>load<u8>(rec + R_STATE), 1);
  sp(); hex08(bswap<u32>(load<u32>(rec + R_SPI)));
  const addt = curU64(rec, CUR_ADD_TIME);
  const age: u32 = addt == 0 ? 0 : <u32>(now - addt); // u_int t
  if (age >= 1000) str(" big/");
  else { sp(); if (age < 100) sp(); if (age < 10) sp(); dec64(age); ch(47); }
  const hard = <u32>lftU64(rec, LFT_HARD_ADD);
  if (hard >= 1000) str("big");
  else { dec64(hard); if (hard < 100) sp(); if (hard < 10) sp(); }
  sp();
  addr(rec + R_SADDR, family);
  str(" -> ");
  addr(rec + R_DADDR, family);
  nl();
}

/** PF_KEY satype of an SA record, 0 if af_key's SA dump would not carry it (xfrm_id_proto_match(IPSEC_PROTO_ANY)
 *  keeps ESP/AH/IPComp; family must be inet/inet6; mode must map, else af_key would fail the dump). */
function saSatype(rec: usize): i32 {
  const satype = satypeOf(<i32>load<u8>(rec + R_PROTO));
  if (satype == 0) return 0;
  const family = <i32>load<u8>(rec + R_FAMILY);
  if (family != AF_INET && family != AF_INET6) return 0;
  if (pfkeyMode(<i32>load<u8>(rec + R_MODE)) < 0) return 0;
  return satype;
}

/**
 * Print records [first, end) of REGION_RECORDS as `setkey -D` would (REGION_OUTPUT is reset first).
 * seqBase: PF_KEY-visible SAs before `first` in this dump; total: all of them in the dump (the one numbered
 * `total` prints sadb_seq=0), 0xffffffff if unknown. now: seconds since the epoch. Returns how many records of
 * the range are PF_KEY-visible (dead ones included: the kernel dumps them, setkey hides them without -a).
 */
export function setkeyFormatSA(first: u32, endIdx: u32, flags: u32, now: u64, pid: u32, seqBase: u32, total: u32): u32 {
  if ((flags & SKF_COUNT) == 0) resetRegion(REGION_OUTPUT);
  let n: u32 = 0;
  for (let i = first; i < endIdx; i++) {
    const rec = at(REGION_RECORDS, i * REC_SIZE);
    const satype = saSatype(rec);
    if (satype == 0) continue;
    n++;
    if ((flags & SKF_COUNT) != 0) continue;
    if ((flags & SKF_ALL) == 0 && load<u8>(rec + R_STATE) == 3) continue;
    if ((flags & SKF_SHORT) != 0) {
      begin(256);
      saShort(rec, satype, now);
    } else {
      const keyBytes = (load<u32>(rec + R_ALG_AUTH + ALG_KEY_BITS) >>> 3) + (load<u32>(rec + R_ALG_ENC + ALG_KEY_BITS) >>> 3);
      begin(1536 + 3 * keyBytes + load<u32>(rec + R_CTX_LEN));
      saFull(rec, satype, flags, now, pid, seqOf(seqBase + n, total));
    }
    finish();
  }
  return n;
}

/** How many records of [first, end) an af_key SA dump would carry. */
export function setkeyCountSA(first: u32, endIdx: u32): u32 {
  return setkeyFormatSA(first, endIdx, SKF_COUNT, 0, 0, 0, 0);
}

// ---- SP dump ----
const PROTO_ICMP = 1;
const PROTO_GRE = 47;
const PROTO_ICMPV6 = 58;
const PROTO_MH = 135;

/** str_prefport: "/len" unless full length; "[port]"/"[any]" except for ICMP, ICMPv6, MH and GRE. */
function prefPort(family: i32, pref: i32, port: u32, ulp: i32): void {
  const plen = family == AF_INET6 ? 128 : 32;
  if (pref != plen) { ch(47); dec64(<u64>pref); }
  if (ulp == PROTO_ICMP || ulp == PROTO_ICMPV6 || ulp == PROTO_MH || ulp == PROTO_GRE) return;
  if (port == 0) str("[any]"); else { ch(91); dec64(port); ch(93); }
}
/** str_upperspec */
function upperSpec(ulp: i32, p1: u32, p2: u32): void {
  protoName(ulp);
  if (p1 == 0 && p2 == 0) return;
  if (ulp == PROTO_ICMP || ulp == PROTO_ICMPV6 || ulp == PROTO_MH) { sp(); dec64(p1); ch(44); dec64(p2); }
  else if (ulp == PROTO_GRE) { sp(); dec64(<u32>((p1 << 16) + p2)); }
}

const EIPSEC_INVAL_PROTO = "Invalid ipsec protocol";
const EIPSEC_INVAL_MODE = "Invalid ipsec mode";
const EIPSEC_INVAL_DIR = "Invalid direction";

/** ipsec_dump_ipsecrequest() validity: the error ipsec_dump_policy() would stop on, or null. */
function tmplError(t: usize): string | null {
  const proto = <i32>load<u8>(t + T_PROTO);
  if (proto != IPPROTO_ESP && proto != IPPROTO_AH && proto != IPPROTO_COMP) return EIPSEC_INVAL_PROTO;
  const m = pfkeyMode(<i32>load<u8>(t + T_MODE));
  if (m != 1 && m != 2) return EIPSEC_INVAL_MODE; // BEET (3) is unknown to libipsec 0.8.2
  return null;
}

/** One "proto/mode/src-dst/level[:#]reqid" (af_key levels: require, unique if reqid, use if optional). */
function tmplText(t: usize, withports: bool): void {
  const proto = <i32>load<u8>(t + T_PROTO);
  str(proto == IPPROTO_ESP ? "esp" : (proto == IPPROTO_AH ? "ah" : "ipcomp"));
  ch(47);
  const tunnel = <i32>load<u8>(t + T_MODE) == XFRM_MODE_TUNNEL;
  str(tunnel ? "tunnel" : "transport");
  ch(47);
  if (tunnel) { // addresses only in tunnel mode, ports always 0 (pfkey_sockaddr_fill(&t->saddr, 0, ...))
    const fam = <i32>load<u16>(t + T_FAMILY);
    addr(t + T_SADDR, fam); if (withports) str("[0]");
    ch(45);
    addr(t + T_DADDR, fam); if (withports) str("[0]");
  }
  ch(47);
  const reqid = load<u32>(t + T_REQID);
  if (load<u8>(t + T_OPTIONAL) != 0) str("use");
  else if (reqid != 0) str("unique");
  else str("require");
  if (reqid != 0) { ch(reqid > 0x3fff ? 35 : 58); dec64(reqid); } // IPSEC_MANUAL_REQID_MAX
}

/** "dir[ prio base[ op off]] type" (ipsec_dump_policy1 with HAVE_PFKEY_POLICY_PRIORITY). */
function policyHead(dir: i32, prio: u32, type: i32): void {
  str(unchecked(DIR_NAMES[dir]));
  sp();
  if (prio != 0) {
    let off: i32;
    if (prio < 0x60000000) { off = <i32>(prio - 0x40000000); str("prio high"); }
    else if (prio < 0xa0000000) { off = <i32>(prio - 0x80000000); str("prio def"); }
    else { off = <i32>(prio - 0xc0000000); str("prio low"); }
    off = -off; // "fix sign to match the way it is input"
    let op = 43;
    if (off < 0) { op = 45; off = -off; }
    sp();
    if (off != 0) { ch(op); sp(); dec64(<u32>off); sp(); }
  }
  str(unchecked(POLICY_NAMES[type]));
}

function spFull(rec: usize, flags: u32, pid: u32, seq: u32, family: i32): void {
  const withports = (flags & SKF_PORTS) != 0;
  const index = load<u32>(rec + R_INDEX);
  const s = rec + R_SEL;
  if (index % 8 >= 3) { // Linux: per-socket policies are recognised by their id (pfkey_dump.c)
    str("(per-socket policy) ");
  } else {
    const proto = <i32>load<u8>(s + SEL_PROTO);
    const ulp = proto == 0 ? 255 : proto; // pfkey_proto_from_xfrm
    const sport = <u32>bswap<u16>(load<u16>(s + SEL_SPORT));
    const dport = <u32>bswap<u16>(load<u16>(s + SEL_DPORT));
    addr(s + SEL_SADDR, family); prefPort(family, <i32>load<u8>(s + SEL_PREFIXLEN_S), sport, ulp); sp();
    addr(s + SEL_DADDR, family); prefPort(family, <i32>load<u8>(s + SEL_PREFIXLEN_D), dport, ulp); sp();
    upperSpec(ulp, sport, dport);
  }
  // sadb_x_policy: dir = xfrm dir + 1, type discard / none / ipsec, id = index, priority verbatim
  const dir = <i32>load<u8>(rec + R_DIR) + 1;
  const ntmpl = <i32>load<u32>(rec + R_TMPL_COUNT);
  const type = load<u8>(rec + R_ACTION) == XFRM_POLICY_BLOCK ? 0 : (ntmpl > 0 ? 2 : 1);
  let err: string | null = dir > 5 ? EIPSEC_INVAL_DIR : null;
  const tbase = at(REGION_BLOB, load<u32>(rec + R_TMPL_OFF));
  if (err === null && type == 2) {
    for (let k = 0; k < ntmpl; k++) {
      err = tmplError(tbase + <usize>k * TMPL_SIZE);
      if (err !== null) break;
    }
  }
  nl(); tab();
  if (err !== null) {
    str("Policy:["); str(<string>err); ch(93); nl();
  } else {
    policyHead(dir, load<u32>(rec + R_PRIORITY), type);
    if (type == 2) {
      for (let k = 0; k < ntmpl; k++) { nl(); tab(); tmplText(tbase + <usize>k * TMPL_SIZE, withports); }
    }
    nl();
  }
  tab(); str("created: "); time20(curU64(rec, CUR_ADD_TIME)); str("  ");
  str("lastused: "); time20(curU64(rec, CUR_USE_TIME)); nl();
  tab(); str("lifetime: "); dec64(lftU64(rec, LFT_HARD_ADD)); str("(s) ");
  str("validtime: "); dec64(lftU64(rec, LFT_HARD_USE)); str("(s)"); nl();
  secCtx(rec);
  tab(); str("spid="); dec64(index); str(" seq="); dec64(seq); str(" pid="); dec64(pid); nl();
  tab(); str("refcnt="); dec64(POLICY_REFCNT); nl();
}

function spFamily(rec: usize): i32 {
  const f = <i32>load<u16>(rec + R_SEL + SEL_FAMILY);
  return f != 0 ? f : <i32>load<u8>(rec + R_FAMILY);
}

/**
 * Print records [first, end) as `setkey -DP` would (REGION_OUTPUT is reset first). af_key's SPD dump walks
 * XFRM_POLICY_TYPE_MAIN only, so sub policies are neither printed nor counted. Arguments as setkeyFormatSA;
 * SKF_SHORT is ignored (setkey -l prints policies in full). Returns the PF_KEY-visible count of the range.
 */
export function setkeyFormatSP(first: u32, endIdx: u32, flags: u32, pid: u32, seqBase: u32, total: u32): u32 {
  const counting = (flags & SKF_COUNT) != 0;
  if (!counting) resetRegion(REGION_OUTPUT);
  let n: u32 = 0;
  for (let i = first; i < endIdx; i++) {
    const rec = at(REGION_RECORDS, i * REC_SIZE);
    if (load<u8>(rec + R_PTYPE) != 0) continue;
    const family = spFamily(rec);
    if (family != AF_INET && family != AF_INET6) continue;
    n++;
    if (counting) continue;
    begin(1536 + 256 * load<u32>(rec + R_TMPL_COUNT) + load<u32>(rec + R_CTX_LEN));
    spFull(rec, flags, pid, seqOf(seqBase + n, total), family);
    finish();
  }
  return n;
}

/** How many records of [first, end) an af_key SPD dump would carry. */
export function setkeyCountSP(first: u32, endIdx: u32): u32 {
  return setkeyFormatSP(first, endIdx, SKF_COUNT, 0, 0, 0);
}
