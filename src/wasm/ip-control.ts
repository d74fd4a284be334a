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
