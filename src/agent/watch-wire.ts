// src/agent/watch-wire.ts — the wire form of Watch responses (layer: agent). Owns the conversion of hub events
// to keyfleet.v1.WatchEvent, each event's encoding (made once per redaction mode and cached on the event, so a
// fan-out to N subscribers costs one encoding, not N), the WatchResponse framing of pre-encoded events, and the
// AgentService definition whose Watch serializer passes those bytes through.
import { AgentServiceService, WatchEvent, WatchResponse } from '../gen/keyfleet/v1/agent.pb.js';
import { entryOfEvent, type HubEvent } from './events.js';

export function toWatch(ev: HubEvent, showKeys: boolean): WatchEvent {
  const e = entryOfEvent(ev);
  return {
    sequence: ev.sequence, type: ev.type, messageType: ev.messageType, lost: ev.lost, timeUnixMs: BigInt(ev.timeMs), hard: e?.hard ?? false,
    ...(e ? { entry: showKeys ? e.withKeys : e.redacted } : {}),
  };
}

/** The event's WatchEvent bytes for a caller with (1) or without (0) the keys role; encoded on first use. */
export function encodedEvent(ev: HubEvent, showKeys: boolean): Uint8Array {
  const slot = showKeys ? 1 : 0;
  const cache = (ev.wire ??= [null, null]);
  let bytes = cache[slot];
  if (!bytes) {
    bytes = WatchEvent.encode(toWatch(ev, showKeys)).finish();
    cache[slot] = bytes;
    // Without key material both modes are the same message.
    const e = entryOfEvent(ev);
    if (!e || e.withKeys === e.redacted) cache[1 - slot] = bytes;
  }
  return bytes;
}

/** WatchResponse.events is field 1, length-delimited (tag (1 << 3) | 2); see proto/keyfleet/v1/agent.proto. */
const EVENTS_TAG = 0x0a;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) { n >>>= 7; len++; }
  return len;
}

/** A serialized WatchResponse made of already encoded WatchEvents (byte-identical to WatchResponse.encode). */
export function frameWatchResponse(events: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const e of events) total += 1 + varintLength(e.length) + e.length;
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  for (const e of events) {
    out[o++] = EVENTS_TAG;
    let n = e.length;
    while (n >= 0x80) { out[o++] = (n & 0x7f) | 0x80; n >>>= 7; }
    out[o++] = n;
    out.set(e, o);
    o += e.length;
  }
  return out;
}

/** AgentService as served: Watch handlers write frameWatchResponse() bytes, which go out unchanged. */
export const AGENT_SERVICE_DEFINITION = {
  ...AgentServiceService,
  watch: {
    ...AgentServiceService.watch,
    responseSerialize: (value: Buffer | WatchResponse): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(WatchResponse.encode(value).finish())),
  },
};
