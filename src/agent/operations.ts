// src/agent/operations.ts — structured keyfleet.v1 operations → records (layer: agent). Owns the one mapping
// from the proto messages (SecurityAssociation, Policy, SaId, PolicyId, flushes) onto the record IR, written
// with writeRecord, so structured batches go through the same XFRM encoder as setkey and ip text (no second
// codec). Validation names the offending field (`operations[3].add_sa.dst`) for INVALID_ARGUMENT.
import { status } from '@grpc/grpc-js';
import * as L from '../../asm/shared/layout.js';
import { writeRecord, parseAddress, type XfrmRecordInput, type XfrmSelector, type XfrmTemplate } from '../wasm/records.js';
import {
  IpsecProtocol, Mode, Direction, PolicyAction, EntryKind,
  type Operation, type SecurityAssociation, type Policy, type SaId, type PolicyId, type Selector, type Algorithm,
  type Lifetime, type Mark, type AllocSpiRequest,
} from '../gen/keyfleet/v1/agent.pb.js';
import { RpcError } from './auth.js';

const XFRM_INF = 0xffffffffffffffffn;

/** IpsecProtocol → IPPROTO_* (linux/in.h). `any` is the value for UNSPECIFIED. */
export function protoNumber(p: IpsecProtocol, any: number, field: string): number {
  switch (p) {
    case IpsecProtocol.IPSEC_PROTOCOL_UNSPECIFIED: return any;
    case IpsecProtocol.IPSEC_PROTOCOL_ESP: return 50;
    case IpsecProtocol.IPSEC_PROTOCOL_AH: return 51;
    case IpsecProtocol.IPSEC_PROTOCOL_COMP: return 108;
    default: throw bad(field, `unknown protocol ${p as number}`);
  }
}

function modeNumber(m: Mode, field: string): number {
  switch (m) {
    case Mode.MODE_UNSPECIFIED: case Mode.MODE_TRANSPORT: return 0;
    case Mode.MODE_TUNNEL: return 1;
    case Mode.MODE_BEET: return 4;
    default: throw bad(field, `unknown mode ${m as number}`);
  }
}

function dirNumber(d: Direction, field: string): number {
  switch (d) {
    case Direction.DIRECTION_IN: return 0;
    case Direction.DIRECTION_OUT: return 1;
    case Direction.DIRECTION_FWD: return 2;
    default: throw bad(field, d === Direction.DIRECTION_UNSPECIFIED ? 'required (DIRECTION_IN, DIRECTION_OUT or DIRECTION_FWD)' : `unknown direction ${d as number}`);
  }
}

/** Direction filter value → XFRM_POLICY_* or -1 (any). */
export function dirFilter(d: Direction, field: string): number {
  return d === Direction.DIRECTION_UNSPECIFIED ? -1 : dirNumber(d, field);
}

function bad(field: string, what: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, `${field}: ${what}`);
}

function address(text: string, field: string): { text: string; family: number } {
  try {
    return { text, family: parseAddress(text).family };
  } catch {
    throw bad(field, `'${text.slice(0, 64)}' is not an IPv4 or IPv6 address`);
  }
}

function optAddress(text: string, field: string): string {
  return text === '' ? '' : address(text, field).text;
}

/** "10.0.0.0/24" or "10.0.0.1" (a full-length prefix). */
function prefix(text: string, field: string): { addr: string; len: number; family: number } {
  const slash = text.indexOf('/');
  const a = address(slash < 0 ? text : text.slice(0, slash), field);
  const max = a.family === L.AF_INET6 ? 128 : 32;
  if (slash < 0) return { addr: a.text, len: max, family: a.family };
  const lenText = text.slice(slash + 1);
  const len = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || len > max) throw bad(field, `prefix length '${lenText.slice(0, 8)}' is not 0..${max}`);
  return { addr: a.text, len, family: a.family };
}

function port(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw bad(field, `port ${v} is not 0..65535`);
  return v;
}

/** A selector; `need` makes empty addresses an error (policies). `fallbackFamily` fills an empty side. */
function selector(s: Selector | undefined, field: string, need: boolean, fallbackFamily = 0): Partial<XfrmSelector> {
  const src = s?.src ?? '', dst = s?.dst ?? '';
  if (need && src === '' && dst === '') throw bad(`${field}.src`, 'required: an address or prefix (e.g. 10.0.0.0/24)');
  const sp = src ? prefix(src, `${field}.src`) : null;
  const dp = dst ? prefix(dst, `${field}.dst`) : null;
  const family = sp?.family ?? dp?.family ?? fallbackFamily;
  if (sp && dp && sp.family !== dp.family) throw bad(`${field}.dst`, 'address family differs from src');
  const zero = family === L.AF_INET6 ? '::' : family === L.AF_INET ? '0.0.0.0' : '';
  const proto = s?.proto ?? 0;
  if (proto > 255) throw bad(`${field}.proto`, `protocol ${proto} is not 0..255`);
  const sport = port(s?.sport ?? 0, `${field}.sport`), dport = port(s?.dport ?? 0, `${field}.dport`);
  return {
    ...(family ? { family } : {}),
    saddr: sp?.addr ?? zero, daddr: dp?.addr ?? zero, prefixlenS: sp?.len ?? 0, prefixlenD: dp?.len ?? 0, proto,
    sport, sportMask: sport ? 0xffff : 0, dport, dportMask: dport ? 0xffff : 0,
  };
}

function lifetime(l: Lifetime | undefined): XfrmRecordInput['lft'] {
  const inf = (v: bigint | undefined): bigint => (v ? v : XFRM_INF);
  return {
    softByte: inf(l?.softBytes), hardByte: inf(l?.hardBytes), softPacket: inf(l?.softPackets), hardPacket: inf(l?.hardPackets),
    softAdd: l?.softAddSeconds ?? 0n, hardAdd: l?.hardAddSeconds ?? 0n, softUse: l?.softUseSeconds ?? 0n, hardUse: l?.hardUseSeconds ?? 0n,
  };
}

function alg(a: Algorithm | undefined, field: string): { name: string; key: Buffer; bits: number; param: number } | null {
  if (!a) return null;
  if (!/^[\w().,-]{1,63}$/.test(a.name)) throw bad(`${field}.name`, `expected a kernel algorithm name such as "cbc(aes)", not '${a.name.slice(0, 64)}'`);
  const key = Buffer.from(a.key);
  if (key.length > 512) throw bad(`${field}.key`, `${key.length} bytes is longer than any kernel algorithm's key`);
  return { name: a.name, key, bits: key.length * 8, param: a.icvBits };
}

function mark(m: Mark | undefined): { value: number; mask: number } | null {
  return m && (m.value || m.mask) ? { value: m.value >>> 0, mask: m.mask >>> 0 } : null;
}

function saRecord(sa: SecurityAssociation, kind: number, field: string): XfrmRecordInput {
  const dst = address(sa.dst, `${field}.dst`);
  const src = sa.src ? address(sa.src, `${field}.src`) : null;
  if (src && src.family !== dst.family) throw bad(`${field}.src`, 'address family differs from dst');
  if (sa.spi === 0) throw bad(`${field}.spi`, 'required (a non-zero SPI; AllocSpi picks one)');
  if (sa.replayWindow > 255) throw bad(`${field}.replay_window`, `${sa.replayWindow} > 255 needs ESN; use ip text (replay-window with flag esn)`);
  if (sa.flags > 255) throw bad(`${field}.flags`, `${sa.flags} is not an 8-bit XFRM_STATE_* mask`);
  const auth = alg(sa.auth, `${field}.auth`), enc = alg(sa.enc, `${field}.enc`), aead = alg(sa.aead, `${field}.aead`), comp = alg(sa.comp, `${field}.comp`);
  if (aead && (auth || enc)) throw bad(`${field}.aead`, 'an AEAD algorithm excludes auth and enc');
  if (aead && !aead.param) throw bad(`${field}.aead.icv_bits`, 'required for AEAD (e.g. 128)');
  const proto = protoNumber(sa.protocol, 50, `${field}.protocol`);
  if (proto === 108 && !comp) throw bad(`${field}.comp`, 'required for IPSEC_PROTOCOL_COMP (e.g. name "deflate")');
  if (proto !== 108 && !auth && !enc && !aead) throw bad(`${field}.enc`, 'an SA needs auth, enc or aead');
  const m = mark(sa.mark);
  return {
    kind, family: dst.family, daddr: dst.text, saddr: src?.text ?? (dst.family === L.AF_INET6 ? '::' : '0.0.0.0'), spi: sa.spi >>> 0, proto,
    mode: modeNumber(sa.mode, `${field}.mode`), reqid: sa.reqid >>> 0, replay: sa.replayWindow, saFlags: sa.flags,
    sel: sa.selector ? selector(sa.selector, `${field}.selector`, false, dst.family) : {}, lft: lifetime(sa.lifetime),
    ...(auth ? { auth } : {}), ...(enc ? { enc } : {}), ...(aead ? { aead } : {}), ...(comp ? { comp: { ...comp, param: 0 } } : {}),
    ...(m ? { mark: m } : {}), ...(sa.ifId ? { ifId: sa.ifId } : {}),
    ...(sa.encap ? { encap: { type: sa.encap.type, sport: port(sa.encap.sport, `${field}.encap.sport`), dport: port(sa.encap.dport, `${field}.encap.dport`), oa: optAddress(sa.encap.oa, `${field}.encap.oa`) || (dst.family === L.AF_INET6 ? '::' : '0.0.0.0') } } : {}),
  };
}

function policyRecord(p: Policy, kind: number, field: string): XfrmRecordInput {
  const sel = selector(p.selector, `${field}.selector`, true);
  if (p.action !== PolicyAction.POLICY_ACTION_UNSPECIFIED && p.action !== PolicyAction.POLICY_ACTION_ALLOW && p.action !== PolicyAction.POLICY_ACTION_BLOCK) throw bad(`${field}.action`, `unknown action ${p.action as number}`);
  const templates: Partial<XfrmTemplate>[] = p.templates.map((t, i) => {
    const f = `${field}.templates[${i}]`;
    const ts = optAddress(t.src, `${f}.src`), td = optAddress(t.dst, `${f}.dst`);
    const fam = ts ? parseAddress(ts).family : td ? parseAddress(td).family : sel.family ?? L.AF_INET;
    const zero = fam === L.AF_INET6 ? '::' : '0.0.0.0';
    return {
      proto: protoNumber(t.protocol, 50, `${f}.protocol`), mode: modeNumber(t.mode, `${f}.mode`), saddr: ts || zero, daddr: td || zero,
      family: fam, spi: t.spi >>> 0, reqid: t.reqid >>> 0, optional: t.optional ? 1 : 0,
    };
  });
  if (templates.length > 6) throw bad(`${field}.templates`, `${templates.length} templates; the kernel takes at most 6 (XFRM_MAX_DEPTH)`);
  const m = mark(p.mark);
  return {
    kind, family: sel.family ?? L.AF_INET, sel, dir: dirNumber(p.dir, `${field}.dir`), action: p.action === PolicyAction.POLICY_ACTION_BLOCK ? 1 : 0,
    priority: p.priority >>> 0, index: p.index >>> 0, templates, lft: lifetime(p.lifetime),
    ...(m ? { mark: m } : {}), ...(p.ifId ? { ifId: p.ifId } : {}),
  };
}

export function saIdRecord(id: SaId, kind: number, field: string): XfrmRecordInput {
  const dst = address(id.dst, `${field}.dst`);
  if (id.spi === 0) throw bad(`${field}.spi`, 'required');
  const m = mark(id.mark);
  return {
    kind, family: dst.family, daddr: dst.text, saddr: id.src ? address(id.src, `${field}.src`).text : (dst.family === L.AF_INET6 ? '::' : '0.0.0.0'),
    spi: id.spi >>> 0, proto: protoNumber(id.protocol, 50, `${field}.protocol`), ...(m ? { mark: m } : {}),
  };
}

export function policyIdRecord(id: PolicyId, kind: number, field: string): XfrmRecordInput {
  if (id.index) {
    const d = id.dir === Direction.DIRECTION_UNSPECIFIED ? 0 : dirNumber(id.dir, `${field}.dir`);
    return { kind, family: L.AF_INET, index: id.index >>> 0, dir: d };
  }
  const sel = selector(id.selector, `${field}.selector`, true);
  const m = mark(id.mark);
  return { kind, family: sel.family ?? L.AF_INET, sel, dir: dirNumber(id.dir, `${field}.dir`), ...(m ? { mark: m } : {}) };
}

/** The record for one operation (validated; nothing written). */
export function operationRecord(op: Operation, field: string): XfrmRecordInput {
  if (op.addSa) return saRecord(op.addSa, L.OP_SA_ADD, `${field}.add_sa`);
  if (op.updateSa) return saRecord(op.updateSa, L.OP_SA_UPDATE, `${field}.update_sa`);
  if (op.deleteSa) return saIdRecord(op.deleteSa, L.OP_SA_DELETE, `${field}.delete_sa`);
  if (op.addPolicy) return policyRecord(op.addPolicy, L.OP_SP_ADD, `${field}.add_policy`);
  if (op.updatePolicy) return policyRecord(op.updatePolicy, L.OP_SP_UPDATE, `${field}.update_policy`);
  if (op.deletePolicy) return policyIdRecord(op.deletePolicy, L.OP_SP_DELETE, `${field}.delete_policy`);
  if (op.flushSas) return { kind: L.OP_SA_FLUSH, proto: protoNumber(op.flushSas.protocol, 255, `${field}.flush_sas.protocol`) };
  if (op.flushPolicies) return { kind: L.OP_SP_FLUSH };
  throw bad(field, 'empty: set one of add_sa, update_sa, delete_sa, add_policy, update_policy, delete_policy, flush_sas, flush_policies');
}

/**
 * Validates every operation first (so a bad one applies nothing), then appends their records; R_STMT is the
 * operation's index in the batch (`indexBase` + i), R_LINE 0. Returns the record range.
 */
export function writeOperations(ops: readonly Operation[], indexBase = 0, field = 'operations'): { first: number; end: number } {
  const inputs = ops.map((op, i) => operationRecord(op, `${field}[${indexBase + i}]`));
  let first = -1, end = -1;
  inputs.forEach((r, i) => {
    const idx = writeRecord({ ...r, line: 0, stmt: indexBase + i });
    if (first < 0) first = idx;
    end = idx + 1;
  });
  return first < 0 ? { first: 0, end: 0 } : { first, end };
}

/** The ALLOCSPI request record (R_SPI_MIN/MAX host order). */
export function allocSpiRecord(r: AllocSpiRequest): XfrmRecordInput {
  const dst = address(r.dst, 'dst');
  const src = r.src ? address(r.src, 'src') : null;
  if (src && src.family !== dst.family) throw bad('src', 'address family differs from dst');
  if ((r.min || r.max) && (r.min === 0 || r.max < r.min)) throw bad('max', `range ${r.min}..${r.max} is empty (min must be ≥ 1 and ≤ max)`);
  const proto = protoNumber(r.protocol, 50, 'protocol');
  if (proto === 108 && r.max > 0xffff) throw bad('max', 'IPComp CPIs are 16-bit');
  const m = mark(r.mark);
  return {
    kind: L.OP_SA_ALLOCSPI, family: dst.family, daddr: dst.text, saddr: src?.text ?? (dst.family === L.AF_INET6 ? '::' : '0.0.0.0'), proto,
    mode: modeNumber(r.mode, 'mode'), reqid: r.reqid >>> 0, spiMin: r.min >>> 0, spiMax: r.max >>> 0, ...(m ? { mark: m } : {}),
  };
}

/** Which tables an EntryKind scope covers. */
export function scopeOf(k: EntryKind, field: string): { sa: boolean; policy: boolean } {
  if (k === EntryKind.ENTRY_KIND_UNSPECIFIED) return { sa: true, policy: true };
  if (k === EntryKind.ENTRY_KIND_SA) return { sa: true, policy: false };
  if (k === EntryKind.ENTRY_KIND_POLICY) return { sa: false, policy: true };
  throw bad(field, `unknown value ${k as number}`);
}
