// src/client/index.ts — the typed client of keyfleet agents (layer: client). Owns connections (mTLS, or
// plaintext to a unix socket / loopback), promise and async-iterator wrappers around the generated
// AgentService client, and fleet fan-out (one call per agent, concurrently, with per-agent outcomes).
import { readFileSync } from 'node:fs';
import { credentials, Metadata, type ChannelCredentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AgentServiceClient, EntryKind, ApplyRequest, ApplyStreamRequest, ListRequest, WatchRequest, StatsRequest, PlanRequest, SyncRequest,
  GetRequest, AllocSpiRequest, DesiredState,
  type ApplyOptions, type ApplyResponse, type Entry, type StatsResponse, type WatchEvent, type Operation, type PlanResponse,
  type SyncResponse, type AllocSpiResponse, type SaId, type PolicyId, type ApplyStreamResponse,
} from '../gen/keyfleet/v1/agent.pb.js';

export {
  EntryKind, EventType, OperationStatus, IpsecProtocol, Mode, Direction, PolicyAction, ChangeAction,
} from '../gen/keyfleet/v1/agent.pb.js';
export type {
  ApplyOptions, ApplyResponse, Entry, StatsResponse, WatchEvent, OperationResult, Operation, SecurityAssociation, Policy,
  Template, Selector, SaId, PolicyId, PlanResponse, SyncResponse, Change, AllocSpiResponse, ApplyStreamResponse,
} from '../gen/keyfleet/v1/agent.pb.js';
export type { WatchRequest, ListRequest, AllocSpiRequest, DesiredState } from '../gen/keyfleet/v1/agent.pb.js';

/** A batch in one of its three forms: setkey text (a string), `{ ip }` (ip -batch text) or `{ operations }`. */
export type Batch = string | { setkey: string } | { ip: string } | { operations: Operation[] };

function batchFields(b: Batch): Pick<ApplyRequest, 'setkeyText' | 'ipBatchText' | 'operations'> {
  if (typeof b === 'string') return { setkeyText: b, ipBatchText: '', operations: [] };
  if ('setkey' in b) return { setkeyText: b.setkey, ipBatchText: '', operations: [] };
  if ('ip' in b) return { setkeyText: '', ipBatchText: b.ip, operations: [] };
  return { setkeyText: '', ipBatchText: '', operations: b.operations };
}

/** A streamed batch's messages: text chunks (setkey or ip syntax) or arrays of operations. */
export type StreamChunk = Uint8Array | string | Operation[];

export interface ConnectOptions {
  /** PEM: the CA that signed the agents' certificates. */
  ca?: Buffer;
  /** PEM: this client's certificate and key (mTLS). */
  cert?: Buffer;
  key?: Buffer;
  /** Plaintext (agents on a unix socket or loopback started with --insecure). */
  insecure?: boolean;
  /** Name to verify the agent's certificate against, when it differs from the host in the address. */
  serverName?: string;
  /** Per-call deadline (ms). */
  deadlineMs?: number;
}

/** Reads --ca/--cert/--key files into ConnectOptions. */
export function tlsFiles(f: { ca?: string; cert?: string; key?: string }): Pick<ConnectOptions, 'ca' | 'cert' | 'key'> {
  return {
    ...(f.ca ? { ca: readFileSync(f.ca) } : {}),
    ...(f.cert ? { cert: readFileSync(f.cert) } : {}),
    ...(f.key ? { key: readFileSync(f.key) } : {}),
  };
}

/** A gRPC failure as an Error with the status code and its name. */
export class AgentCallError extends Error {
  readonly code: number;
  readonly details: string;
  constructor(readonly agent: string, e: ServiceError) {
    super(`${agent}: ${e.details || e.message}`);
    this.name = 'AgentCallError';
    this.code = e.code;
    this.details = e.details;
  }
}

export class AgentClient {
  readonly address: string;
  readonly #client: AgentServiceClient;
  readonly #deadlineMs: number;

  constructor(address: string, o: ConnectOptions = {}) {
    this.address = address;
    let creds: ChannelCredentials;
    if (o.insecure) creds = credentials.createInsecure();
    else creds = credentials.createSsl(o.ca ?? null, o.key ?? null, o.cert ?? null);
    this.#client = new AgentServiceClient(address, creds, {
      ...(o.serverName ? { 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName } : {}),
      'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20,
    });
    this.#deadlineMs = o.deadlineMs ?? 300_000;
  }

  #opts(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.#deadlineMs) };
  }

  #wrap(e: ServiceError): AgentCallError {
    return new AgentCallError(this.address, e);
  }

  #unary<Req, Res>(method: (req: Req, md: Metadata, o: { deadline: Date }, cb: (e: ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.#client, req, new Metadata(), this.#opts(), (e: ServiceError | null, r: Res) => (e ? reject(this.#wrap(e)) : resolve(r)));
    });
  }

  /** Applies one batch: setkey text (a string), `{ ip: text }` or `{ operations: [...] }`. */
  apply(batch: Batch, options: Partial<ApplyOptions> = {}, sourceName = ''): Promise<ApplyResponse> {
    return this.#unary(this.#client.apply, ApplyRequest.fromPartial({ ...batchFields(batch), options: fullOptions(options), sourceName }));
  }

  /**
   * Streams a large batch: text chunks (`syntax` says whether setkey or ip -batch; split anywhere, e.g. a file
   * read stream) or arrays of operations. Waits for the agent to take each message (backpressure).
   */
  async applyStream(chunks: AsyncIterable<StreamChunk> | Iterable<StreamChunk>, options: Partial<ApplyOptions> = {}, sourceName = '', syntax: 'setkey' | 'ip' = 'setkey'): Promise<ApplyResponse & { windows: number; peakWindowBytes: bigint; backpressured: number }> {
    let call!: ReturnType<AgentServiceClient['applyStream']>;
    const done = new Promise<ApplyStreamResponse>((resolve, reject) => {
      call = this.#client.applyStream(new Metadata(), this.#opts(), (e, r) => (e ? reject(this.#wrap(e)) : resolve(r)));
    });
    let first = true;
    let backpressured = 0;
    let failed = false;
    done.catch(() => { failed = true; });
    for await (const c of chunks) {
      if (failed) break;
      const body = Array.isArray(c) ? { operations: c } : syntax === 'ip' ? { ipBatchChunk: toBytes(c) } : { setkeyChunk: toBytes(c) };
      const m = ApplyStreamRequest.fromPartial({ ...body, ...(first ? { options: fullOptions(options), sourceName } : {}) });
      first = false;
      if (!call.write(m)) {
        backpressured++;
        await new Promise<void>((r) => { call.once('drain', () => r()); done.then(() => r(), () => r()); });
      }
    }
    call.end();
    const r = await done;
    return { ...r.result!, windows: r.windows, peakWindowBytes: r.peakWindowBytes, backpressured };
  }

  /** The changes that would turn the agent's tables into `desired` (nothing is changed). */
  plan(desired: Batch, o: Partial<Pick<DesiredState, 'scope' | 'kameMode' | 'sourceName'>> = {}): Promise<PlanResponse> {
    return this.#unary(this.#client.plan, PlanRequest.fromPartial({ desired: desiredOf(desired, o) }));
  }

  /** Applies the plan towards `desired`, atomically. */
  sync(desired: Batch, o: Partial<Pick<DesiredState, 'scope' | 'kameMode' | 'sourceName'>> = {}): Promise<SyncResponse> {
    return this.#unary(this.#client.sync, SyncRequest.fromPartial({ desired: desiredOf(desired, o) }));
  }

  /** One SA or policy (rejects with NOT_FOUND when there is none). */
  async get(id: { sa: SaId } | { policy: PolicyId }): Promise<Entry> {
    const r = await this.#unary(this.#client.get, GetRequest.fromPartial(id));
    return r.entry!;
  }

  /** Reserves a free SPI in [min, max]. */
  allocSpi(req: Partial<AllocSpiRequest> & { dst: string }): Promise<AllocSpiResponse> {
    return this.#unary(this.#client.allocSpi, AllocSpiRequest.fromPartial(req));
  }

  /** Lists SAs and/or policies, filtered by the agent. */
  list(kind: EntryKind = EntryKind.ENTRY_KIND_UNSPECIFIED, filter: Partial<Omit<ListRequest, 'kind'>> = {}): AsyncIterable<Entry> {
    const stream = this.#client.list(ListRequest.fromPartial({ ...filter, kind }), new Metadata(), this.#opts());
    return mapStream(stream, (m) => m.entry!, (e) => this.#wrap(e));
  }

  flush(kind: EntryKind = EntryKind.ENTRY_KIND_UNSPECIFIED): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.flush({ kind }, new Metadata(), this.#opts(), (e) => (e ? reject(this.#wrap(e)) : resolve()));
    });
  }

  stats(o: { includeSaCounters?: boolean } = {}): Promise<StatsResponse> {
    return this.#unary(this.#client.stats, StatsRequest.fromPartial(o));
  }

  /**
   * Subscribes to kernel events. The iterators end when `signal` aborts. `ready` resolves once the agent has
   * registered the subscription (events after that are delivered). Consume one of `events` (one event at a time)
   * or `batches` (the events of each WatchResponse together: one await per message instead of one per event,
   * for controllers that take thousands of events a second).
   */
  watch(req: Partial<WatchRequest> = {}, signal?: AbortSignal): { events: AsyncIterable<WatchEvent>; batches: AsyncIterable<WatchEvent[]>; ready: Promise<void> } {
    const stream = this.#client.watch(WatchRequest.fromPartial(req));
    const ready = new Promise<void>((resolve, reject) => {
      stream.once('metadata', () => resolve());
      stream.once('error', (e: ServiceError) => reject(this.#wrap(e)));
    });
    ready.catch(() => undefined);
    signal?.addEventListener('abort', () => stream.cancel(), { once: true });
    const batches = mapStream(stream, (m) => m.events, (e) => this.#wrap(e), true);
    return { events: flatten(batches), batches, ready };
  }

  close(): void {
    this.#client.close();
  }
}

function toBytes(c: Uint8Array | string): Buffer {
  return typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

function desiredOf(b: Batch, o: Partial<Pick<DesiredState, 'scope' | 'kameMode' | 'sourceName'>>): DesiredState {
  const f = batchFields(b);
  return DesiredState.fromPartial({ setkeyText: f.setkeyText, ipBatchText: f.ipBatchText, operations: f.operations, ...o });
}

function fullOptions(o: Partial<ApplyOptions>): ApplyOptions {
  return { atomic: o.atomic ?? false, dryRun: o.dryRun ?? false, continueOnError: o.continueOnError ?? false, kameMode: o.kameMode ?? false };
}

/** The events of each WatchResponse, one by one. */
async function* flatten<T>(batches: AsyncIterable<T[]>): AsyncIterable<T> {
  for await (const b of batches) yield* b;
}

async function* mapStream<M, T>(stream: ClientReadableStream<M>, f: (m: M) => T, wrap: (e: ServiceError) => Error, endOnCancel = false): AsyncIterable<T> {
  try {
    for await (const m of stream as AsyncIterable<M>) yield f(m);
  } catch (e) {
    const se = e as ServiceError;
    if (endOnCancel && se.code === 1 /* CANCELLED */) return;
    throw typeof se.code === 'number' ? wrap(se) : e;
  } finally {
    stream.cancel();
  }
}

export interface FleetResult<T> {
  agent: string;
  ok: boolean;
  value?: T;
  error?: Error;
  ms: number;
}

/** Runs `fn` against every agent concurrently (at most `concurrency` at a time); never rejects. */
export async function forEachAgent<T>(agents: readonly string[], o: ConnectOptions, fn: (c: AgentClient) => Promise<T>, concurrency = 64): Promise<FleetResult<T>[]> {
  const out: FleetResult<T>[] = new Array(agents.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < agents.length) {
      const i = next++;
      const agent = agents[i]!;
      const t0 = Date.now();
      const c = new AgentClient(agent, o);
      try {
        const value = await fn(c);
        out[i] = { agent, ok: true, value, ms: Date.now() - t0 };
      } catch (e) {
        out[i] = { agent, ok: false, error: e as Error, ms: Date.now() - t0 };
      } finally {
        c.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, agents.length) }, worker));
  return out;
}
