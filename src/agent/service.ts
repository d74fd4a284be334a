// src/agent/service.ts — the keyfleet.v1.AgentService handlers (layer: agent). Owns request validation
// (INVALID_ARGUMENT naming the field), role checks, redaction, limits (operations per batch, bytes per
// streamed batch, concurrent streams per identity), the audit entry of every mutation, and the one-at-a-time
// queue for kernel work (the wasm record region is shared). Kernel semantics live in src/engine.
import { Metadata, status, type ServerUnaryCall, type sendUnaryData, type ServerReadableStream, type ServerWritableStream } from '@grpc/grpc-js';
import {
  EntryKind, EventType, type AgentServiceServer, type ApplyRequest, type ApplyResponse, type ApplyStreamRequest,
  type ApplyStreamResponse, type ListRequest, type ListResponse, type FlushRequest, type FlushResponse, type WatchRequest,
  type WatchResponse, type StatsRequest, type StatsResponse, type ApplyOptions,
} from '../gen/keyfleet/v1/agent.pb.js';
import { XfrmKernel, markRecords, restoreRecords } from '../kernel/xfrm.js';
import { KernelError } from '../kernel/errors.js';
import { readRecord } from '../wasm/records.js';
import { callerOf, requireRole, RpcError, type AuthPolicy, type Caller, type ServerSurfaceCall } from './auth.js';
import { applyBatch } from './apply.js';
import { entryOf, isPolicyRecord } from './entries.js';
import type { EventHub, HubEvent, Subscription } from './events.js';
import type { AuditLog } from './audit.js';
import type { AgentMetrics } from './metrics.js';

export interface AgentLimits {
  /** Operations (records) per Apply batch. */
  maxOperations: number;
  /** Bytes of setkey text per ApplyStream batch. */
  maxStreamBytes: number;
  /** Open List/Watch/ApplyStream calls per identity. */
  maxStreamsPerIdentity: number;
}

export const DEFAULT_LIMITS: AgentLimits = { maxOperations: 1_000_000, maxStreamBytes: 512 << 20, maxStreamsPerIdentity: 16 };

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

export function makeService(ctx: ServiceContext): AgentServiceServer & { counters: Counters } {
  const streams = new Map<string, number>();
  const counters: Counters = { applies: 0n, operationsApplied: 0n, operationsFailed: 0n };

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

  const runApply = async (caller: Caller, call: ServerSurfaceCall, method: string, text: Uint8Array, opts: Required<ApplyOptions>, sourceName: string): Promise<ApplyResponse> => {
    requireRole(caller, 'write', method);
    if (text.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'setkey_text: empty; expected setkey(8) statements');
    const name = sourceName.replace(/[^\w.\-/:@]/g, '_').slice(0, 200) || 'request';
    let res: ApplyResponse | undefined;
    let failure: unknown;
    try {
      res = await serial.run(() => applyBatch(ctx.kernel(), text, {
        atomic: opts.atomic, dryRun: opts.dryRun, continueOnError: opts.continueOnError, kameMode: opts.kameMode,
        sourceName: name, maxOperations: ctx.limits.maxOperations, maxOkResults: 10000,
      }));
      return res;
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      counters.applies++;
      if (res) { counters.operationsApplied += BigInt(res.applied); counters.operationsFailed += BigInt(res.failed); }
      ctx.metrics?.countOperations(res?.applied ?? 0, res?.failed ?? 0);
      ctx.audit.write({
        who: caller.identity, peer: call.getPeer(), method,
        what: { source: name, bytes: text.length, atomic: opts.atomic, dryRun: opts.dryRun, continueOnError: opts.continueOnError },
        result: res
          ? { ok: res.ok, applied: res.applied, failed: res.failed, rolledBack: res.rolledBack, errors: res.results.filter((r) => r.errno).slice(0, 20).map((r) => ({ line: r.line, code: r.code })) }
          : { ok: false, error: toStatus(failure).details },
      });
    }
  };

  const service: AgentServiceServer = {
    apply: unary<ApplyRequest, ApplyResponse>('Apply', async (call, caller) => {
      const req = call.request;
      if (typeof req.setkeyText !== 'string') throw new RpcError(status.INVALID_ARGUMENT, 'setkey_text: expected a string');
      const opts = validateOptions(req.options, 'options');
      return runApply(caller, call, 'Apply', Buffer.from(req.setkeyText), opts, req.sourceName || 'request');
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
      const chunks: Buffer[] = [];
      let bytes = 0;
      let opts: Required<ApplyOptions> | null = null;
      let source = 'stream';
      let done = false;
      const fail = (e: unknown): void => { if (done) return; done = true; leave(); cb(toStatus(e)); };
      call.on('data', (m: ApplyStreamRequest) => {
        if (done) return;
        try {
          if (!opts) { opts = validateOptions(m.options, 'options'); source = m.sourceName || source; }
          bytes += m.setkeyChunk.length;
          if (bytes > ctx.limits.maxStreamBytes) throw new RpcError(status.RESOURCE_EXHAUSTED, `setkey_chunk: the batch exceeds ${ctx.limits.maxStreamBytes} bytes`);
          chunks.push(Buffer.from(m.setkeyChunk));
        } catch (e) {
          fail(e);
          call.destroy();
        }
      });
      call.on('error', (e) => fail(e));
      call.on('end', () => {
        if (done) return;
        runApply(caller, call, 'ApplyStream', Buffer.concat(chunks), opts ?? validateOptions(undefined, 'options'), source).then(
          (result) => { done = true; leave(); cb(null, { result }); },
          (e) => fail(e),
        );
      });
    },

    list: (call: ServerWritableStream<ListRequest, ListResponse>): void => {
      let leave = (): void => undefined;
      const fail = (e: unknown): void => { leave(); call.emit('error', toStatus(e)); };
      try {
        const caller = callerOf(call, ctx.auth);
        requireRole(caller, 'read', 'List');
        const req = call.request;
        if (!isEnum(req.kind, EntryKind)) throw new RpcError(status.INVALID_ARGUMENT, `kind: unknown value ${req.kind}`);
        if (req.address && !/^[0-9a-fA-F:.]+$/.test(req.address)) throw new RpcError(status.INVALID_ARGUMENT, `address: '${req.address.slice(0, 64)}' is not an IP address`);
        leave = enterStream(caller);
        const showKeys = caller.roles.has('keys');
        const kinds: ('sa' | 'policy')[] = req.kind === EntryKind.ENTRY_KIND_SA ? ['sa'] : req.kind === EntryKind.ENTRY_KIND_POLICY ? ['policy'] : ['sa', 'policy'];
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
                if (req.spi && (isPolicyRecord(r) || (r.spi >>> 0) !== req.spi)) continue;
                if (req.address && !(isPolicyRecord(r) ? [r.sel.saddr, r.sel.daddr] : [r.saddr, r.daddr]).includes(req.address)) continue;
                out.push({ entry: entryOf(r, showKeys) });
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
        }, fail);
      } catch (e) {
        fail(e);
      }
    },

    flush: unary<FlushRequest, FlushResponse>('Flush', async (call, caller) => {
      requireRole(caller, 'write', 'Flush');
      const kind = call.request.kind;
      if (!isEnum(kind, EntryKind)) throw new RpcError(status.INVALID_ARGUMENT, `kind: unknown value ${kind}`);
      let error: unknown;
      try {
        await serial.run(async () => {
          const k = ctx.kernel();
          if (kind !== EntryKind.ENTRY_KIND_POLICY) await k.flush('sa');
          if (kind !== EntryKind.ENTRY_KIND_SA) await k.flush('policy');
        });
        return {};
      } catch (e) {
        error = e;
        throw e;
      } finally {
        ctx.audit.write({
          who: caller.identity, peer: call.getPeer(), method: 'Flush', what: { kind: EntryKind[kind] ?? kind },
          result: error ? { ok: false, error: toStatus(error).details } : { ok: true },
        });
      }
    }),

    watch: (call: ServerWritableStream<WatchRequest, WatchResponse>): void => {
      let caller: Caller;
      let leave = (): void => undefined;
      try {
        caller = callerOf(call, ctx.auth);
        requireRole(caller, 'read', 'Watch');
        for (const t of call.request.types) if (!isEnum(t, EventType)) throw new RpcError(status.INVALID_ARGUMENT, `types: unknown value ${t}`);
        leave = enterStream(caller);
      } catch (e) {
        call.emit('error', toStatus(e));
        return;
      }
      const showKeys = caller.roles.has('keys');
      const types = call.request.types.length ? new Set(call.request.types) : null;
      let waitingDrain = false;
      let sub: Subscription | null = null;
      const pump = (): void => {
        if (!sub || waitingDrain || call.cancelled) return;
        for (let ev = ctx.hub.take(sub); ev; ev = ctx.hub.take(sub)) {
          if (!call.write(toWatch(ev, showKeys))) { waitingDrain = true; call.once('drain', () => { waitingDrain = false; pump(); }); return; }
        }
      };
      sub = ctx.hub.subscribe({ onReady: () => queueMicrotask(pump), types }, BigInt(call.request.sinceSequence ?? 0n));
      const stop = (): void => { if (sub) ctx.hub.unsubscribe(sub); sub = null; leave(); };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      ctx.metrics?.setSubscribers(ctx.hub.subscribers);
      // An empty write of the stream's headers lets the client know the subscription is live.
      call.sendMetadata(new Metadata());
      pump();
    },

    stats: unary<StatsRequest, StatsResponse>('Stats', async (_call, caller) => {
      requireRole(caller, 'read', 'Stats');
      const counts = await serial.run(async () => {
        const k = ctx.kernel();
        const n: number[] = [];
        for (const what of ['sa', 'policy'] as const) {
          const mark = markRecords();
          try { const d = await k.dump(what); n.push(d.end - d.first); } finally { restoreRecords(mark); }
        }
        return n;
      });
      return {
        saCount: counts[0]!, policyCount: counts[1]!, applies: counters.applies, operationsApplied: counters.operationsApplied,
        operationsFailed: counters.operationsFailed, events: ctx.hub.events, gaps: ctx.hub.gaps, subscribers: ctx.hub.subscribers,
        lastSequence: ctx.hub.lastSequence, netns: ctx.netns,
      };
    }),
  };
  return Object.assign(service, { counters });
}

export interface Counters { applies: bigint; operationsApplied: bigint; operationsFailed: bigint }

export function toWatch(ev: HubEvent, showKeys: boolean): WatchResponse {
  return {
    sequence: ev.sequence, type: ev.type, messageType: ev.messageType, lost: ev.lost, timeUnixMs: BigInt(ev.timeMs),
    ...(ev.record ? { entry: entryOf(ev.record, showKeys) } : {}),
  };
}
