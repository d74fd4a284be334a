// src/agent/entries.ts — records → keyfleet.v1.Entry messages (layer: agent). Owns the summary fields and
// the JSON document (src/engine/json.ts's schema); key bytes only when the caller may see them.
import type { XfrmRecord } from '../wasm/records.js';
import { recordToJson, reportToJson } from '../engine/json.js';
import { EntryKind, type Entry } from '../gen/keyfleet/v1/agent.pb.js';

const MODES = ['transport', 'tunnel', 'ro', 'in_trigger', 'beet'];
const DIRS = ['in', 'out', 'fwd'];
const PROTOS: Record<number, string> = { 50: 'esp', 51: 'ah', 108: 'comp', 43: 'route2', 60: 'hao', 255: 'ipsec-any' };

/** Policies have record kinds 16 and up (asm/shared/layout.ts OP_SP_*). */
export function isPolicyRecord(r: XfrmRecord): boolean {
  return r.kind >= 16;
}

/**
 * XFRM_MSG_MAPPING (struct xfrm_user_mapping, linux/xfrm.h): the inbound ESP-in-UDP SA (dst, SPI, reqid) whose peer
 * now sends from another address or port (src/wasm/records.ts puts them in `encap`). src = the old peer address;
 * json = {dst, proto, spi, reqid, old: {address, port}, new: {address, port}}. The message carries no keys.
 */
export function mappingEntryOf(r: XfrmRecord): Entry {
  const proto = PROTOS[r.proto] ?? String(r.proto);
  const json = JSON.stringify({
    dst: r.daddr, proto, spi: r.spi >>> 0, reqid: r.reqid,
    old: { address: r.saddr, port: r.encap?.sport ?? 0 }, new: { address: r.encap?.oa ?? '', port: r.encap?.dport ?? 0 },
  });
  return { kind: EntryKind.ENTRY_KIND_SA, src: r.saddr, dst: r.daddr, proto, spi: r.spi >>> 0, reqid: r.reqid, mode: '', dir: '', priority: 0, index: 0, json };
}

/**
 * XFRM_MSG_REPORT (struct xfrm_user_report + XFRMA_COADDR): neither an SA nor a policy, so kind is unspecified;
 * src/dst = the rejected packet's selector, proto = the reporting transform (hao, route2), json = src/engine/json.ts
 * reportToJson ({proto, selector, coa}). No key material.
 */
export function reportEntryOf(r: XfrmRecord): Entry {
  const json = JSON.stringify(reportToJson(r));
  return {
    kind: EntryKind.ENTRY_KIND_UNSPECIFIED, src: `${r.sel.saddr}/${r.sel.prefixlenS}`, dst: `${r.sel.daddr}/${r.sel.prefixlenD}`,
    proto: PROTOS[r.proto] ?? String(r.proto), spi: 0, reqid: 0, mode: '', dir: '', priority: 0, index: 0, json,
  };
}

export function entryOf(r: XfrmRecord, showKeys: boolean): Entry {
  const json = JSON.stringify(recordToJson(r, { showKeys }));
  if (isPolicyRecord(r)) {
    return {
      kind: EntryKind.ENTRY_KIND_POLICY, src: `${r.sel.saddr}/${r.sel.prefixlenS}`, dst: `${r.sel.daddr}/${r.sel.prefixlenD}`,
      proto: r.templates[0] ? PROTOS[r.templates[0].proto] ?? String(r.templates[0].proto) : '', spi: 0,
      reqid: r.templates[0]?.reqid ?? 0, mode: r.templates[0] ? MODES[r.templates[0].mode] ?? '' : '',
      dir: DIRS[r.dir] ?? String(r.dir), priority: r.priority, index: r.index, json,
    };
  }
  return {
    kind: EntryKind.ENTRY_KIND_SA, src: r.saddr, dst: r.daddr, proto: PROTOS[r.proto] ?? String(r.proto), spi: r.spi >>> 0,
    reqid: r.reqid, mode: MODES[r.mode] ?? String(r.mode), dir: '', priority: 0, index: 0, json,
  };
}
