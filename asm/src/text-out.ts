// asm/src/text-out.ts — the printf of the wasm formatters (layer: asm). Owns the output cursor into
// REGION_OUTPUT (one reserve() per entry, raw stores, one commit()) and the conversions both ip-format and
// setkey-format print with: %u/%llu, %08x, %x, inet_ntop for IPv4 and IPv6, a zone-table lookup for
// localtime()/ctime(), and getprotobynumber() names from a table TypeScript fills (src/wasm/format-host.ts).
import { reserve, commit } from "./arena";
import { REGION_OUTPUT } from "../shared/layout";

// ---- the writer ----
export let P: usize = 0;
export let P0: usize = 0;

export function begin(bound: u32): void { P0 = reserve(REGION_OUTPUT, bound); P = P0; }
export function finish(): void { commit(REGION_OUTPUT, <u32>(P - P0)); }
// @ts-ignore: decorator
@inline export function ch(c: i32): void { store<u8>(P, <u8>c); P++; }
/** An ASCII string constant: low bytes of its UTF-16 code units, read raw (no charCodeAt bounds checks). */
export function str(s: string): void {
  const src = changetype<usize>(s);
  const n = <usize>s.length;
  for (let i: usize = 0; i < n; i++) store<u8>(P + i, load<u8>(src + (i << 1)));
  P += n;
}
export function sp(): void { ch(32); }
export function tab(): void { ch(9); }

// ---- numbers ----
// "00".."99" and "00".."ff" pairs, filled at instantiation: numbers and keys are most of the output.
export const DIGITS2: usize = memory.data(200, 8);
export const HEX2: usize = memory.data(512, 8);
for (let i = 0; i < 256; i++) {
  if (i < 100) { store<u8>(DIGITS2 + <usize>i * 2, <u8>(48 + i / 10)); store<u8>(DIGITS2 + <usize>i * 2 + 1, <u8>(48 + i % 10)); }
  store<u8>(HEX2 + <usize>i * 2, <u8>hexDigit(<u32>i >>> 4));
  store<u8>(HEX2 + <usize>i * 2 + 1, <u8>hexDigit(<u32>i & 15));
}
export function hexDigit(d: u32): i32 { return d < 10 ? 48 + <i32>d : 87 + <i32>d; }
/** %u of a u32 */
export function dec32(v: u32): void {
  let n = 1;
  let x = v;
  while (x >= 10) { n++; x /= 10; }
  let q = P + <usize>n;
  x = v;
  while (x >= 100) { q -= 2; store<u16>(q, load<u16>(DIGITS2 + <usize>(x % 100) * 2)); x /= 100; }
  if (x >= 10) { q -= 2; store<u16>(q, load<u16>(DIGITS2 + <usize>x * 2)); } else { q--; store<u8>(q, <u8>(48 + x)); }
  P += <usize>n;
}
/** %llu / %lu */
export function dec64(v: u64): void {
  if (v <= 0xffffffff) { dec32(<u32>v); return; } // 32-bit division is much cheaper
  let n = 0;
  let x = v;
  while (x != 0) { n++; x /= 10; }
  let q = P + <usize>n;
  x = v;
  while (x != 0) { q--; store<u8>(q, <u8>(48 + <i32>(x % 10))); x /= 10; }
  P += <usize>n;
}
/** %08x */
export function hex08(v: u32): void {
  store<u16>(P, load<u16>(HEX2 + <usize>((v >>> 24) << 1)));
  store<u16>(P + 2, load<u16>(HEX2 + <usize>(((v >>> 16) & 255) << 1)));
  store<u16>(P + 4, load<u16>(HEX2 + <usize>(((v >>> 8) & 255) << 1)));
  store<u16>(P + 6, load<u16>(HEX2 + <usize>((v & 255) << 1)));
  P += 8;
}
/** %x */
export function hexn(v: u32): void {
  let started = false;
  for (let s = 28; s >= 0; s -= 4) {
    const d = (v >>> <u32>s) & 15;
    if (d != 0 || started || s == 0) { ch(hexDigit(d)); started = true; }
  }
}

// ---- addresses: inet_ntop (what ip's rt_addr_n2a and setkey's getnameinfo(NI_NUMERICHOST) print) ----
// @ts-ignore: decorator
@inline function be16(p: usize): u32 { return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1); }
export function ipv4(p: usize): void {
  dec32(load<u8>(p)); ch(46); dec32(load<u8>(p + 1)); ch(46); dec32(load<u8>(p + 2)); ch(46); dec32(load<u8>(p + 3));
}
/** glibc inet_ntop6: longest run (first on ties) of >= 2 zero words becomes "::"; ::a.b.c.d and ::ffff:a.b.c.d. */
export function ipv6(p: usize): void {
  let bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
  for (let i = 0; i < 8; i++) {
    const w = be16(p + <usize>(2 * i));
    if (w == 0) {
      if (curBase == -1) { curBase = i; curLen = 1; } else curLen++;
    } else if (curBase != -1) {
      if (bestBase == -1 || curLen > bestLen) { bestBase = curBase; bestLen = curLen; }
      curBase = -1;
    }
  }
  if (curBase != -1 && (bestBase == -1 || curLen > bestLen)) { bestBase = curBase; bestLen = curLen; }
  if (bestBase != -1 && bestLen < 2) bestBase = -1;
  for (let i = 0; i < 8; i++) {
    if (bestBase != -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i == bestBase) ch(58);
      continue;
    }
    if (i != 0) ch(58);
    if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && be16(p + 10) == 0xffff))) {
      ipv4(p + 12);
      return;
    }
    hexn(be16(p + <usize>(2 * i)));
  }
  if (bestBase != -1 && bestBase + bestLen == 8) ch(58);
}

// ---- dates: civil_from_days (H. Hinnant) of a local second count ----
export let civY: i64 = 0, civM: i64 = 0, civD: i64 = 0, civSecs: i64 = 0;
/** Split local seconds lt into year, month (1..12), day (1..31) and seconds of the day, left in civY/M/D/Secs. */
export function civil(lt: i64): void {
  let days = lt / 86400;
  let secs = lt - days * 86400;
  if (secs < 0) { secs += 86400; days--; }
  const z = days + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  civD = doy - (153 * mp + 2) / 5 + 1;
  civM = mp < 10 ? mp + 3 : mp - 9;
  civY = yoe + era * 400 + (civM <= 2 ? 1 : 0);
  civSecs = secs;
}

// ---- host tables (filled by src/wasm/format-host.ts) ----
/** Offset east of UTC at second t from a zone table of `count` (start second, offset) i64 pairs sorted by start;
 *  no pairs = UTC, before the first start = the first offset. */
export function zoneOffset(buf: usize, count: i32, t: i64): i64 {
  if (count == 0) return 0;
  if (t < load<i64>(buf)) return load<i64>(buf + 8);
  let lo = 0, hi = count - 1;
  while (lo < hi) { // largest i with start[i] <= t
    const mid = (lo + hi + 1) >> 1;
    if (load<i64>(buf + <usize>mid * 16) <= t) lo = mid; else hi = mid - 1;
  }
  return load<i64>(buf + <usize>lo * 16 + 8);
}
/** getprotobynumber(p)->p_name from a 256 × 32-byte table (byte 0 = length), else the number. */
export function protoName(buf: usize, p: i32): void {
  const e = buf + <usize>(p & 255) * 32;
  const n = <i32>load<u8>(e);
  if (n == 0) { dec32(<u32>p); return; }
  for (let i = 1; i <= n; i++) ch(load<u8>(e + <usize>i));
}
