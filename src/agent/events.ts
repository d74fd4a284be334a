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
import { EventType } from '../gen/keyfleet/v1/agent.pb.js';

/** XFRM_MSG_* (linux/xfrm.h) → event type. */
export const EVENT_OF_MSG: Readonly<Record<number, EventType>> = {
  16: EventType.EVENT_TYPE_NEW_SA, 26: EventType.EVENT_TYPE_UPDATE_SA, 17: EventType.EVENT_TYPE_DELETE_SA,
  19: EventType.EVENT_TYPE_NEW_POLICY, 25: EventType.EVENT_TYPE_UPDATE_POLICY, 20: EventType.EVENT_TYPE_DELETE_POLICY,
  23: EventType.EVENT_TYPE_ACQUIRE, 24: EventType.EVENT_TYPE_EXPIRE, 27: EventType.EVENT_TYPE_POLICY_EXPIRE,
  28: EventType.EVENT_TYPE_FLUSH_SA, 29: EventType.EVENT_TYPE_FLUSH_POLICY, 30: EventType.EVENT_TYPE_AEVENT,
  32: EventType.EVENT_TYPE_REPORT, 38: EventType.EVENT_TYPE_MAPPING,
};

/** Message types whose record is an SA or a policy worth showing as an Entry. */
const CARRIES_ENTRY = new Set([16, 17, 19, 20, 23, 24, 25, 26, 27]);

export interface HubEvent {
  sequence: bigint;
  type: EventType;
  messageType: number;
  record: XfrmRecord | null;
  /** GAP: events lost (0 = unknown). */
  lost: bigint;
  timeMs: number;
}

export interface Subscriber {
  /** Called when the queue goes from empty to non-empty (the consumer then drains with take()). */
  onReady: () => void;
  types: ReadonlySet<EventType> | null;
  /** Further filter on the event's entry (GAP events always pass). */
  filter?: (record: XfrmRecord | null) => boolean;
}

class Subscription {
  readonly queue: HubEvent[] = [];
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
  /** Kernel receive buffer of the subscription socket (bytes). */
  rcvbuf?: number;
  /** Injected event source (tests); default: an XFRM netlink socket joined to the groups. */
  source?: EventSource;
}

export class EventHub {
  #seq = 0n;
  readonly #window: HubEvent[] = [];
  readonly #windowSize: number;
  readonly #queueLimit: number;
  readonly #subs = new Set<Subscription>();
  #source: EventSource | null = null;
  readonly #opts: EventHubOptions;
  events = 0n;
  gaps = 0n;
  kernelOverruns = 0;

  constructor(opts: EventHubOptions = {}) {
    this.#opts = opts;
    this.#windowSize = opts.window ?? 4096;
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
      if (e.code === 'ENOBUFS') { this.kernelOverruns++; this.publish({ type: EventType.EVENT_TYPE_GAP, messageType: 0, record: null, lost: 0n }); }
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
        let record: XfrmRecord | null = null;
        if (CARRIES_ENTRY.has(msg.type)) {
          const mark = markRecords();
          try {
            const r = decodeXfrm(msg.bytes, { append: true });
            if (r.records > 0) record = readRecord(mark.records);
          } catch {
            record = null; // an undecodable message still becomes an event, without an entry
          } finally {
            restoreRecords(mark);
          }
        }
        this.publish({ type: EVENT_OF_MSG[msg.type] ?? EventType.EVENT_TYPE_OTHER, messageType: msg.type, record, lost: 0n });
      }
    }
  }

  /** Gives the event the next sequence number, keeps it in the window and queues it for every subscriber. */
  publish(e: Omit<HubEvent, 'sequence' | 'timeMs'>): HubEvent {
    const ev: HubEvent = { ...e, sequence: ++this.#seq, timeMs: Date.now() };
    this.events++;
    if (ev.type === EventType.EVENT_TYPE_GAP) this.gaps++;
    this.#window.push(ev);
    if (this.#window.length > this.#windowSize) this.#window.splice(0, this.#window.length - this.#windowSize);
    for (const s of this.#subs) this.#offer(s, ev);
    return ev;
  }

  #offer(s: Subscription, ev: HubEvent): void {
    if (ev.type !== EventType.EVENT_TYPE_GAP && s.sub.types && !s.sub.types.has(ev.type)) return;
    if (ev.type !== EventType.EVENT_TYPE_GAP && s.sub.filter && !s.sub.filter(ev.record)) return;
    const wasEmpty = s.queue.length === 0 && !s.hasGap;
    if (s.queue.length >= s.limit) {
      // Overflow: drop what is queued and tell the subscriber how much it lost.
      s.gapLost += BigInt(s.queue.length) + 1n;
      s.queue.length = 0;
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
      const oldest = this.#window[0]?.sequence ?? this.#seq + 1n;
      if (since + 1n < oldest) { s.hasGap = true; s.gapLost = oldest - since - 1n; }
      for (const ev of this.#window) if (ev.sequence > since) this.#offer(s, ev);
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
      const next = s.queue[0]?.sequence ?? this.#seq + 1n;
      return { sequence: next - 1n, type: EventType.EVENT_TYPE_GAP, messageType: 0, record: null, lost, timeMs: Date.now() };
    }
    return s.queue.shift();
  }

  isActive(s: Subscription): boolean {
    return this.#subs.has(s);
  }
}

export type { Subscription };
