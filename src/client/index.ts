// src/client/index.ts — the typed client of keyfleet agents (layer: client). Owns connections (mTLS, or
// plaintext to a unix socket / loopback), promise and async-iterator wrappers around the generated
// AgentService client, and fleet fan-out (one call per agent, concurrently, with per-agent outcomes).
import { readFileSync } from 'node:fs';
import { credentials, Metadata, type ChannelCredentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AgentServiceClient, EntryKind, type ApplyOptions, type ApplyResponse, type Entry, type StatsResponse, type WatchRequest,
  type WatchResponse, type ApplyStreamRequest,
} from '../gen/keyfleet/v1/agent.pb.js';

export { EntryKind, EventType, OperationStatus } from '../gen/keyfleet/v1/agent.pb.js';
export type { ApplyOptions, ApplyResponse, Entry, StatsResponse, WatchRequest, WatchResponse, OperationResult } from '../gen/keyfleet/v1/agent.pb.js';

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

  /** Applies setkey text (one batch). */
  apply(setkeyText: string, options: Partial<ApplyOptions> = {}, sourceName = ''): Promise<ApplyResponse> {
    return new Promise((resolve, reject) => {
      this.#client.apply({ setkeyText, options: fullOptions(options), sourceName }, new Metadata(), this.#opts(), (e, r) => (e ? reject(this.#wrap(e)) : resolve(r)));
    });
  }

  /** Applies a large setkey text streamed in chunks (bytes or strings, e.g. a file read stream). */
  async applyStream(chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, options: Partial<ApplyOptions> = {}, sourceName = ''): Promise<ApplyResponse> {
    let call!: ReturnType<AgentServiceClient['applyStream']>;
    const done = new Promise<ApplyResponse>((resolve, reject) => {
      call = this.#client.applyStream(new Metadata(), this.#opts(), (e, r) => (e ? reject(this.#wrap(e)) : resolve(r.result!)));
    });
    let first = true;
    for await (const c of chunks) {
      const m: ApplyStreamRequest = { setkeyChunk: typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength), sourceName: first ? sourceName : '', ...(first ? { options: fullOptions(options) } : {}) };
      first = false;
      if (!call.write(m)) await new Promise((r) => call.once('drain', r));
    }
    call.end();
    return done;
  }

  /** Lists SAs and/or policies. */
  list(kind: EntryKind = EntryKind.ENTRY_KIND_UNSPECIFIED, filter: { address?: string; spi?: number } = {}): AsyncIterable<Entry> {
    const stream = this.#client.list({ kind, address: filter.address ?? '', spi: filter.spi ?? 0 }, new Metadata(), this.#opts());
    return mapStream(stream, (m) => m.entry!, (e) => this.#wrap(e));
  }

  flush(kind: EntryKind = EntryKind.ENTRY_KIND_UNSPECIFIED): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.flush({ kind }, new Metadata(), this.#opts(), (e) => (e ? reject(this.#wrap(e)) : resolve()));
    });
  }

  stats(): Promise<StatsResponse> {
    return new Promise((resolve, reject) => {
      this.#client.stats({}, new Metadata(), this.#opts(), (e, r) => (e ? reject(this.#wrap(e)) : resolve(r)));
    });
  }

  /**
   * Subscribes to kernel events. The iterator ends when `signal` aborts. `ready` resolves once the agent has
   * registered the subscription (events after that are delivered).
   */
  watch(req: Partial<WatchRequest> = {}, signal?: AbortSignal): { events: AsyncIterable<WatchResponse>; ready: Promise<void> } {
    const stream = this.#client.watch({ sinceSequence: req.sinceSequence ?? 0n, types: req.types ?? [] });
    const ready = new Promise<void>((resolve, reject) => {
      stream.once('metadata', () => resolve());
      stream.once('error', (e: ServiceError) => reject(this.#wrap(e)));
    });
    ready.catch(() => undefined);
    signal?.addEventListener('abort', () => stream.cancel(), { once: true });
    return { events: mapStream(stream, (m) => m, (e) => this.#wrap(e), true), ready };
  }

  close(): void {
    this.#client.close();
  }
}

function fullOptions(o: Partial<ApplyOptions>): ApplyOptions {
  return { atomic: o.atomic ?? false, dryRun: o.dryRun ?? false, continueOnError: o.continueOnError ?? false, kameMode: o.kameMode ?? false };
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
