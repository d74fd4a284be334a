// src/engine/json.ts — the JSON schema of SAs and policies (layer: engine). Owns the one mapping from
// records to the documented JSON objects printed by --json and served by the agent; key bytes appear
// only when the caller asked for them (showKeys), otherwise as "redacted".
import type { XfrmRecord } from '../wasm/records.js';

export interface JsonOptions { showKeys: boolean }

const MODES = ['transport', 'tunnel', 'ro', 'in_trigger', 'beet'];
const DIRS = ['in', 'out', 'fwd'];
const PROTOS: Record<number, string> = { 50: 'esp', 51: 'ah', 108: 'comp', 43: 'route2', 60: 'hao', 255: 'ipsec-any' };

function key(k: Buffer | undefined, show: boolean): string | undefined {
  if (!k || k.length === 0) return undefined;
  return show ? `0x${k.toString('hex')}` : 'redacted';
}

function inf(v: bigint): string | null {
  return v === 0xffffffffffffffffn ? null : v.toString();
}

function selectorToJson(s: XfrmRecord['sel']): Record<string, unknown> {
  return { src: `${s.saddr}/${s.prefixlenS}`, dst: `${s.daddr}/${s.prefixlenD}`, proto: s.proto, sport: s.sport, dport: s.dport, ifindex: s.ifindex };
}

function templateToJson(t: XfrmRecord['templates'][number]): Record<string, unknown> {
  return {
    proto: PROTOS[t.proto] ?? t.proto, mode: MODES[t.mode] ?? t.mode, src: t.saddr, dst: t.daddr, spi: t.spi,
    reqid: t.reqid, level: t.optional ? 'use' : 'required',
  };
}

/**
 * An XFRM_MSG_ACQUIRE record (struct xfrm_user_acquire, linux/xfrm.h): the SA the kernel asks for (proto, src,
 * dst, spi), the packet's selector, acquire seq and the triggering policy's dir/priority/index/templates (the
 * policy itself can be read with `policy get index N dir D`).
 */
export function acquireToJson(r: XfrmRecord): Record<string, unknown> {
  return {
    proto: PROTOS[r.proto] ?? r.proto, src: r.saddr, dst: r.daddr, spi: r.spi, seq: r.seq, selector: selectorToJson(r.sel),
    policy: { dir: DIRS[r.dir] ?? r.dir, priority: r.priority, index: r.index, templates: r.templates.map(templateToJson) },
  };
}

/**
 * An XFRM_MSG_REPORT record (struct xfrm_user_report + XFRMA_COADDR, linux/xfrm.h): the transform that rejected a
 * packet (proto: e.g. hao for Mobile IPv6's destination option, net/ipv6/mip6.c), the packet's selector and the
 * care-of address the report names (null when the kernel sent none).
 */
export function reportToJson(r: XfrmRecord): Record<string, unknown> {
  return { proto: PROTOS[r.proto] ?? r.proto, selector: selectorToJson(r.sel), coa: r.coa };
}

/** A JSON-ready object for one SA or policy record (schema version 1). */
export function recordToJson(r: XfrmRecord, o: JsonOptions): Record<string, unknown> {
  const isPolicy = r.kind >= 16;
  const alg = (a: XfrmRecord['auth']) => (a ? { name: a.name, keyBits: a.bits, key: key(a.key, o.showKeys), ...(a.param ? { param: a.param } : {}) } : undefined);
  const sel = selectorToJson(r.sel);
  const lft = {
    softBytes: inf(r.lft.softByte), hardBytes: inf(r.lft.hardByte), softPackets: inf(r.lft.softPacket),
    hardPackets: inf(r.lft.hardPacket), softAddSeconds: inf(r.lft.softAdd), hardAddSeconds: inf(r.lft.hardAdd),
    softUseSeconds: inf(r.lft.softUse), hardUseSeconds: inf(r.lft.hardUse),
  };
  if (isPolicy) {
    return {
      selector: sel, dir: DIRS[r.dir] ?? r.dir, action: r.action === 1 ? 'block' : 'allow', priority: r.priority,
      index: r.index, ...(r.mark ? { mark: r.mark } : {}), ...(r.ifId ? { ifId: r.ifId } : {}), lifetime: lft,
      templates: r.templates.map(templateToJson),
    };
  }
  return {
    src: r.saddr, dst: r.daddr, proto: PROTOS[r.proto] ?? r.proto, spi: r.spi, mode: MODES[r.mode] ?? r.mode,
    reqid: r.reqid, replayWindow: r.replay, flags: r.saFlags, selector: sel,
    ...(r.auth ? { auth: alg(r.auth) } : {}), ...(r.enc ? { enc: alg(r.enc) } : {}), ...(r.aead ? { aead: alg(r.aead) } : {}),
    ...(r.comp ? { comp: { name: r.comp.name } } : {}),
    ...(r.encap ? { encap: r.encap } : {}), ...(r.coa ? { coa: r.coa } : {}), ...(r.mark ? { mark: r.mark } : {}), ...(r.ifId ? { ifId: r.ifId } : {}),
    lifetime: lft,
    current: { bytes: r.cur.bytes.toString(), packets: r.cur.packets.toString(), addTime: Number(r.cur.addTime), useTime: Number(r.cur.useTime) },
  };
}
