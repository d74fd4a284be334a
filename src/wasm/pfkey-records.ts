// src/wasm/pfkey-records.ts — what of a record PF_KEY v2 can carry (layer: asm bindings). Owns
// pfkeyInexpressible: the XFRM-only features (marks, interface ids, AEAD, ESN, extra flags, sub policies,
// algorithms without a PF_KEY id) that the PF_KEY backend must refuse loudly instead of dropping. Reads the
// record in place; the algorithm ids come from the one table (asm/shared/algorithms.ts).
import * as L from '../../asm/shared/layout.js';
import { KALG_KIND, KALG_NAME, ALG_KIND_AUTH, ALG_KIND_ENC, ALG_KIND_COMP } from '../../asm/shared/algorithms.js';
import { wasm } from './index.js';

function algNameAt(base: number, slot: number): string | null {
  const w = wasm();
  const len = w.dv.getUint32(base + slot + L.ALG_NAME_LEN, true);
  if (len === 0) return null;
  const off = w.dv.getUint32(base + slot + L.ALG_NAME_OFF, true);
  const p = w.regionPtr(L.REGION_BLOB) + off;
  return Buffer.from(w.u8.subarray(p, p + len)).toString('latin1');
}

function hasPfkeyId(kind: number, name: string): boolean {
  return KALG_NAME.some((n, i) => KALG_KIND[i] === kind && n === name);
}

/** Why record `i` cannot be sent over PF_KEY (a noun phrase for an error message), or null if it can. */
export function pfkeyInexpressible(i: number): string | null {
  const w = wasm();
  const base = w.regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE;
  const dv = w.dv;
  const kind = dv.getUint8(base + L.R_KIND);
  const flags = dv.getUint32(base + L.R_FLAGS, true);
  // The setkey parser only makes what setkey can say, i.e. what PF_KEY carries: nothing to check (hot path).
  if (flags & L.RF_SETKEY) return null;
  if (flags & L.RF_HAS_MARK) return 'a mark';
  if (flags & L.RF_HAS_IFID) return 'an interface id (if_id)';
  if (flags & L.RF_HAS_EXTRA_FLAGS) return 'extra SA flags';
  if (dv.getUint8(base + L.R_PTYPE) !== 0) return 'a sub policy (ptype sub)';
  if (kind === L.OP_SA_ADD || kind === L.OP_SA_UPDATE) {
    if (algNameAt(base, L.R_ALG_AEAD)) return `the AEAD algorithm ${algNameAt(base, L.R_ALG_AEAD)!}`;
    if (flags & L.RF_REPLAY_ESN) return 'an ESN replay window';
    if (!(flags & L.RF_SETKEY) && dv.getUint32(base + L.R_REPLAY_WIN, true) > 255) return 'a replay window over 255';
    for (const [slot, k, what] of [[L.R_ALG_AUTH, ALG_KIND_AUTH, 'authentication'], [L.R_ALG_ENC, ALG_KIND_ENC, 'encryption'], [L.R_ALG_COMP, ALG_KIND_COMP, 'compression']] as const) {
      const n = algNameAt(base, slot);
      if (n && !hasPfkeyId(k, n)) return `the ${what} algorithm ${n} (no PF_KEY id)`;
    }
  }
  return null;
}
