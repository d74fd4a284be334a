// src/agent/apply.ts — one Apply batch of setkey text against the kernel (layer: agent). Owns the mapping
// of runSetkey's outcome (src/engine/setkey.ts: the same statement semantics as `keyfleet setkey -f`) to
// per-operation results: which records were sent, which the kernel refused (errno, code, message), which
// were rolled back or never sent. Callers serialise batches: records live in the shared wasm region.
import { runSetkey } from '../engine/setkey.js';
import { XfrmKernel, type ApplyOptions as KernelApplyOptions, type RecordFailure } from '../kernel/xfrm.js';
import { KernelError, strerror } from '../kernel/errors.js';
import { wasm } from '../wasm/index.js';
import { parseSetkey } from '../wasm/setkey-parse.js';
import * as L from '../../asm/shared/layout.js';
import { SKX_EINVAL, SKX_ENOSYS } from '../../asm/shared/setkey-diag.js';
import { OperationStatus, type ApplyResponse, type OperationResult, type Diagnostic } from '../gen/keyfleet/v1/agent.pb.js';
import { RpcError } from './auth.js';
import { status } from '@grpc/grpc-js';

export const OP_NAMES: Readonly<Record<number, string>> = {
  [L.OP_SA_ADD]: 'add', [L.OP_SA_UPDATE]: 'update', [L.OP_SA_DELETE]: 'delete', [L.OP_SA_GET]: 'get',
  [L.OP_SA_DELETEALL]: 'deleteall', [L.OP_SA_FLUSH]: 'flush', [L.OP_SA_DUMP]: 'dump', [L.OP_SP_ADD]: 'spdadd',
  [L.OP_SP_UPDATE]: 'spdupdate', [L.OP_SP_DELETE]: 'spddelete', [L.OP_SP_FLUSH]: 'spdflush', [L.OP_SP_DUMP]: 'spddump',
  [L.OP_EXIT]: 'exit',
};

/** Statements that read the kernel: their output would carry key bytes, so Apply refuses them (List does that job). */
const READS = new Set([L.OP_SA_GET, L.OP_SA_DUMP, L.OP_SP_DUMP, L.OP_SP_GET]);

/** Remembers which record ranges went to the kernel and what it refused. */
class RecordingKernel extends XfrmKernel {
  sent: [number, number][] = [];
  failures: RecordFailure[] = [];
  override async apply(first: number, end: number, opts: KernelApplyOptions = {}): Promise<{ failures: RecordFailure[]; sent: number }> {
    const r = await super.apply(first, end, opts);
    this.sent.push([first, first + r.sent]);
    this.failures.push(...r.failures);
    return r;
  }
}

export interface BatchOptions {
  atomic: boolean;
  dryRun: boolean;
  continueOnError: boolean;
  kameMode: boolean;
  sourceName: string;
  maxOperations: number;
  /** Results for successful operations are listed only up to this many operations (failures always). */
  maxOkResults: number;
}

function u8(i: number, off: number): number { return wasm().dv.getUint8(wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE + off); }
function u32(i: number, off: number): number { return wasm().dv.getUint32(wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE + off, true); }

/** Runs one batch. Throws RpcError INVALID_ARGUMENT / RESOURCE_EXHAUSTED for requests it will not run. */
export async function applyBatch(kernel: XfrmKernel, text: Uint8Array, o: BatchOptions): Promise<ApplyResponse> {
  // Pre-check: operation count and read statements, before anything reaches the kernel.
  const pre = parseSetkey(text, { file: o.sourceName, rfc: !o.kameMode });
  if (pre.records > o.maxOperations) {
    throw new RpcError(status.RESOURCE_EXHAUSTED, `setkey_text: ${pre.records} operations exceed this agent's limit of ${o.maxOperations} per batch; use ApplyStream or split the batch`);
  }
  for (let i = 0; i < pre.records; i++) {
    if (READS.has(u8(i, L.R_KIND))) {
      throw new RpcError(status.INVALID_ARGUMENT, `setkey_text: line ${u32(i, L.R_LINE)}: '${OP_NAMES[u8(i, L.R_KIND)]}' reads the kernel; Apply only changes it (use List)`);
    }
  }
  const rk = new RecordingKernel(kernel.channel);
  const out: string[] = [];
  const err: string[] = [];
  const sink = (a: string[]) => ({ write: (c: string | Uint8Array) => { a.push(typeof c === 'string' ? c : Buffer.from(c).toString()); } });
  const res = await runSetkey({
    file: o.sourceName, text, rfc: !o.kameMode, stdin: false, noAction: false, strict: !o.continueOnError, atomic: o.atomic,
    dryRun: o.dryRun, all: false, ports: false, pid: process.pid, out: sink(out), err: sink(err), kernel: () => rk,
  });
  const n = res.parse.records;
  const failed = new Map<number, KernelError>();
  for (const f of rk.failures) if (f.record < n && !failed.has(f.record)) failed.set(f.record, f.error);
  const wasSent = new Uint8Array(n);
  for (const [a, b] of rk.sent) for (let i = a; i < Math.min(b, n); i++) wasSent[i] = 1;
  // af_key's local refusals (never sent): the parser marked them; runSetkey reported them as EINVAL/ENOSYS.
  for (let i = 0; i < n; i++) {
    if (wasSent[i] || !(u32(i, L.R_FLAGS) & L.RF_SETKEY)) continue;
    const x = u32(i, L.R_AUX2);
    const op = OP_NAMES[u8(i, L.R_KIND)] ?? 'request';
    if (x & SKX_EINVAL) failed.set(i, new KernelError(22, op));
    else if (x & SKX_ENOSYS) failed.set(i, new KernelError(38, op));
  }
  const rolledBack = o.atomic && failed.size > 0;
  const results: OperationResult[] = [];
  let applied = 0;
  let undone = 0;
  for (let i = 0; i < n; i++) {
    const kind = u8(i, L.R_KIND);
    if (kind === L.OP_EXIT) continue;
    const e = failed.get(i);
    let st: OperationStatus;
    if (e) st = OperationStatus.OPERATION_STATUS_FAILED;
    else if (!wasSent[i] && kind !== L.OP_SA_DELETEALL) st = OperationStatus.OPERATION_STATUS_NOT_APPLIED;
    else if (rolledBack) { st = OperationStatus.OPERATION_STATUS_ROLLED_BACK; undone++; }
    else { st = OperationStatus.OPERATION_STATUS_OK; applied++; }
    if (st === OperationStatus.OPERATION_STATUS_OK && n > o.maxOkResults) continue;
    results.push({
      index: i, line: u32(i, L.R_LINE), status: st, errno: e ? e.errno : 0, code: e ? e.code : '',
      message: e ? (e.extack ? `${strerror(e.errno)} (${e.extack})` : strerror(e.errno)) : '', operation: OP_NAMES[kind] ?? `op ${kind}`,
    });
  }
  const diagnostics: Diagnostic[] = res.parse.diagnostics.map((d) => ({ severity: d.severity, line: d.line, column: d.column, message: d.message }));
  const parseFailed = res.parse.fatal || res.parse.firstErrorStatement >= 0;
  return {
    ok: !parseFailed && failed.size === 0 && res.exitCode === 0,
    applied: o.dryRun ? 0 : applied, failed: failed.size, results, diagnostics,
    output: out.join('') + err.join(''), rolledBack: undone,
  };
}
