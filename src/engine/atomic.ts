// src/engine/atomic.ts — all-or-nothing application of a record range (layer: engine). Owns the
// pre-image snapshot (SAD and SPD dumped before anything is sent), the replay of the batch's effects
// over that snapshot to learn what each successful operation replaced, and the rollback: the inverse
// operations, newest first (an add is undone by a delete, a delete or flush by re-adding what was there,
// an update by updating back). Targeted inverses, never flush-and-reload, so no traffic selector is
// left unprotected while a rollback runs.
import { wasm } from '../wasm/index.js';
import { XfrmKernel, markRecords, restoreRecords, type RecordFailure } from '../kernel/xfrm.js';
import type { KernelError } from '../kernel/errors.js';
import {
  REGION_RECORDS, REC_SIZE, R_KIND, R_PROTO, R_INDEX, R_DADDR, R_SPI, R_SEL, SEL_SIZE, R_DIR, R_PTYPE, R_MARK_V, R_MARK_M, R_FLAGS,
  RF_HAS_MARK, R_FAMILY, OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_FLUSH, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE,
  OP_SP_FLUSH, OP_SA_DUMP, OP_SP_DUMP, OP_SA_GET, OP_SP_GET, OP_EXIT, OP_NONE,
} from '../../asm/shared/layout.js';

export interface AtomicResult {
  /** The first failure (what made the batch roll back), if any. */
  failure: RecordFailure | null;
  /** All failures of the batch, by record. */
  failures: RecordFailure[];
  /** How many operations had taken effect and were undone. */
  undone: number;
  /** Inverse operations the kernel refused: the state may differ from before; each is reported. */
  rollbackFailures: { record: number; error: KernelError }[];
}

const READ_ONLY = new Set([OP_SA_DUMP, OP_SP_DUMP, OP_SA_GET, OP_SP_GET, OP_EXIT, OP_NONE]);
const SUPPORTED = new Set([OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_FLUSH, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE, OP_SP_FLUSH, ...READ_ONLY]);

/** Record kinds that --atomic cannot make all-or-nothing (e.g. deleteall, allocspi). */
export function unsupportedForAtomic(first: number, end: number): number[] {
  const out: number[] = [];
  for (let i = first; i < end; i++) if (!SUPPORTED.has(kindOf(i))) out.push(i);
  return out;
}

function base(i: number): number { return wasm().regionPtr(REGION_RECORDS) + i * REC_SIZE; }
function kindOf(i: number): number { return wasm().dv.getUint8(base(i) + R_KIND); }
function hex(i: number, off: number, len: number): string {
  const b = base(i) + off;
  return Buffer.from(wasm().u8.subarray(b, b + len)).toString('hex');
}

/** The identity the kernel uses: (daddr, spi, proto) for SAs; (selector, dir, type, mark) for policies. */
function keyOf(i: number): string {
  const k = kindOf(i);
  const dv = wasm().dv, b = base(i);
  if (k < 16) return `sa:${dv.getUint8(b + R_PROTO)}:${dv.getUint8(b + R_FAMILY)}:${hex(i, R_DADDR, 16)}:${dv.getUint32(b + R_SPI, true)}`;
  const mark = dv.getUint32(b + R_FLAGS, true) & RF_HAS_MARK ? `${dv.getUint32(b + R_MARK_V, true) & dv.getUint32(b + R_MARK_M, true)}` : '0';
  return `sp:${dv.getUint8(b + R_DIR)}:${dv.getUint8(b + R_PTYPE)}:${mark}:${hex(i, R_SEL, SEL_SIZE)}`;
}

/** Appends a copy of record `src` with kind `kind`; returns its index. */
function cloneAs(src: number, kind: number, index = 0): number {
  const w = wasm();
  const off = w.fns<{ appendRegion(r: number, n: number): number }>().appendRegion(REGION_RECORDS, REC_SIZE) >>> 0;
  const dst = off / REC_SIZE;
  const u8 = w.u8;
  const p = w.regionPtr(REGION_RECORDS);
  u8.copyWithin(p + off, p + src * REC_SIZE, p + src * REC_SIZE + REC_SIZE);
  u8[p + off + R_KIND] = kind;
  if (index !== 0) w.dv.setUint32(p + off + R_INDEX, index, true);
  return dst;
}

/** What a key held before an operation: the record with its value (null = absent) and, for policies, the
 * index the kernel had given it (an update keeps the index, so a re-add must ask for it back). */
type Prior = { key: string; from: number | null; index: number };
interface Held { rec: number; index: number }

/**
 * Applies records [first, end) so that either all take effect or the kernel is put back as it was.
 * The records must stay where they are for the duration (temporary records go after them).
 */
export async function applyAtomic(kernel: XfrmKernel, first: number, end: number, opts: { onProgress?: (done: number, total: number) => void } = {}): Promise<AtomicResult> {
  const mark = markRecords();
  const notSent = new Set<number>();
  try {
    // 1. Pre-images: the whole SAD and SPD as they are now.
    const sas = await kernel.dump('sa');
    const sps = await kernel.dump('policy');
    // 2. Send everything; the kernel tells us which operations failed.
    const writes: [number, number][] = [];
    let s = first;
    for (let i = first; i < end; i++) if (READ_ONLY.has(kindOf(i))) { if (i > s) writes.push([s, i]); s = i + 1; }
    if (s < end) writes.push([s, end]);
    const failures: RecordFailure[] = [];
    for (const [a, b] of writes) {
      const r = await kernel.apply(a, b, { stopOnError: true, ...(opts.onProgress ? { onProgress: (p) => opts.onProgress!(a - first + p.done, end - first) } : {}) });
      failures.push(...r.failures);
      if (r.failures.length > 0) {
        // Chunks after the failing one were not sent: mark them as not applied.
        const sentEnd = a + r.sent;
        for (const [c, d] of writes) if (c >= sentEnd) for (let k = c; k < d; k++) notSent.add(k);
        for (let k = sentEnd; k < b; k++) notSent.add(k);
        break;
      }
    }
    if (failures.length === 0) return { failure: null, failures, undone: 0, rollbackFailures: [] };
    const failed = new Set(failures.map((f) => f.record));
    // 3. Replay the effects over the snapshot to learn what every successful operation replaced.
    const state = new Map<string, Held>();
    for (let i = sas.first; i < sas.end; i++) state.set(keyOf(i), { rec: i, index: 0 });
    for (let i = sps.first; i < sps.end; i++) state.set(keyOf(i), { rec: i, index: wasm().dv.getUint32(base(i) + R_INDEX, true) });
    const undo: { op: number; prior: Prior[] }[] = [];
    for (let i = first; i < end; i++) {
      const k = kindOf(i);
      if (READ_ONLY.has(k) || failed.has(i) || notSent.has(i)) continue;
      if (k === OP_SA_FLUSH || k === OP_SP_FLUSH) {
        const proto = wasm().dv.getUint8(base(i) + R_PROTO);
        const prior: Prior[] = [];
        for (const [key, from] of state) {
          const parts = key.split(':');
          if (k === OP_SP_FLUSH) {
            // XFRM_MSG_FLUSHPOLICY without XFRMA_POLICY_TYPE flushes main-type policies.
            if (parts[0] !== 'sp' || parts[2] !== '0') continue;
          } else {
            // FLUSHSA with IPSEC_PROTO_ANY flushes ESP, AH and IPComp (xfrm_id_proto_match), nothing else.
            if (parts[0] !== 'sa') continue;
            const p = Number(parts[1]);
            if (proto === 255 || proto === 0 ? ![50, 51, 108].includes(p) : p !== proto) continue;
          }
          prior.push({ key, from: from.rec, index: from.index });
        }
        for (const p of prior) state.delete(p.key);
        undo.push({ op: i, prior });
        continue;
      }
      const key = keyOf(i);
      const before = state.get(key);
      undo.push({ op: i, prior: [{ key, from: before ? before.rec : null, index: before ? before.index : 0 }] });
      if (k === OP_SA_DELETE || k === OP_SP_DELETE) state.delete(key);
      else state.set(key, { rec: i, index: k === OP_SP_UPDATE && before ? before.index : 0 });
    }
    // 4. Inverse operations, newest first, each sent alone so that one refusal does not hide others.
    const rollbackFailures: { record: number; error: KernelError }[] = [];
    let undone = 0;
    for (let u = undo.length - 1; u >= 0; u--) {
      const { op, prior } = undo[u]!;
      const k = kindOf(op);
      const existsNow = !(k === OP_SA_DELETE || k === OP_SP_DELETE || k === OP_SA_FLUSH || k === OP_SP_FLUSH);
      const inverse: number[] = [];
      for (const p of prior) {
        const isSa = p.key.startsWith('sa:');
        if (p.from === null) inverse.push(cloneAs(op, isSa ? OP_SA_DELETE : OP_SP_DELETE));
        else if (existsNow) inverse.push(cloneAs(p.from, isSa ? OP_SA_UPDATE : OP_SP_UPDATE));
        else inverse.push(cloneAs(p.from, isSa ? OP_SA_ADD : OP_SP_ADD, isSa ? 0 : p.index));
      }
      for (const r of inverse) {
        const res = await kernel.apply(r, r + 1);
        if (res.failures[0]) rollbackFailures.push({ record: op, error: res.failures[0].error });
      }
      undone++;
    }
    return { failure: failures[0] ?? null, failures, undone, rollbackFailures };
  } finally {
    restoreRecords(mark);
  }
}
