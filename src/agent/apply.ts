// src/agent/apply.ts — one Apply batch against the kernel (layer: agent). Owns the mapping of a batch's outcome
// to per-operation results (index, line, errno, code, message, status): setkey text through runSetkey
// (src/engine/setkey.ts, the same statement semantics as `keyfleet setkey -f`), and record ranges — ip -batch
// text (the ip parser) and structured operations (src/agent/operations.ts) — through XfrmKernel.apply or,
// atomic, applyAtomic. Callers serialise batches: records live in the shared wasm region.
import { runSetkey } from '../engine/setkey.js';
import { applyAtomic, unsupportedForAtomic } from '../engine/atomic.js';
import { XfrmKernel, markRecords, restoreRecords, type ApplyOptions as KernelApplyOptions, type RecordFailure } from '../kernel/xfrm.js';
import { parseIpBatch, ipDiagText } from '../wasm/ip-parse.js';
import { encodeXfrm } from '../wasm/xfrm-codec.js';
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
  [L.OP_EXIT]: 'exit', [L.OP_SA_ALLOCSPI]: 'allocspi', [L.OP_SP_GET]: 'spdget', [L.OP_SP_DELETEALL]: 'spddeleteall',
};

/** Record kinds a record-range batch (ip text, structured) may carry: the plain kernel writes. */
const WRITES = new Set([L.OP_SA_ADD, L.OP_SA_UPDATE, L.OP_SA_DELETE, L.OP_SA_FLUSH, L.OP_SP_ADD, L.OP_SP_UPDATE, L.OP_SP_DELETE, L.OP_SP_FLUSH]);

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
  /** Added to every reported line and index (ApplyStream windows). */
  lineOffset?: number;
  indexOffset?: number;
}

function u8(i: number, off: number): number { return wasm().dv.getUint8(wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE + off); }
function u32(i: number, off: number): number { return wasm().dv.getUint32(wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE + off, true); }

/** An Apply's response, and whether the text reached an `exit` statement (setkey reads no further). */
export interface BatchOutcome {
  response: ApplyResponse;
  exited: boolean;
}

/** Runs one batch. Throws RpcError INVALID_ARGUMENT / RESOURCE_EXHAUSTED for requests it will not run. */
export async function applyBatch(kernel: XfrmKernel, text: Uint8Array, o: BatchOptions): Promise<BatchOutcome> {
  // Parsed once: checked here (operation count, read statements) before anything reaches the kernel, then run.
  const pre = parseSetkey(text, { file: o.sourceName, rfc: !o.kameMode, stdin: false });
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
    dryRun: o.dryRun, all: false, ports: false, pid: process.pid, out: sink(out), err: sink(err), kernel: () => rk, parsed: pre,
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
  let exited = false;
  for (let i = 0; i < n; i++) {
    const kind = u8(i, L.R_KIND);
    // The parser stops at `exit`, so it is the last record when present.
    if (kind === L.OP_EXIT) { exited = true; continue; }
    const e = failed.get(i);
    let st: OperationStatus;
    if (e) st = OperationStatus.OPERATION_STATUS_FAILED;
    else if (!wasSent[i] && kind !== L.OP_SA_DELETEALL) st = OperationStatus.OPERATION_STATUS_NOT_APPLIED;
    else if (rolledBack) { st = OperationStatus.OPERATION_STATUS_ROLLED_BACK; undone++; }
    else { st = OperationStatus.OPERATION_STATUS_OK; applied++; }
    if (st === OperationStatus.OPERATION_STATUS_OK && n > o.maxOkResults) continue;
    results.push({
      index: i + (o.indexOffset ?? 0), line: u32(i, L.R_LINE) + (o.lineOffset ?? 0), status: st, errno: e ? e.errno : 0, code: e ? e.code : '',
      message: e ? (e.extack ? `${strerror(e.errno)} (${e.extack})` : strerror(e.errno)) : '', operation: OP_NAMES[kind] ?? `op ${kind}`,
    });
  }
  const diagnostics: Diagnostic[] = res.parse.diagnostics.map((d) => ({ severity: d.severity, line: d.line + (o.lineOffset ?? 0), column: d.column, message: d.message }));
  const parseFailed = res.parse.fatal || res.parse.firstErrorStatement >= 0;
  const response = {
    ok: !parseFailed && failed.size === 0 && res.exitCode === 0,
    applied: o.dryRun ? 0 : applied, failed: failed.size, results, diagnostics,
    output: out.join('') + err.join(''), rolledBack: undone, operations: n,
  };
  return { response, exited };
}

export function resultOf(index: number, line: number, kind: number, st: OperationStatus, e?: KernelError): OperationResult {
  return {
    index, line, status: st, errno: e ? e.errno : 0, code: e ? e.code : '',
    message: e ? (e.extack ? `${strerror(e.errno)} (${e.extack})` : strerror(e.errno)) : '', operation: OP_NAMES[kind] ?? `op ${kind}`,
  };
}

/**
 * Applies records [first, end) (ip text or structured operations): atomic through applyAtomic, else one
 * batched send that stops at the first failing chunk unless continueOnError. R_STMT is the operation index.
 */
export async function applyRecords(kernel: XfrmKernel, first: number, end: number, o: Pick<BatchOptions, 'atomic' | 'dryRun' | 'continueOnError' | 'maxOkResults' | 'lineOffset'>, field: string): Promise<ApplyResponse> {
  const n = end - first;
  for (let i = first; i < end; i++) {
    const k = u8(i, L.R_KIND);
    if (!WRITES.has(k)) {
      const what = OP_NAMES[k] ?? `kind ${k}`;
      const line = u32(i, L.R_LINE);
      throw new RpcError(status.INVALID_ARGUMENT, `${field}: ${line ? `line ${line}: ` : `operation ${u32(i, L.R_STMT)}: `}'${what}' is not a change Apply makes (reads: List/Get; allocspi: AllocSpi; deleteall: Flush or Sync)`);
    }
  }
  const failed = new Map<number, KernelError>();
  let sentEnd = end;
  let undone = 0;
  let rolledBack = false;
  if (o.dryRun) {
    // Encode every record, as a real run would, so encoder refusals show up; send nothing.
    const mark = markRecords();
    try { for (let a = first; a < end;) { const e = encodeXfrm(a, end, { seqBase: 1, ack: false, maxBytes: 1 << 20 }); if (e.consumed === 0) break; a += e.consumed; } } finally { restoreRecords(mark); }
    sentEnd = first;
  } else if (o.atomic) {
    if (unsupportedForAtomic(first, end).length > 0) throw new RpcError(status.INVALID_ARGUMENT, `${field}: this batch cannot be made atomic`);
    const r = await applyAtomic(kernel, first, end);
    for (const f of r.failures) if (!failed.has(f.record)) failed.set(f.record, f.error);
    if (r.failure) { rolledBack = true; undone = r.undone; sentEnd = r.failure.record; }
  } else {
    const r = await kernel.apply(first, end, { stopOnError: !o.continueOnError });
    for (const f of r.failures) if (!failed.has(f.record)) failed.set(f.record, f.error);
    sentEnd = first + r.sent;
  }
  const results: OperationResult[] = [];
  let applied = 0;
  for (let i = first; i < end; i++) {
    const e = failed.get(i);
    let st: OperationStatus;
    if (e) st = OperationStatus.OPERATION_STATUS_FAILED;
    else if (i >= sentEnd && !rolledBack) st = OperationStatus.OPERATION_STATUS_NOT_APPLIED;
    else if (rolledBack) st = i < sentEnd ? OperationStatus.OPERATION_STATUS_ROLLED_BACK : OperationStatus.OPERATION_STATUS_NOT_APPLIED;
    else { st = OperationStatus.OPERATION_STATUS_OK; applied++; }
    if (st === OperationStatus.OPERATION_STATUS_OK && n > o.maxOkResults) continue;
    // R_STMT already holds the operation's index in the whole batch (writeOperations, parseIpText).
    results.push(resultOf(u32(i, L.R_STMT), u32(i, L.R_LINE) ? u32(i, L.R_LINE) + (o.lineOffset ?? 0) : 0, u8(i, L.R_KIND), st, e));
  }
  return { ok: failed.size === 0, applied, failed: failed.size, results, diagnostics: [], output: '', rolledBack: undone, operations: n };
}

/** Parses ip -batch text into records; diagnostics come back as ip prints them (parse errors apply nothing). */
export function parseIpText(text: Buffer, lineOffset = 0, indexOffset = 0): { first: number; end: number; diagnostics: Diagnostic[] } {
  const r = parseIpBatch(text, 0, false);
  const diagnostics: Diagnostic[] = r.diags.map((d) => ({ severity: 'error', line: d.line + lineOffset, column: 0, message: ipDiagText(d).stderr.trim() }));
  // Operation index: position in the batch.
  for (let i = r.first; i < r.end; i++) wasm().dv.setUint32(wasm().regionPtr(L.REGION_RECORDS) + i * L.REC_SIZE + L.R_STMT, indexOffset + i - r.first, true);
  return { first: r.first, end: r.end, diagnostics };
}
