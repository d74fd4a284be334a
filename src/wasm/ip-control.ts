// src/wasm/ip-control.ts — the fixed-size `ip xfrm` requests no record kind covers (layer: asm bindings).
// Owns the bytes of `state count` / `policy count` (GETSADINFO/GETSPDINFO), `policy set` (NEWSPDINFO with
// XFRMA_SPD_IPV4/IPV6_HTHRESH), `policy setdefault` / `getdefault` (SETDEFAULT/GETDEFAULT), built from the record
// the ip parser made (asm/shared/ip-diag.ts IPS_*), byte for byte as ip/xfrm_state.c and ip/xfrm_policy.c send them.
import { REGION_RECORDS, REC_SIZE, R_SPI_MIN, R_SPI_MAX, R_AUX2 } from '../../asm/shared/layout.js';
import * as X from '../../asm/shared/xfrm.js';
import * as D from '../../asm/shared/ip-diag.js';
import { wasm } from './index.js';

// linux/xfrm.h enum xfrm_spdattr_type_t
const XFRMA_SPD_IPV4_HTHRESH = 3;
const XFRMA_SPD_IPV6_HTHRESH = 4;

function header(len: number, type: number, flags: number, seq: number, payload: number): Buffer {
  const b = Buffer.alloc((payload + 16 + 3) & ~3);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  return b;
}

function field(index: number, off: number): number {
  const w = wasm();
  return w.dv.getUint32(w.regionPtr(REGION_RECORDS) + index * REC_SIZE + off, true);
}

/** GETSADINFO (`state count`) or GETSPDINFO (`policy count`): nlmsghdr + u32 0xffffffff, an answer expected. */
export function infoRequest(policy: boolean, seq: number): Buffer {
  const b = header(20, policy ? X.XFRM_MSG_GETSPDINFO : X.XFRM_MSG_GETSADINFO, X.NLM_F_REQUEST, seq, 4);
  b.writeUInt32LE(0xffffffff, 16);
  return b;
}

/** NEWSPDINFO (`policy set`): u32 0xffffffff + one struct xfrmu_spdhthresh attribute per hthresh, in the order given. */
export function spdSetRequest(index: number, seq: number): Buffer {
  const bits = field(index, R_AUX2);
  const attrs: [number, number][] = [];
  if (bits & D.IPS_HTHRESH4) attrs.push([XFRMA_SPD_IPV4_HTHRESH, field(index, R_SPI_MIN)]);
  if (bits & D.IPS_HTHRESH6) attrs.push([XFRMA_SPD_IPV6_HTHRESH, field(index, R_SPI_MAX)]);
  if (bits & D.IPS_HTHRESH6_FIRST) attrs.reverse();
  const len = 20 + attrs.length * 8;
  const b = header(len, X.XFRM_MSG_NEWSPDINFO, X.NLM_F_REQUEST | X.NLM_F_ACK, seq, 4 + attrs.length * 8);
  b.writeUInt32LE(0xffffffff, 16);
  attrs.forEach(([type, v], i) => {
    const o = 20 + i * 8;
    b.writeUInt16LE(6, o); // nla_len: header + { u8 lbits; u8 rbits; }
    b.writeUInt16LE(type, o + 2);
    b.writeUInt8(v & 0xff, o + 4);
    b.writeUInt8((v >>> 8) & 0xff, o + 5);
  });
  return b;
}

/** SETDEFAULT (`policy setdefault`, acked) or GETDEFAULT (`getdefault`): struct xfrm_userpolicy_default { in, fwd, out }. */
export function defaultRequest(index: number | null, seq: number): Buffer {
  const set = index !== null;
  const b = header(19, set ? X.XFRM_MSG_SETDEFAULT : X.XFRM_MSG_GETDEFAULT, X.NLM_F_REQUEST | (set ? X.NLM_F_ACK : 0), seq, 3);
  if (set) {
    const v = field(index, R_SPI_MIN);
    b.writeUInt8(v & 0xff, 16);
    b.writeUInt8((v >>> 8) & 0xff, 17);
    b.writeUInt8((v >>> 16) & 0xff, 18);
  }
  return b;
}

/** Attributes after a reply's fixed part: type → payload. */
function replyAttrs(msg: Buffer, fixed: number): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  const end = Math.min(msg.length, msg.readUInt32LE(0));
  for (let a = 16 + fixed; a + 4 <= end;) {
    const len = msg.readUInt16LE(a), type = msg.readUInt16LE(a + 2) & 0x3fff;
    if (len < 4 || a + len > end) break;
    if (!m.has(type)) m.set(type, msg.subarray(a + 4, a + len));
    a += (len + 3) & ~3;
  }
  return m;
}

const u32s = (b: Buffer | undefined, n: number): number[] | null =>
  b && b.length >= 4 * n ? Array.from({ length: n }, (_, i) => b.readUInt32LE(4 * i)) : null;

/**
 * `-j state count` / `-j policy count`: the NEWSADINFO / NEWSPDINFO reply as JSON (linux/xfrm.h xfrmu_sadhinfo,
 * xfrmu_spdinfo, xfrmu_spdhinfo, xfrmu_spdhthresh). Absent parts are left out.
 */
export function infoReplyJson(msg: Buffer, policy: boolean): Record<string, unknown> {
  const t = replyAttrs(msg, 4);
  if (!policy) {
    const cnt = u32s(t.get(1), 1), h = u32s(t.get(2), 2);
    return { sad: { ...(cnt ? { count: cnt[0] } : {}), ...(h ? { buckets: { count: h[0], max: h[1] } } : {}) } };
  }
  const info = u32s(t.get(1), 6), h = u32s(t.get(2), 2);
  const thresh = (b: Buffer | undefined) => (b && b.length >= 2 ? { local: b[0], remote: b[1] } : undefined);
  const v4 = thresh(t.get(3)), v6 = thresh(t.get(4));
  return {
    spd: {
      ...(info ? { in: info[0], out: info[1], fwd: info[2], socket: { in: info[3], out: info[4], fwd: info[5] } } : {}),
      ...(h ? { buckets: { count: h[0], max: h[1] } } : {}),
      ...(v4 ? { ipv4Thresholds: v4 } : {}), ...(v6 ? { ipv6Thresholds: v6 } : {}),
    },
  };
}

const DEFAULT_ACTIONS = ['unspec', 'block', 'accept'];

/** `-j policy getdefault`: the GETDEFAULT reply (struct xfrm_userpolicy_default) as {in, fwd, out}. */
export function defaultReplyJson(msg: Buffer): Record<string, string> {
  const v = (i: number): string => (msg.length > 16 + i ? DEFAULT_ACTIONS[msg[16 + i]!] ?? 'unknown' : 'unknown');
  return { in: v(0), fwd: v(1), out: v(2) };
}
