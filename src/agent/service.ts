// src/agent/service.ts — the keyfleet.v1.AgentService handlers (layer: agent). Owns request validation
// (INVALID_ARGUMENT naming the field), role checks, redaction, limits (operations per batch, bytes per atomic
// streamed batch, window size of streamed batches, concurrent streams per identity), the audit entry of every
// mutation, and the one-at-a-time queue for kernel work (the wasm record region is shared). Kernel semantics
// live in src/engine (setkey statements, atomic application, plan/sync).
import { Metadata, status, type handleServerStreamingCall, type UntypedServiceImplementation, type ServerUnaryCall, type sendUnaryData, type ServerReadableStream, type ServerWritableStream } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import {
  EntryKind, EventType, ChangeAction, OperationStatus, IpsecProtocol, type AgentServiceServer, type ApplyRequest, type ApplyResponse,
  type ApplyStreamRequest, type ApplyStreamResponse, type ListRequest, type ListResponse, type FlushRequest, type FlushResponse,
  type WatchRequest, type StatsRequest, type StatsResponse, type ApplyOptions, type Operation, type PlanRequest,
  type PlanResponse, type SyncRequest, type SyncResponse, type DesiredState, type GetRequest, type GetResponse,
  type AllocSpiRequest, type AllocSpiResponse, type KernelCounter, type SaCounters, type Diagnostic, type Change,
} from '../gen/keyfleet/v1/agent.pb.js';
import { XfrmKernel, markRecords, restoreRecords } from '../kernel/xfrm.js';
import { KernelError } from '../kernel/errors.js';
import { readRecord, writeRecord, type XfrmRecord } from '../wasm/records.js';
import { decodeXfrm } from '../wasm/xfrm-codec.js';
import { parseSetkey } from '../wasm/setkey-parse.js';
import { planAgainstKernel, applyPlan, DesiredStateError, type SyncPlan, type SyncScope } from '../engine/sync.js';
import * as L from '../../asm/shared/layout.js';
import { callerOf, requireRole, RpcError, type AuthPolicy, type Caller, type ServerSurfaceCall } from './auth.js';
import { applyBatch, applyRecords, parseIpText, resultOf, type BatchOutcome } from './apply.js';
import { entryOf, isPolicyRecord } from './entries.js';
import { writeOperations, allocSpiRecord, saIdRecord, policyIdRecord, protoNumber, dirFilter, scopeOf } from './operations.js';
import { WindowSplitter, type TextSyntax } from './window.js';
import type { EventHub, Subscription, EventEntry } from './events.js';
import { encodedEvent, frameWatchResponse } from './watch-wire.js';
import type { AuditLog } from './audit.js';
import type { AgentMetrics } from './metrics.js';

export interface AgentLimits {
  /** Operations (records) per Apply batch. */
  maxOperations: number;
  /** Bytes of setkey text per ApplyStream batch. */
  maxStreamBytes: number;
  /** Open List/Watch/ApplyStream calls per identity. */
  maxStreamsPerIdentity: number;
  /** ApplyStream (not atomic): text bytes applied per window; structured operations per window. */
  windowBytes: number;
  windowOperations: number;
}

export const DEFAULT_LIMITS: AgentLimits = {
  maxOperations: 1_000_000, maxStreamBytes: 512 << 20, maxStreamsPerIdentity: 16, windowBytes: 1 << 20, windowOperations: 4096,
};

/** Results listed per response: every failure, successes while the batch is at most this large. */
const MAX_RESULTS = 10000;

export interface ServiceContext {
  netns: string;
  auth: AuthPolicy;
  kernel: () => XfrmKernel;
  hub: EventHub;
  audit: AuditLog;
  limits: AgentLimits;
  metrics: AgentMetrics | null;
}

/**
 * One kernel job at a time in this process: batches, dumps and flushes all use the shared wasm record
 * region, which is one per process (so one queue for every agent a process runs).
 */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.#tail.then(job, job);
    this.#tail = p.catch(() => undefined);
    return p;
  }
}

/** Maps anything thrown to a gRPC status; kernel errors keep their errno name in the message. */
function toStatus(e: unknown): { code: status; details: string } {
  if (e instanceof RpcError) return { code: e.code, details: e.message };
  if (e instanceof KernelError) {
    const code = e.code === 'EPERM' || e.code === 'EACCES' ? status.PERMISSION_DENIED : e.code === 'ENOENT' ? status.NOT_FOUND
      : e.code === 'EEXIST' ? status.ALREADY_EXISTS : e.code === 'EINVAL' ? status.INVALID_ARGUMENT : status.UNAVAILABLE;
    return { code, details: `${e.code}: ${e.message}` };
  }
  return { code: status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}` };
}

function isEnum(v: unknown, values: object): boolean {
  return Object.values(values).includes(v as number);
}

const serial = new Serial();

export interface Counters { applies: bigint; operationsApplied: bigint; operationsFailed: bigint; plans: bigint; syncs: bigint; peakWindowBytes: number }

type Form = { kind: 'setkey'; text: Buffer } | { kind: 'ip'; text: Buffer } | { kind: 'ops'; ops: Operation[] };

/** The one form a request carries (INVALID_ARGUMENT when none or several). */
function formOf(setkey: string | Uint8Array, ip: string | Uint8Array, ops: Operation[], names: [string, string, string]): Form | null {
  const set = [setkey.length > 0, ip.length > 0, ops.length > 0];
  const n = set.filter(Boolean).length;
  if (n > 1) throw new RpcError(status.INVALID_ARGUMENT, `${names.filter((_, i) => set[i]).join(', ')}: give exactly one of ${names.join(', ')}`);
  if (n === 0) return null;
  if (set[0]) return { kind: 'setkey', text: Buffer.from(setkey) };
  if (set[1]) return { kind: 'ip', text: Buffer.from(ip) };
  return { kind: 'ops', ops };
}

function emptyResponse(): ApplyResponse {
  return { ok: true, applied: 0, failed: 0, results: [], diagnostics: [], output: '', rolledBack: 0, operations: 0 };
}

/** Adds a window's outcome to a streamed batch's (failures always kept; successes while the list is short). */
function merge(acc: ApplyResponse, r: ApplyResponse): void {
  acc.ok &&= r.ok;
  acc.applied += r.applied;
  acc.failed += r.failed;
  acc.rolledBack += r.rolledBack;
  acc.operations += r.operations;
  for (const x of r.results) if (x.status !== OperationStatus.OPERATION_STATUS_OK || acc.results.length < MAX_RESULTS) acc.results.push(x);
  acc.diagnostics.push(...r.diagnostics);
  if (acc.output.length < 1 << 20) acc.output += r.output;
}

/** /proc/net/xfrm_stat of a network namespace (the agent's own when netns is empty). */
async function xfrmStat(netns: string): Promise<KernelCounter[]> {
  const text = netns
    ? await new Promise<string>((resolve, reject) => execFile('nsenter', [`--net=/run/netns/${netns}`, 'cat', '/proc/net/xfrm_stat'], { timeout: 5000 }, (e, out) => (e ? reject(e) : resolve(out))))
    : await readFile('/proc/net/xfrm_stat', 'utf8');
  const out: KernelCounter[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) out.push({ name: m[1]!, value: BigInt(m[2]!) });
  }
  return out;
}

const PROTO_NAMES: Record<number, string> = { 50: 'esp', 51: 'ah', 108: 'comp' };

/** AgentServiceServer as served with watch-wire's definition: Watch writes pre-encoded WatchResponse bytes. */
export type ServedAgentService = {
  [K in keyof AgentServiceServer as string extends K ? never : K]: K extends 'watch' ? handleServerStreamingCall<WatchRequest, Buffer> : AgentServiceServer[K];
} & UntypedServiceImplementation;

export function makeService(ctx: ServiceContext): ServedAgentService & { counters: Counters } {
  const streams = new Map<string, number>();
  const counters: Counters = { applies: 0n, operationsApplied: 0n, operationsFailed: 0n, plans: 0n, syncs: 0n, peakWindowBytes: 0 };

  const enterStream = (caller: Caller): (() => void) => {
    const n = streams.get(caller.identity) ?? 0;
    if (n >= ctx.limits.maxStreamsPerIdentity) {
      throw new RpcError(status.RESOURCE_EXHAUSTED, `identity '${caller.identity}' already has ${n} open streams (limit ${ctx.limits.maxStreamsPerIdentity})`);
    }
    streams.set(caller.identity, n + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const m = (streams.get(caller.identity) ?? 1) - 1;
      if (m <= 0) streams.delete(caller.identity); else streams.set(caller.identity, m);
    };
  };

  const unary = <Req, Res>(method: string, fn: (call: ServerUnaryCall<Req, Res>, caller: Caller) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
      const t0 = process.hrtime.bigint();
      let caller: Caller;
      try {
        caller = callerOf(call, ctx.auth);
      } catch (e) {
        cb({ ...toStatus(e) });
        return;
      }
      fn(call, caller).then(
        (res) => { ctx.metrics?.observe(method, 'OK', t0); cb(null, res); },
        (e) => { const s = toStatus(e); ctx.metrics?.observe(method, status[s.code] ?? String(s.code), t0); cb({ code: s.code, details: s.details }); },
      );
    };

  const validateOptions = (o: ApplyOptions | undefined, field: string): Required<ApplyOptions> => {
    const x = o ?? { atomic: false, dryRun: false, continueOnError: false, kameMode: false };
    if (x.atomic && x.continueOnError) throw new RpcError(status.INVALID_ARGUMENT, `${field}: atomic and continue_on_error exclude each other`);
    return x as Required<ApplyOptions>;
  };

  /** Wraps a mutation: counters, metrics and one audit entry (no key material: counts, lines, codes). */
  const audited = async <T>(caller: Caller, call: ServerSurfaceCall, method: string, what: Record<string, unknown>, job: () => Promise<T>, summary: (r: T) => Record<string, unknown>): Promise<T> => {
    let res: T | undefined;
    let failure: unknown;
    try {
      res = await job();
      return res;
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      ctx.audit.write({ who: caller.identity, peer: call.getPeer(), method, what, result: res !== undefined ? summary(res) : { ok: false, error: toStatus(failure).details } });
    }
  };

  const applySummary = (r: ApplyResponse): Record<string, unknown> => {
    counters.applies++;
    counters.operationsApplied += BigInt(r.applied);
    counters.operationsFailed += BigInt(r.failed);
    ctx.metrics?.countOperations(r.applied, r.failed);
    return { ok: r.ok, applied: r.applied, failed: r.failed, rolledBack: r.rolledBack, errors: r.results.filter((x) => x.errno).slice(0, 20).map((x) => ({ index: x.index, line: x.line, code: x.code })) };
  };

  const sourceOf = (s: string, dflt: string): string => s.replace(/[^\w.\-/:@]/g, '_').slice(0, 200) || dflt;

  /** ip -batch text or structured operations: records in the shared region, then applyRecords. */
  const applyRange = async (kernel: XfrmKernel, form: Exclude<Form, { kind: 'setkey' }>, opts: Required<ApplyOptions>, offsets: { line: number; index: number }): Promise<ApplyResponse> => {
    const n = form.kind === 'ops' ? form.ops.length : 0;
    if (n > ctx.limits.maxOperations) throw new RpcError(status.RESOURCE_EXHAUSTED, `operations: ${n} exceed this agent's limit of ${ctx.limits.maxOperations} per batch; use ApplyStream`);
    const mark = markRecords();
    try {
      let range: { first: number; end: number };
      if (form.kind === 'ops') range = writeOperations(form.ops, offsets.index);
      else {
        const p = parseIpText(form.text, offsets.line, offsets.index);
        if (p.diagnostics.length > 0) return { ...emptyResponse(), ok: false, diagnostics: p.diagnostics, operations: p.end - p.first };
        range = p;
      }
      if (range.end - range.first > ctx.limits.maxOperations) throw new RpcError(status.RESOURCE_EXHAUSTED, `ip_batch_text: ${range.end - range.first} operations exceed this agent's limit of ${ctx.limits.maxOperations} per batch; use ApplyStream`);
      return await applyRecords(kernel, range.first, range.end, { ...opts, maxOkResults: MAX_RESULTS, lineOffset: offsets.line }, form.kind === 'ops' ? 'operations' : 'ip_batch_text');
    } finally {
      restoreRecords(mark);
    }
  };
  /** One batch (or window) of any form, in the serial section; `exited`: setkey text that reached an `exit` statement. */
  const runBatch = (form: Form, opts: Required<ApplyOptions>, name: string, offsets: { line: number; index: number }): Promise<BatchOutcome> => serial.run(async () => {
    const kernel = ctx.kernel();
    if (form.kind === 'setkey') {
      return applyBatch(kernel, form.text, {
        atomic: opts.atomic, dryRun: opts.dryRun, continueOnError: opts.continueOnError, kameMode: opts.kameMode, sourceName: name,
        maxOperations: ctx.limits.maxOperations, maxOkResults: MAX_RESULTS, lineOffset: offsets.line, indexOffset: offsets.index,
      });
    }
    return { response: await applyRange(kernel, form, opts, offsets), exited: false };
  });
  const runForm = async (form: Form, opts: Required<ApplyOptions>, name: string, offsets: { line: number; index: number }): Promise<ApplyResponse> =>
    (await runBatch(form, opts, name, offsets)).response;

  /** Desired state → records in the serial section, planned against a dump; `then` runs with the records in place. */
  const withPlan = <T>(d: DesiredState | undefined, then: (plan: SyncPlan, kernel: XfrmKernel, diags: Diagnostic[]) => Promise<T>, onParseErrors: (diags: Diagnostic[]) => T): Promise<T> => {
    if (!d) throw new RpcError(status.INVALID_ARGUMENT, 'desired: required');
    const form = formOf(d.setkeyText, d.ipBatchText, d.operations, ['desired.setkey_text', 'desired.ip_batch_text', 'desired.operations']);
    const scope: SyncScope = scopeOf(d.scope, 'desired.scope');
    // An empty desired state would plan deleting everything in scope: too easy to send by mistake.
    if (!form) throw new RpcError(status.INVALID_ARGUMENT, 'desired: empty; give setkey_text, ip_batch_text or operations (to remove everything, use Flush)');
    return serial.run(async () => {
      const kernel = ctx.kernel();
      const mark = markRecords();
      try {
        let first: number, end: number;
        if (form.kind === 'ops') ({ first, end } = writeOperations(form.ops, 0, 'desired.operations'));
        else if (form.kind === 'ip') {
          const p = parseIpText(form.text);
          if (p.diagnostics.length) return onParseErrors(p.diagnostics);
          ({ first, end } = p);
        } else {
          const p = parseSetkey(form.text, { file: sourceOf(d.sourceName, 'desired'), rfc: !d.kameMode });
          const errors = p.diagnostics.filter((x) => x.severity === 'error');
          if (p.fatal || p.firstErrorStatement >= 0 || errors.length) {
            return onParseErrors(p.diagnostics.map((x) => ({ severity: x.severity, line: x.line, column: x.column, message: x.message })));
          }
          first = mark.records;
          end = first + p.records;
        }
        let plan: SyncPlan;
        try {
          plan = await planAgainstKernel(kernel, first, end, scope);
        } catch (e) {
          if (e instanceof DesiredStateError) throw new RpcError(status.INVALID_ARGUMENT, `desired: ${e.line ? `line ${e.line}` : `operation ${e.record - first}`}: ${e.message}`);
          throw e;
        }
        return await then(plan, kernel, []);
      } finally {
        restoreRecords(mark);
      }
    });
  };

  const planResponse = (plan: SyncPlan, showKeys: boolean): PlanResponse => ({
    changes: plan.changes.map((c): Change => ({
      action: c.action === 'add' ? ChangeAction.CHANGE_ACTION_ADD : c.action === 'update' ? ChangeAction.CHANGE_ACTION_UPDATE : ChangeAction.CHANGE_ACTION_DELETE,
      entry: entryOf(readRecord(c.desired >= 0 ? c.desired : c.current), showKeys), differs: c.differs.join(','), line: c.line,
    })),
    adds: plan.adds, updates: plan.updates, deletes: plan.deletes, unchanged: plan.unchanged, diagnostics: [],
  });

  const emptyPlan = (diagnostics: Diagnostic[]): PlanResponse => ({ changes: [], adds: 0, updates: 0, deletes: 0, unchanged: 0, diagnostics });

  const service: ServedAgentService = {
    apply: unary<ApplyRequest, ApplyResponse>('Apply', async (call, caller) => {
      requireRole(caller, 'write', 'Apply');
      const req = call.request;
      const opts = validateOptions(req.options, 'options');
      const form = formOf(req.setkeyText, req.ipBatchText, req.operations, ['setkey_text', 'ip_batch_text', 'operations']);
      if (!form) throw new RpcError(status.INVALID_ARGUMENT, 'setkey_text: empty; expected setkey(8) statements (or ip_batch_text, or operations)');
      const name = sourceOf(req.sourceName, 'request');
      return audited(caller, call, 'Apply', { source: name, form: form.kind, size: form.kind === 'ops' ? form.ops.length : form.text.length, atomic: opts.atomic, dryRun: opts.dryRun, continueOnError: opts.continueOnError },
        () => runForm(form, opts, name, { line: 0, index: 0 }), applySummary);
    }),

    applyStream: (call: ServerReadableStream<ApplyStreamRequest, ApplyStreamResponse>, cb: sendUnaryData<ApplyStreamResponse>): void => {
      let caller: Caller;
      let leave = (): void => undefined;
      try {
        caller = callerOf(call, ctx.auth);
        requireRole(caller, 'write', 'ApplyStream');
        leave = enterStream(caller);
      } catch (e) {
        cb(toStatus(e));
        return;
      }
      let opts: Required<ApplyOptions> | null = null;
      let source = 'stream';
      let kind: Form['kind'] | null = null;
      let splitter: WindowSplitter | null = null;
      const held: Buffer[] = []; // atomic text: the whole batch (bounded by maxStreamBytes)
      let heldOps: Operation[] = [];
      let bytes = 0;
      let windows = 0;
      let stopped = false;
      let peakOps = 0;
      const acc = emptyResponse();
      // Filled in as the stream tells (the audit entry is written when it ends).
      const what: Record<string, unknown> = { source, streamed: true, form: '' };
      const applyWindow = async (form: Form, lineOffset: number): Promise<void> => {
        if (stopped) return;
        windows++;
        const { response: r, exited } = await runBatch(form, opts!, source, { line: lineOffset, index: acc.operations });
        merge(acc, r);
        // A failure stops the stream's batch (unless continue_on_error); a parse error always does; so does
        // `exit`, where setkey stops reading its input: later windows are read from the client but not applied.
        if (exited || r.diagnostics.some((d) => d.severity === 'error') || (!r.ok && !opts!.continueOnError)) stopped = true;
      };
      const job = async (): Promise<ApplyStreamResponse> => {
        for await (const m of call as AsyncIterable<ApplyStreamRequest>) {
          if (!opts) { opts = validateOptions(m.options, 'options'); source = sourceOf(m.sourceName, source); what.source = source; what.atomic = opts.atomic; what.dryRun = opts.dryRun; what.continueOnError = opts.continueOnError; }
          const f = formOf(m.setkeyChunk, m.ipBatchChunk, m.operations, ['setkey_chunk', 'ip_batch_chunk', 'operations']);
          if (!f) continue;
          if (kind && f.kind !== kind) throw new RpcError(status.INVALID_ARGUMENT, `${f.kind === 'ops' ? 'operations' : f.kind === 'ip' ? 'ip_batch_chunk' : 'setkey_chunk'}: this stream started with another form; one stream carries one form`);
          kind = f.kind;
          what.form = kind;
          if (f.kind === 'ops') {
            heldOps.push(...f.ops);
            if (heldOps.length > peakOps) peakOps = heldOps.length;
            if (opts.atomic) {
              if (heldOps.length > ctx.limits.maxOperations) throw new RpcError(status.RESOURCE_EXHAUSTED, `operations: an atomic streamed batch is held whole; more than ${ctx.limits.maxOperations} operations`);
              continue;
            }
            while (heldOps.length >= ctx.limits.windowOperations) {
              const w = heldOps.slice(0, ctx.limits.windowOperations);
              heldOps = heldOps.slice(ctx.limits.windowOperations);
              await applyWindow({ kind: 'ops', ops: w }, 0);
            }
            continue;
          }
          bytes += f.text.length;
          if (opts.atomic) {
            if (bytes > ctx.limits.maxStreamBytes) throw new RpcError(status.RESOURCE_EXHAUSTED, `${f.kind === 'ip' ? 'ip_batch_chunk' : 'setkey_chunk'}: an atomic streamed batch is held whole and exceeds ${ctx.limits.maxStreamBytes} bytes`);
            held.push(f.text);
            continue;
          }
          splitter ??= new WindowSplitter(f.kind as TextSyntax, ctx.limits.windowBytes);
          for (const w of splitter.push(f.text)) await applyWindow({ kind: f.kind, text: w.text }, w.lineOffset);
        }
        opts ??= validateOptions(undefined, 'options');
        if (!kind) throw new RpcError(status.INVALID_ARGUMENT, 'setkey_chunk: the stream carried no batch');
        if (opts.atomic) {
          const whole: Form = kind === 'ops' ? { kind, ops: heldOps } : { kind, text: Buffer.concat(held) };
          held.length = 0;
          heldOps = [];
          const result = await runForm(whole, opts, source, { line: 0, index: 0 });
          counters.peakWindowBytes = Math.max(counters.peakWindowBytes, bytes);
          return { result, windows: 1, peakWindowBytes: BigInt(bytes) };
        }
        if (kind === 'ops') { if (heldOps.length) await applyWindow({ kind: 'ops', ops: heldOps }, 0); heldOps = []; }
        else { const w = splitter!.end(); if (w) await applyWindow({ kind, text: w.text }, w.lineOffset); }
        const peak = kind === 'ops' ? peakOps : splitter!.peak;
        counters.peakWindowBytes = Math.max(counters.peakWindowBytes, peak);
        return { result: acc, windows, peakWindowBytes: BigInt(peak) };
      };
      audited(caller, call, 'ApplyStream', what, job, (r) => ({ ...applySummary(r.result!), windows: r.windows }))
        .then((r) => { leave(); cb(null, r); }, (e) => { leave(); cb(toStatus(e)); });
    },

    plan: unary<PlanRequest, PlanResponse>('Plan', async (call, caller) => {
      requireRole(caller, 'read', 'Plan');
      counters.plans++;
      const showKeys = caller.roles.has('keys');
      return withPlan(call.request.desired, async (plan) => planResponse(plan, showKeys), emptyPlan);
    }),

    sync: unary<SyncRequest, SyncResponse>('Sync', async (call, caller) => {
      requireRole(caller, 'write', 'Sync');
      counters.syncs++;
      const showKeys = caller.roles.has('keys');
      return audited(caller, call, 'Sync', { scope: EntryKind[call.request.desired?.scope ?? 0] ?? 0, source: sourceOf(call.request.desired?.sourceName ?? '', 'desired') },
        () => withPlan(call.request.desired, async (plan, kernel): Promise<SyncResponse> => {
          const pr = planResponse(plan, showKeys);
          const r = await applyPlan(kernel, plan);
          const results = [
            ...r.failures.map((f) => resultOf(f.change, plan.changes[f.change]?.line ?? 0, 0, OperationStatus.OPERATION_STATUS_FAILED, f.error)),
            ...r.rollbackFailures.map((f) => ({ ...resultOf(f.change, 0, 0, OperationStatus.OPERATION_STATUS_FAILED, f.error), message: `rollback failed: ${f.error.message}` })),
          ];
          for (const x of results) x.operation = plan.changes[x.index]?.action ?? 'change';
          return { plan: pr, ok: r.ok, results, rolledBack: r.undone };
        }, (diagnostics) => ({ plan: emptyPlan(diagnostics), ok: false, results: [], rolledBack: 0 })),
        (r) => ({ ok: r.ok, adds: r.plan?.adds, updates: r.plan?.updates, deletes: r.plan?.deletes, rolledBack: r.rolledBack, errors: r.results.slice(0, 20).map((x) => ({ change: x.index, code: x.code })) }));
    }),

    list: (call: ServerWritableStream<ListRequest, ListResponse>): void => {
      let leave = (): void => undefined;
      const fail = (e: unknown): void => { leave(); call.emit('error', toStatus(e)); };
      try {
        const caller = callerOf(call, ctx.auth);
        requireRole(caller, 'read', 'List');
        const req = call.request;
        if (!isEnum(req.kind, EntryKind)) throw new RpcError(status.INVALID_ARGUMENT, `kind: unknown value ${req.kind}`);
        if (req.address && !/^[0-9a-fA-F:.]+$/.test(req.address)) throw new RpcError(status.INVALID_ARGUMENT, `address: '${req.address.slice(0, 64)}' is not an IP address`);
        const proto = req.protocol ? protoNumber(req.protocol, 0, 'protocol') : 0;
        const dir = dirFilter(req.dir, 'dir');
        leave = enterStream(caller);
        const showKeys = caller.roles.has('keys');
        const kinds: ('sa' | 'policy')[] = req.kind === EntryKind.ENTRY_KIND_SA ? ['sa'] : req.kind === EntryKind.ENTRY_KIND_POLICY ? ['policy'] : ['sa', 'policy'];
        const keep = (r: XfrmRecord): boolean => {
          const pol = isPolicyRecord(r);
          if (req.spi && (pol || (r.spi >>> 0) !== req.spi)) return false;
          if (req.address && !(pol ? [r.sel.saddr, r.sel.daddr] : [r.saddr, r.daddr]).includes(req.address)) return false;
          if (proto && !(pol ? r.templates.some((t) => t.proto === proto) : r.proto === proto)) return false;
          if (req.reqid && !(pol ? r.templates.some((t) => t.reqid === req.reqid) : r.reqid === req.reqid)) return false;
          if (dir >= 0 && (!pol || r.dir !== dir)) return false;
          return true;
        };
        serial.run(async () => {
          // Dump and convert inside the serial section; the messages are then written with backpressure.
          const out: ListResponse[] = [];
          const kernel = ctx.kernel();
          for (const what of kinds) {
            const mark = markRecords();
            try {
              const { first, end } = await kernel.dump(what);
              for (let i = first; i < end; i++) {
                const r = readRecord(i);
                if (keep(r)) out.push({ entry: entryOf(r, showKeys) });
              }
            } finally {
              restoreRecords(mark);
            }
          }
          return out;
        }).then(async (out) => {
          for (const m of out) {
            if (call.cancelled) break;
            if (!call.write(m)) await new Promise((r) => call.once('drain', r));
          }
          leave();
          call.end();
        }, fail).catch(fail); // a stream that breaks while written ends the call, never the agent
      } catch (e) {
        fail(e);
      }
    },

    get: unary<GetRequest, GetResponse>('Get', async (call, caller) => {
      requireRole(caller, 'read', 'Get');
      const { sa, policy } = call.request;
      if (Boolean(sa) === Boolean(policy)) throw new RpcError(status.INVALID_ARGUMENT, 'sa, policy: give exactly one');
      const showKeys = caller.roles.has('keys');
      return serial.run(async () => {
        const mark = markRecords();
        try {
          const idx = writeRecord(sa ? saIdRecord(sa, L.OP_SA_GET, 'sa') : policyIdRecord(policy!, L.OP_SP_GET, 'policy'));
          let reply;
          try {
            reply = await ctx.kernel().requestRecord(idx);
          } catch (e) {
            if (e instanceof KernelError && (e.code === 'ENOENT' || e.code === 'ESRCH')) throw new RpcError(status.NOT_FOUND, `${sa ? 'sa' : 'policy'}: no such ${sa ? 'SA' : 'policy'}`);
            throw e;
          }
          const before = markRecords();
          for (const c of reply.chunks) decodeXfrm(c, { append: true });
          if (markRecords().records === before.records) throw new RpcError(status.NOT_FOUND, `${sa ? 'sa' : 'policy'}: no such ${sa ? 'SA' : 'policy'}`);
          return { entry: entryOf(readRecord(before.records), showKeys) };
        } finally {
          restoreRecords(mark);
        }
      });
    }),

    flush: unary<FlushRequest, FlushResponse>('Flush', async (call, caller) => {
      requireRole(caller, 'write', 'Flush');
      const kind = call.request.kind;
      if (!isEnum(kind, EntryKind)) throw new RpcError(status.INVALID_ARGUMENT, `kind: unknown value ${kind}`);
      return audited(caller, call, 'Flush', { kind: EntryKind[kind] ?? kind }, async () => {
        await serial.run(async () => {
          const k = ctx.kernel();
          if (kind !== EntryKind.ENTRY_KIND_POLICY) await k.flush('sa');
          if (kind !== EntryKind.ENTRY_KIND_SA) await k.flush('policy');
        });
        return {};
      }, () => ({ ok: true }));
    }),

    allocSpi: unary<AllocSpiRequest, AllocSpiResponse>('AllocSpi', async (call, caller) => {
      requireRole(caller, 'write', 'AllocSpi');
      const rec = allocSpiRecord(call.request);
      const showKeys = caller.roles.has('keys');
      return audited(caller, call, 'AllocSpi', { dst: call.request.dst, protocol: IpsecProtocol[call.request.protocol] ?? call.request.protocol, min: call.request.min, max: call.request.max },
        () => serial.run(async () => {
          const mark = markRecords();
          try {
            const idx = writeRecord(rec);
            let reply;
            try {
              reply = await ctx.kernel().requestRecord(idx);
            } catch (e) {
              if (e instanceof KernelError && e.code === 'ENOENT') throw new RpcError(status.RESOURCE_EXHAUSTED, `min, max: no free SPI in ${call.request.min}..${call.request.max} (ENOENT)`);
              throw e;
            }
            const before = markRecords();
            for (const c of reply.chunks) decodeXfrm(c, { append: true });
            if (markRecords().records === before.records) throw new RpcError(status.INTERNAL, 'the kernel answered ALLOCSPI without an SA');
            const r = readRecord(before.records);
            return { spi: r.spi >>> 0, entry: entryOf(r, showKeys) };
          } finally {
            restoreRecords(mark);
          }
        }), (r) => ({ ok: true, spi: r.spi }));
    }),

    watch: (call: ServerWritableStream<WatchRequest, Buffer>): void => {
      let caller: Caller;
      let leave = (): void => undefined;
      const req = call.request;
      try {
        caller = callerOf(call, ctx.auth);
        requireRole(caller, 'read', 'Watch');
        for (const t of req.types) if (!isEnum(t, EventType)) throw new RpcError(status.INVALID_ARGUMENT, `types: unknown value ${t}`);
        if (req.address && !/^[0-9a-fA-F:.]+$/.test(req.address)) throw new RpcError(status.INVALID_ARGUMENT, `address: '${req.address.slice(0, 64)}' is not an IP address`);
        leave = enterStream(caller);
      } catch (e) {
        call.emit('error', toStatus(e));
        return;
      }
      const showKeys = caller.roles.has('keys');
      const types = req.types.length ? new Set(req.types) : null;
      const filter = req.address || req.spi ? (e: EventEntry | null): boolean => {
        if (!e) return true;
        if (req.spi && (e.isPolicy || e.spi !== req.spi)) return false;
        if (req.address && !e.addresses.includes(req.address)) return false;
        return true;
      } : null;
      let waitingDrain = false;
      let sub: Subscription | null = null;
      const pump = (): void => {
        while (sub && !waitingDrain && !call.cancelled) {
          // Everything queued goes in one message (bounded), so a busy stream costs one write per batch; each
          // event is encoded once however many subscribers it goes to.
          const events: Uint8Array[] = [];
          for (let ev = ctx.hub.take(sub); ev; ev = events.length < MAX_EVENTS_PER_MESSAGE ? ctx.hub.take(sub) : undefined) {
            events.push(encodedEvent(ev, showKeys));
          }
          if (events.length === 0) return;
          if (!call.write(frameWatchResponse(events))) { waitingDrain = true; call.once('drain', () => { waitingDrain = false; pump(); }); return; }
        }
      };
      sub = ctx.hub.subscribe({ onReady: () => queueMicrotask(pump), types, ...(filter ? { filter } : {}) }, BigInt(req.sinceSequence ?? 0n));
      const stop = (): void => { if (sub) ctx.hub.unsubscribe(sub); sub = null; leave(); };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      ctx.metrics?.setSubscribers(ctx.hub.subscribers);
      // An empty write of the stream's headers lets the client know the subscription is live.
      call.sendMetadata(new Metadata());
      pump();
    },

    stats: unary<StatsRequest, StatsResponse>('Stats', async (call, caller) => {
      requireRole(caller, 'read', 'Stats');
      const withSa = call.request.includeSaCounters;
      const { counts, sas } = await serial.run(async () => {
        const k = ctx.kernel();
        const n: number[] = [];
        const list: SaCounters[] = [];
        for (const what of ['sa', 'policy'] as const) {
          const mark = markRecords();
          try {
            const d = await k.dump(what);
            n.push(d.end - d.first);
            if (what === 'sa' && withSa) {
              for (let i = d.first; i < d.end; i++) {
                const r = readRecord(i);
                list.push({
                  src: r.saddr, dst: r.daddr, proto: PROTO_NAMES[r.proto] ?? String(r.proto), spi: r.spi >>> 0, bytes: r.cur.bytes, packets: r.cur.packets,
                  replayErrors: r.stats.replay, integrityFailures: r.stats.integrityFailed, replayWindowErrors: r.stats.replayWindow,
                  addTime: r.cur.addTime, useTime: r.cur.useTime,
                });
              }
            }
          } finally { restoreRecords(mark); }
        }
        return { counts: n, sas: list };
      });
      let kernelCounters: KernelCounter[] = [];
      try { kernelCounters = await xfrmStat(ctx.netns); } catch { kernelCounters = []; /* kernel without CONFIG_XFRM_STATISTICS */ }
      return {
        saCount: counts[0]!, policyCount: counts[1]!, applies: counters.applies, operationsApplied: counters.operationsApplied,
        operationsFailed: counters.operationsFailed, events: ctx.hub.events, gaps: ctx.hub.gaps, subscribers: ctx.hub.subscribers,
        lastSequence: ctx.hub.lastSequence, netns: ctx.netns, kernelCounters, saCounters: sas, kernelOverruns: BigInt(ctx.hub.kernelOverruns),
        peakWindowBytes: BigInt(counters.peakWindowBytes), plans: counters.plans, syncs: counters.syncs,
      };
    }),
  };
  return Object.assign(service, { counters });
}

/** Events per WatchResponse at most (a lagging subscriber catches up in batches of this many). */
const MAX_EVENTS_PER_MESSAGE = 256;
