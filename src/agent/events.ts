// src/agent/events.ts — the agent's event hub (layer: agent). Owns the one kernel subscription (an XFRM
// netlink socket joined to the multicast groups, linux/xfrm.h XFRMNLGRP_*), sequence numbers, a bounded
// window of recent events for resumption, and the fan-out to subscribers: each has a bounded queue; when
// it overflows (a slow subscriber) or the kernel drops messages (ENOBUFS), that subscriber gets an explicit
// GAP event, never a silent loss. The kernel reader never waits for a subscriber.
import {
  openNetlinkXfrm, XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE, XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_AEVENTS,
  XFRMNLGRP_REPORT, XFRMNLGRP_MAPPING, type RawSocket,
} from '../native/index.js';
import { splitMessages } from '../kernel/channel.js';
import { markRecords, restoreRecords } from '../kernel/xfrm.js';
import { decodeXfrm } from '../wasm/xfrm-codec.js';
import { readRecord, type XfrmRecord } from '../wasm/records.js';
import { EventType, type Entry } from '../gen/keyfleet/v1/agent.pb.js';
import { XFRM_MSG_MAPPING, XFRM_MSG_REPORT } from '../../asm/shared/xfrm.js';
import { entryOf, isPolicyRecord, mappingEntryOf, reportEntryOf } from './entries.js';

/** XFRM_MSG_* (linux/xfrm.h) → event type. */
export const EVENT_OF_MSG: Readonly<Record<number, EventType>> = {
  16: EventType.EVENT_TYPE_NEW_SA, 26: EventType.EVENT_TYPE_UPDATE_SA, 17: EventType.EVENT_TYPE_DELETE_SA,
  19: EventType.EVENT_TYPE_NEW_POLICY, 25: EventType.EVENT_TYPE_UPDATE_POLICY, 20: EventType.EVENT_TYPE_DELETE_POLICY,
  23: EventType.EVENT_TYPE_ACQUIRE, 24: EventType.EVENT_TYPE_EXPIRE, 27: EventType.EVENT_TYPE_POLICY_EXPIRE,
  28: EventType.EVENT_TYPE_FLUSH_SA, 29: EventType.EVENT_TYPE_FLUSH_POLICY, 30: EventType.EVENT_TYPE_AEVENT,
  32: EventType.EVENT_TYPE_REPORT, 38: EventType.EVENT_TYPE_MAPPING,
};

/** Message types whose record is worth showing as an Entry: SAs, policies, 38: the SA of a NAT-T mapping, 32: a
 *  report's proto, selector and care-of address. */
const CARRIES_ENTRY = new Set([16, 17, 19, 20, 23, 24, 25, 26, 27, 32, 38]);

/**
 * What an event says about its SA or policy, converted once at arrival (the decoded record itself is not kept:
 * a window of thousands of full records would cost more in garbage collection than the whole fan-out).
 */
export interface EventEntry {
  redacted: Entry;
  /** The same with key bytes (the same object when the entry has none). */
  withKeys: Entry;
  /** Source and destination (SAs) or selector addresses (policies), for filters. */
  addresses: string[];
  spi: number;
  isPolicy: boolean;
  /** Expire events: hard (struct xfrm_user_expire.hard). */
  hard: boolean;
}

/** The event's entry (decoding it now if nobody needed it yet). */
export function entryOfEvent(ev: HubEvent): EventEntry | null {
  return ev.entry instanceof LazyEntry ? ev.entry.get() : ev.entry;
}

export function eventEntry(r: XfrmRecord): EventEntry {
  if (r.msgType === XFRM_MSG_MAPPING) {
    const e = mappingEntryOf(r); // no key material in a mapping message
    return { redacted: e, withKeys: e, isPolicy: false, spi: r.spi >>> 0, hard: false, addresses: [r.saddr, r.daddr, r.encap?.oa ?? ''] };
  }
  if (r.msgType === XFRM_MSG_REPORT) {
    const e = reportEntryOf(r);
    return { redacted: e, withKeys: e, isPolicy: false, spi: 0, hard: false, addresses: [r.sel.saddr, r.sel.daddr, r.coa ?? ''] };
  }
  const isPolicy = isPolicyRecord(r);
  const redacted = entryOf(r, false);
  const hasKeys = !isPolicy && Boolean(r.auth?.key.length || r.enc?.key.length || r.aead?.key.length);
  return {
    redacted, withKeys: hasKeys ? entryOf(r, true) : redacted, isPolicy, spi: isPolicy ? 0 : r.spi >>> 0, hard: r.hard === 1,
    addresses: isPolicy ? [r.sel.saddr, r.sel.daddr] : [r.saddr, r.daddr],
  };
}

/** The entry of a kernel message, decoded on first use (bulk loads make events nobody may ever read). */
export class LazyEntry {
  #bytes: Buffer | null;
  #entry: EventEntry | null = null;
  constructor(bytes: Buffer) { this.#bytes = bytes; }
  get(): EventEntry | null {
    if (this.#bytes) {
      const mark = markRecords();
      try {
        const r = decodeXfrm(this.#bytes, { append: true });
        if (r.records > 0) this.#entry = eventEntry(readRecord(mark.records));
      } catch {
        this.#entry = null; // an undecodable message is still an event, without an entry
      } finally {
        restoreRecords(mark);
        this.#bytes = null;
      }
    }
    return this.#entry;
  }
}

export interface HubEvent {
  sequence: bigint;
  type: EventType;
  messageType: number;
  entry: EventEntry | LazyEntry | null;
  /** GAP: events lost (0 = unknown). */
  lost: bigint;
  timeMs: number;
  /** Encoded WatchEvent without / with key bytes, made on first use (src/agent/watch-wire.ts). */
  wire?: [Uint8Array | null, Uint8Array | null];
}

export interface Subscriber {
  /** Called when the queue goes from empty to non-empty (the consumer then drains with take()). */
  onReady: () => void;
  types: ReadonlySet<EventType> | null;
  /** Further filter on the event's entry (GAP events always pass). */
  filter?: (entry: EventEntry | null) => boolean;
}

/** A FIFO with O(1) push and shift (Array#shift is O(n) once a queue is long, exactly when a subscriber lags). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number { return this.#items.length - this.#head; }
  push(x: T): void { this.#items.push(x); }
  peek(): T | undefined { return this.#items[this.#head]; }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const x = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) { this.#items = this.#items.slice(this.#head); this.#head = 0; }
    return x;
  }
  clear(): void { this.#items = []; this.#head = 0; }
  *[Symbol.iterator](): Generator<T> { for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!; }
}

/**
 * The resumption window: the last `capacity` events, with their raw kernel messages, in preallocated typed
 * arrays and one byte ring. No JavaScript object per event survives here: a window of thousands of event
 * objects all living for seconds made every young-generation collection copy them (scavenges of 4-9 ms at
 * 10k events/s, the whole p99 of Watch latency). Events are rebuilt, decoding lazily, when a subscriber
 * resumes from a sequence number.
 */
class EventWindow {
  readonly #seq: Float64Array;       // sequence numbers (exact below 2^53)
  readonly #type: Int32Array;
  readonly #msgType: Int32Array;
  readonly #lost: Float64Array;
  readonly #time: Float64Array;
  readonly #off: Uint32Array;        // message bytes in #bytes (length 0: none)
  readonly #len: Uint32Array;
  readonly #entries: (EventEntry | null)[]; // entries given as objects, not as kernel bytes (rare)
  readonly #bytes: Buffer;
  #head = 0;                          // slot of the oldest event
  #count = 0;
  #wp = 0;                            // next write offset in #bytes

  constructor(readonly capacity: number, byteCapacity: number) {
    this.#seq = new Float64Array(capacity);
    this.#type = new Int32Array(capacity);
    this.#msgType = new Int32Array(capacity);
    this.#lost = new Float64Array(capacity);
    this.#time = new Float64Array(capacity);
    this.#off = new Uint32Array(capacity);
    this.#len = new Uint32Array(capacity);
    this.#entries = new Array<EventEntry | null>(capacity).fill(null);
    this.#bytes = Buffer.allocUnsafeSlow(Math.max(byteCapacity, 1));
  }

  get length(): number { return this.#count; }
  get oldestSequence(): bigint | undefined { return this.#count ? BigInt(this.#seq[this.#head]!) : undefined; }

  #dropOldest(): void {
    this.#entries[this.#head] = null;
    this.#head = (this.#head + 1) % this.capacity;
    this.#count--;
  }

  /** Whether the oldest event's bytes lie in [from, to) of the ring. */
  #oldestIn(from: number, to: number): boolean {
    const o = this.#off[this.#head]!, l = this.#len[this.#head]!;
    return l > 0 && o < to && o + l > from;
  }

  push(ev: HubEvent, raw: Uint8Array | null): void {
    if (this.capacity === 0) return;
    if (this.#count === this.capacity) this.#dropOldest();
    let off = 0;
    const len = raw && raw.length <= this.#bytes.length ? raw.length : 0;
    if (len > 0) {
      // Bytes are written in event order, wrapping once at the end: the space ahead of #wp holds the oldest.
      if (this.#wp + len > this.#bytes.length) {
        while (this.#count > 0 && this.#oldestIn(this.#wp, this.#bytes.length)) this.#dropOldest();
        this.#wp = 0;
      }
      while (this.#count > 0 && this.#oldestIn(this.#wp, this.#wp + len)) this.#dropOldest();
      off = this.#wp;
      this.#bytes.set(raw!, off);
      this.#wp += len;
    }
    const i = (this.#head + this.#count) % this.capacity;
    this.#seq[i] = Number(ev.sequence);
    this.#type[i] = ev.type;
    this.#msgType[i] = ev.messageType;
    this.#lost[i] = Number(ev.lost);
    this.#time[i] = ev.timeMs;
    this.#off[i] = off;
    this.#len[i] = len;
    this.#entries[i] = ev.entry instanceof LazyEntry || len > 0 ? null : ev.entry;
    this.#count++;
  }

  /** The events after `since`, oldest first, rebuilt (entries decoded when first needed). */
  *after(since: bigint): Generator<HubEvent> {
    const s = Number(since);
    for (let k = 0; k < this.#count; k++) {
      const i = (this.#head + k) % this.capacity;
      if (this.#seq[i]! <= s) continue;
      const len = this.#len[i]!;
      const entry = len > 0 && CARRIES_ENTRY.has(this.#msgType[i]!)
        ? new LazyEntry(Buffer.from(this.#bytes.subarray(this.#off[i]!, this.#off[i]! + len)))
        : this.#entries[i]!;
      yield {
        sequence: BigInt(this.#seq[i]!), type: this.#type[i]!, messageType: this.#msgType[i]!, entry,
        lost: BigInt(this.#lost[i]!), timeMs: this.#time[i]!, wire: undefined,
      };
    }
  }
}

class Subscription {
  readonly queue = new Fifo<HubEvent>();
  gapLost = 0n;
  hasGap = false;
  constructor(readonly sub: Subscriber, readonly limit: number) {}
}

export interface EventSource {
  start(onData: (datagrams: Buffer[]) => void, onError: (err: Error & { code?: string }) => void): void;
  close(): void;
}

export interface EventHubOptions {
  netns?: string;
  /** Per-subscriber queue bound (events). */
  queueLimit?: number;
  /** Events kept for resumption by sequence number. */
  window?: number;
  /** Bytes of kernel messages the window keeps (default: 1 KiB per event); the oldest go first when full. */
  windowBytes?: number;
  /** Kernel receive buffer of the subscription socket (bytes). */
  rcvbuf?: number;
  /** Injected event source (tests); default: an XFRM netlink socket joined to the groups. */
  source?: EventSource;
}

export class EventHub {
  #seq = 0n;
  readonly #window: EventWindow;
  readonly #queueLimit: number;
  readonly #subs = new Set<Subscription>();
  #source: EventSource | null = null;
  readonly #opts: EventHubOptions;
  events = 0n;
  gaps = 0n;
  kernelOverruns = 0;

  constructor(opts: EventHubOptions = {}) {
    this.#opts = opts;
    const window = opts.window ?? 4096;
    this.#window = new EventWindow(window, opts.windowBytes ?? window * 1024);
    this.#queueLimit = opts.queueLimit ?? 1024;
  }

  get lastSequence(): bigint { return this.#seq; }
  get subscribers(): number { return this.#subs.size; }

  /** Joins the kernel's XFRM multicast groups (in the agent's netns). */
  start(): void {
    if (this.#source) return;
    const src: EventSource = this.#opts.source ?? (openNetlinkXfrm({
      ...(this.#opts.netns ? { netns: this.#opts.netns } : {}),
      groups: [XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE, XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_AEVENTS, XFRMNLGRP_REPORT, XFRMNLGRP_MAPPING],
      rcvbuf: this.#opts.rcvbuf ?? 4 << 20,
    }) as RawSocket & EventSource);
    this.#source = src;
    src.start((d) => this.ingest(d), (e) => {
      // ENOBUFS: the kernel dropped events for us; how many is unknown.
      if (e.code === 'ENOBUFS') { this.kernelOverruns++; this.publish({ type: EventType.EVENT_TYPE_GAP, messageType: 0, entry: null, lost: 0n }); }
    });
  }

  close(): void {
    this.#source?.close();
    this.#source = null;
    for (const s of this.#subs) s.sub.onReady();
    this.#subs.clear();
  }

  /** Decodes kernel datagrams into events. Synchronous, so the shared wasm record region is restored before anyone else runs. */
  ingest(datagrams: Buffer[]): void {
    for (const d of datagrams) {
      for (const msg of splitMessages(d)) {
        if (msg.type < 16) continue; // NOOP/ERROR/DONE
        // A copy: the datagram's buffer is not kept alive by the window.
        const entry = CARRIES_ENTRY.has(msg.type) ? new LazyEntry(Buffer.from(msg.bytes)) : null;
        this.publish({ type: EVENT_OF_MSG[msg.type] ?? EventType.EVENT_TYPE_OTHER, messageType: msg.type, entry, lost: 0n }, msg.bytes);
      }
    }
  }

  /**
   * Gives the event the next sequence number, keeps it in the window (with `raw`, the kernel message it came
   * from, which a resumed subscriber's copy is decoded from) and queues it for every subscriber.
   */
  publish(e: Omit<HubEvent, 'sequence' | 'timeMs'>, raw: Uint8Array | null = null): HubEvent {
    // Built field by field (not spread): one object shape for every event keeps the hot path monomorphic.
    const ev: HubEvent = { sequence: ++this.#seq, type: e.type, messageType: e.messageType, entry: e.entry, lost: e.lost, timeMs: Date.now(), wire: undefined };
    this.events++;
    if (ev.type === EventType.EVENT_TYPE_GAP) this.gaps++;
    this.#window.push(ev, raw);
    for (const s of this.#subs) this.#offer(s, ev);
    return ev;
  }

  #offer(s: Subscription, ev: HubEvent): void {
    if (ev.type !== EventType.EVENT_TYPE_GAP && s.sub.types && !s.sub.types.has(ev.type)) return;
    if (ev.type !== EventType.EVENT_TYPE_GAP && s.sub.filter && !s.sub.filter(entryOfEvent(ev))) return;
    const wasEmpty = s.queue.length === 0 && !s.hasGap;
    if (s.queue.length >= s.limit) {
      // Overflow: drop what is queued and tell the subscriber how much it lost.
      s.gapLost += BigInt(s.queue.length) + 1n;
      s.queue.clear();
      s.hasGap = true;
      this.gaps++;
    } else {
      s.queue.push(ev);
    }
    if (wasEmpty) s.sub.onReady();
  }

  /**
   * Subscribes; events after `since` still in the window are queued at once (resumption). When `since`
   * is older than the window, a GAP comes first. Returns the handle for take()/unsubscribe().
   */
  subscribe(sub: Subscriber, since = 0n): Subscription {
    const s = new Subscription(sub, this.#queueLimit);
    if (since > 0n && since < this.#seq) {
      const oldest = this.#window.oldestSequence ?? this.#seq + 1n;
      if (since + 1n < oldest) { s.hasGap = true; s.gapLost = oldest - since - 1n; }
      for (const ev of this.#window.after(since)) this.#offer(s, ev);
    }
    this.#subs.add(s);
    return s;
  }

  unsubscribe(s: Subscription): void {
    this.#subs.delete(s);
  }

  /** Next event for this subscriber: a pending GAP first (sequence = the last one it missed), then its queue. */
  take(s: Subscription): HubEvent | undefined {
    if (s.hasGap) {
      s.hasGap = false;
      const lost = s.gapLost;
      s.gapLost = 0n;
      const next = s.queue.peek()?.sequence ?? this.#seq + 1n;
      return { sequence: next - 1n, type: EventType.EVENT_TYPE_GAP, messageType: 0, entry: null, lost, timeMs: Date.now() };
    }
    return s.queue.shift();
  }

  isActive(s: Subscription): boolean {
    return this.#subs.has(s);
  }
}

export type { Subscription };
