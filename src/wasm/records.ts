// src/wasm/records.ts — typed access to the record IR from TypeScript (layer: asm bindings).
// Owns: XfrmRecord (the plain-object view of one REC_SIZE-byte record of REGION_RECORDS plus the REGION_BLOB data
// it references), readRecord/recordCount (wasm → object) and writeRecord (object → appended record + blob).
// Layout: asm/shared/layout.ts. Not for hot paths: bulk text/bytes never go through objects (DESIGN.md §1).
import * as L from '../../asm/shared/layout.js';
import { wasm, type Wasm } from './index.js';
import { XFRM_MSG_MAPPING } from '../../asm/shared/xfrm.js';

/** XFRM_INF (linux/xfrm.h): "no limit" in struct xfrm_lifetime_cfg. */
export const XFRM_INF = 0xffffffffffffffffn;

export interface XfrmSelector {
  daddr: string;
  saddr: string;
  dport: number;
  dportMask: number;
  sport: number;
  sportMask: number;
  family: number;
  prefixlenD: number;
  prefixlenS: number;
  proto: number;
  ifindex: number;
  user: number;
}

/** struct xfrm_lifetime_cfg; XFRM_INF = no limit. */
export interface XfrmLifetimeCfg {
  softByte: bigint;
  hardByte: bigint;
  softPacket: bigint;
  hardPacket: bigint;
  softAdd: bigint;
  hardAdd: bigint;
  softUse: bigint;
  hardUse: bigint;
}

/** struct xfrm_lifetime_cur. */
export interface XfrmLifetimeCur {
  bytes: bigint;
  packets: bigint;
  addTime: bigint;
  useTime: bigint;
}

/** struct xfrm_stats. */
export interface XfrmStats {
  replayWindow: number;
  replay: number;
  integrityFailed: number;
}

export interface XfrmAlg {
  /** Kernel algorithm name, e.g. 'cbc(aes)'. */
  name: string;
  key: Buffer;
  /** Key length in bits (alg_key_len). */
  bits: number;
  /** auth: truncation bits (with RF_AUTH_TRUNC); aead: ICV bits; else 0. */
  param: number;
}

export interface XfrmEncap {
  type: number;
  sport: number;
  dport: number;
  oa: string;
}

export interface XfrmCtx {
  doi: number;
  alg: number;
  str: Buffer;
}

export interface XfrmMark {
  value: number;
  mask: number;
}

export interface XfrmTemplate {
  daddr: string;
  saddr: string;
  /** Host order. */
  spi: number;
  proto: number;
  family: number;
  reqid: number;
  mode: number;
  share: number;
  optional: number;
  aalgos: number;
  ealgos: number;
  calgos: number;
  level: number;
  xflags: number;
  sport: number;
  dport: number;
}

export interface XfrmRecord {
  kind: number;
  family: number;
  dir: number;
  action: number;
  flags: number;
  line: number;
  col: number;
  srcStart: number;
  srcEnd: number;
  stmt: number;
  satype: number;
  sadbMode: number;
  sadbFlags: number;
  sel: XfrmSelector;
  daddr: string;
  saddr: string;
  /** Host order. */
  spi: number;
  proto: number;
  mode: number;
  replay: number;
  saFlags: number;
  reqid: number;
  priority: number;
  index: number;
  polFlags: number;
  share: number;
  ptype: number;
  state: number;
  lft: XfrmLifetimeCfg;
  cur: XfrmLifetimeCur;
  stats: XfrmStats;
  seq: number;
  auth: XfrmAlg | null;
  enc: XfrmAlg | null;
  aead: XfrmAlg | null;
  comp: XfrmAlg | null;
  encap: XfrmEncap | null;
  ctx: XfrmCtx | null;
  mark: XfrmMark | null;
  ifId: number | null;
  /** XFRMA_COADDR: the care-of address of a mode ro state or an XFRM_MSG_REPORT (RF_HAS_COA), else null. */
  coa: string | null;
  extraFlags: number;
  templates: XfrmTemplate[];
  replayWin: number;
  spiMin: number;
  spiMax: number;
  aux: number;
  aux2: number;
  msgType: number;
  nlFlags: number;
  nlSeq: number;
  nlPid: number;
  hard: number;
  lastUsed: bigint;
  replaySeq: number;
  replayOseq: number;
  replayBitmap: number;
  /** R_ATTR_ORDER: ip's command-line order of algorithm/encap/ctx attributes (AO_* nibbles), 0 = default. */
  attrOrder: number;
  /** Raw copy of every netlink attribute of the message the record was decoded from (empty for parsed records). */
  attrs: Buffer;
}

/** Input shape of writeRecord: anything left out is zero (byte/packet lifetimes: XFRM_INF). */
export interface XfrmRecordInput extends Partial<Omit<XfrmRecord, 'sel' | 'lft' | 'templates' | 'stats' | 'cur'>> {
  sel?: Partial<XfrmSelector>;
  lft?: Partial<XfrmLifetimeCfg>;
  cur?: Partial<XfrmLifetimeCur>;
  stats?: Partial<XfrmStats>;
  templates?: Partial<XfrmTemplate>[];
}

interface RecordExports {
  appendRegion(r: number, n: number): number;
}

// ---- addresses ----

/** Format 16 bytes of xfrm_address_t as text: dotted quad for AF_INET, RFC 5952 (inet_ntop) otherwise for AF_INET6. */
export function formatAddress(b: Uint8Array, off: number, family: number): string {
  if (family !== L.AF_INET6) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // IPv4-mapped / compatible forms as glibc inet_ntop prints them (::ffff:a.b.c.d, ::a.b.c.d).
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && (w[5] === 0xffff || (w[5] === 0 && w[6] !== 0))) {
    const v4 = `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
    return w[5] === 0xffff ? `::ffff:${v4}` : `::${v4}`;
  }
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

/** Parse an IPv4 or IPv6 literal into 16 bytes (IPv4 in the first 4). Throws on bad text. */
export function parseAddress(text: string): { bytes: Uint8Array; family: number } {
  const out = new Uint8Array(16);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) throw new Error(`bad IPv4 address ${text}`);
      out[i] = n;
    }
    return { bytes: out, family: L.AF_INET };
  }
  if (!text.includes(':')) throw new Error(`bad address ${text}`);
  let s = text;
  const words: number[] = [];
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two 16-bit words.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (tail) {
    const q = tail.slice(1).map(Number);
    if (q.some((n) => n > 255)) throw new Error(`bad IPv6 address ${text}`);
    s = s.slice(0, tail.index) + ((q[0]! << 8) | q[1]!).toString(16) + ':' + ((q[2]! << 8) | q[3]!).toString(16);
  }
  const parts = s.split('::');
  if (parts.length > 2) throw new Error(`bad IPv6 address ${text}`);
  const conv = (p: string): number[] => (p === '' ? [] : p.split(':').map((h) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(h)) throw new Error(`bad IPv6 address ${text}`);
    return parseInt(h, 16);
  }));
  const head = conv(parts[0]!);
  const rest = parts.length === 2 ? conv(parts[1]!) : [];
  const total = head.length + rest.length;
  if (parts.length === 1 && total !== 8) throw new Error(`bad IPv6 address ${text}`);
  if (total > (parts.length === 2 ? 7 : 8)) throw new Error(`bad IPv6 address ${text}`);
  words.push(...head);
  for (let i = total; i < 8; i++) words.push(0);
  words.push(...rest);
  for (let i = 0; i < 8; i++) { out[2 * i] = words[i]! >> 8; out[2 * i + 1] = words[i]! & 0xff; }
  return { bytes: out, family: L.AF_INET6 };
}

// ---- reading ----

export function recordCount(): number {
  return (wasm().regionLen(L.REGION_RECORDS) / L.REC_SIZE) | 0;
}

function readAlg(w: Wasm, u8: Uint8Array, dv: DataView, rec: number, slot: number): XfrmAlg | null {
  const nameLen = dv.getUint32(rec + slot + L.ALG_NAME_LEN, true);
  if (nameLen === 0) return null;
  const blob = w.regionPtr(L.REGION_BLOB);
  const nameOff = dv.getUint32(rec + slot + L.ALG_NAME_OFF, true);
  const keyOff = dv.getUint32(rec + slot + L.ALG_KEY_OFF, true);
  const bits = dv.getUint32(rec + slot + L.ALG_KEY_BITS, true);
  const name = Buffer.from(u8.subarray(blob + nameOff, blob + nameOff + nameLen)).toString('latin1');
  const key = Buffer.from(u8.subarray(blob + keyOff, blob + keyOff + ((bits + 7) >>> 3)));
  return { name, key, bits, param: dv.getUint32(rec + slot + L.ALG_PARAM, true) };
}

/** Convert record `index` of REGION_RECORDS (with its blob data) into a plain object. */
export function readRecord(index: number): XfrmRecord {
  const w = wasm();
  if (index < 0 || index >= recordCount()) throw new RangeError(`record ${index} out of range (${recordCount()} records)`);
  const u8 = w.u8;
  const dv = w.dv;
  const blob = w.regionPtr(L.REGION_BLOB);
  const r = w.regionPtr(L.REGION_RECORDS) + index * L.REC_SIZE;
  const u32 = (o: number): number => dv.getUint32(r + o, true);
  const u16 = (o: number): number => dv.getUint16(r + o, true);
  const be16 = (o: number): number => dv.getUint16(r + o, false);
  const u64 = (o: number): bigint => dv.getBigUint64(r + o, true);
  const flags = u32(L.R_FLAGS);
  const family = u8[r + L.R_FAMILY]!;
  const s = r + L.R_SEL;
  const selFamily = dv.getUint16(s + L.SEL_FAMILY, true);
  const sel: XfrmSelector = {
    daddr: formatAddress(u8, s + L.SEL_DADDR, selFamily || family),
    saddr: formatAddress(u8, s + L.SEL_SADDR, selFamily || family),
    dport: dv.getUint16(s + L.SEL_DPORT, false),
    dportMask: dv.getUint16(s + L.SEL_DPORT_MASK, false),
    sport: dv.getUint16(s + L.SEL_SPORT, false),
    sportMask: dv.getUint16(s + L.SEL_SPORT_MASK, false),
    family: selFamily,
    prefixlenD: u8[s + L.SEL_PREFIXLEN_D]!,
    prefixlenS: u8[s + L.SEL_PREFIXLEN_S]!,
    proto: u8[s + L.SEL_PROTO]!,
    ifindex: dv.getInt32(s + L.SEL_IFINDEX, true),
    user: dv.getUint32(s + L.SEL_USER, true),
  };
  const templates: XfrmTemplate[] = [];
  const tOff = u32(L.R_TMPL_OFF);
  const tCount = u32(L.R_TMPL_COUNT);
  for (let i = 0; i < tCount; i++) {
    const t = blob + tOff + i * L.TMPL_SIZE;
    const tf = dv.getUint16(t + L.T_FAMILY, true);
    templates.push({
      daddr: formatAddress(u8, t + L.T_DADDR, tf),
      saddr: formatAddress(u8, t + L.T_SADDR, tf),
      spi: dv.getUint32(t + L.T_SPI, false),
      proto: u8[t + L.T_PROTO]!,
      family: tf,
      reqid: dv.getUint32(t + L.T_REQID, true),
      mode: u8[t + L.T_MODE]!,
      share: u8[t + L.T_SHARE]!,
      optional: u8[t + L.T_OPTIONAL]!,
      aalgos: dv.getUint32(t + L.T_AALGOS, true),
      ealgos: dv.getUint32(t + L.T_EALGOS, true),
      calgos: dv.getUint32(t + L.T_CALGOS, true),
      level: u8[t + L.T_LEVEL]!,
      xflags: u8[t + L.T_XFLAGS]!,
      sport: dv.getUint16(t + L.T_SPORT, true),
      dport: dv.getUint16(t + L.T_DPORT, true),
    });
  }
  const encapType = u16(L.R_ENCAP_TYPE);
  const ctxLen = u32(L.R_CTX_LEN);
  const ctxOff = u32(L.R_CTX_OFF);
  const attrsOff = u32(L.R_ATTRS_OFF);
  const attrsLen = u32(L.R_ATTRS_LEN);
  return {
    kind: u8[r + L.R_KIND]!,
    family,
    dir: u8[r + L.R_DIR]!,
    action: u8[r + L.R_ACTION]!,
    flags,
    line: u32(L.R_LINE),
    col: u32(L.R_COL),
    srcStart: u32(L.R_SRC_START),
    srcEnd: u32(L.R_SRC_END),
    stmt: u32(L.R_STMT),
    satype: u8[r + L.R_SATYPE]!,
    sadbMode: u8[r + L.R_SADB_MODE]!,
    sadbFlags: u16(L.R_SADB_FLAGS),
    sel,
    daddr: formatAddress(u8, r + L.R_DADDR, family),
    saddr: formatAddress(u8, r + L.R_SADDR, family),
    spi: dv.getUint32(r + L.R_SPI, false),
    proto: u8[r + L.R_PROTO]!,
    mode: u8[r + L.R_MODE]!,
    replay: u8[r + L.R_REPLAY]!,
    saFlags: u8[r + L.R_SAFLAGS]!,
    reqid: u32(L.R_REQID),
    priority: u32(L.R_PRIORITY),
    index: u32(L.R_INDEX),
    polFlags: u8[r + L.R_POLFLAGS]!,
    share: u8[r + L.R_SHARE]!,
    ptype: u8[r + L.R_PTYPE]!,
    state: u8[r + L.R_STATE]!,
    lft: {
      softByte: u64(L.R_LFT + L.LFT_SOFT_BYTE),
      hardByte: u64(L.R_LFT + L.LFT_HARD_BYTE),
      softPacket: u64(L.R_LFT + L.LFT_SOFT_PACKET),
      hardPacket: u64(L.R_LFT + L.LFT_HARD_PACKET),
      softAdd: u64(L.R_LFT + L.LFT_SOFT_ADD),
      hardAdd: u64(L.R_LFT + L.LFT_HARD_ADD),
      softUse: u64(L.R_LFT + L.LFT_SOFT_USE),
      hardUse: u64(L.R_LFT + L.LFT_HARD_USE),
    },
    cur: {
      bytes: u64(L.R_CUR + L.CUR_BYTES),
      packets: u64(L.R_CUR + L.CUR_PACKETS),
      addTime: u64(L.R_CUR + L.CUR_ADD_TIME),
      useTime: u64(L.R_CUR + L.CUR_USE_TIME),
    },
    stats: { replayWindow: u32(L.R_STATS), replay: u32(L.R_STATS + 4), integrityFailed: u32(L.R_STATS + 8) },
    seq: u32(L.R_SEQ),
    auth: readAlg(w, u8, dv, r, L.R_ALG_AUTH),
    enc: readAlg(w, u8, dv, r, L.R_ALG_ENC),
    aead: readAlg(w, u8, dv, r, L.R_ALG_AEAD),
    comp: readAlg(w, u8, dv, r, L.R_ALG_COMP),
    // XFRM_MSG_MAPPING (asm/src/xfrm-decode.ts): old source port in sport, new source port in dport, new address in oa.
    encap: (flags & L.RF_HAS_ENCAP) !== 0 || encapType !== 0 || u16(L.R_MSGTYPE) === XFRM_MSG_MAPPING
      ? { type: encapType, sport: u16(L.R_ENCAP_SPORT), dport: u16(L.R_ENCAP_DPORT), oa: formatAddress(u8, r + L.R_ENCAP_OA, family) }
      : null,
    ctx: (flags & L.RF_HAS_CTX) !== 0
      ? { doi: u8[r + L.R_CTX_DOI]!, alg: u8[r + L.R_CTX_ALG]!, str: Buffer.from(u8.subarray(blob + ctxOff, blob + ctxOff + ctxLen)) }
      : null,
    mark: (flags & L.RF_HAS_MARK) !== 0 ? { value: u32(L.R_MARK_V), mask: u32(L.R_MARK_M) } : null,
    ifId: (flags & L.RF_HAS_IFID) !== 0 ? u32(L.R_IFID) : null,
    coa: (flags & L.RF_HAS_COA) !== 0 ? formatAddress(u8, blob + u32(L.R_COA_OFF), family) : null,
    extraFlags: u32(L.R_EXTRA_FLAGS),
    templates,
    replayWin: u32(L.R_REPLAY_WIN),
    spiMin: u32(L.R_SPI_MIN),
    spiMax: u32(L.R_SPI_MAX),
    aux: u32(L.R_AUX),
    aux2: u32(L.R_AUX2),
    msgType: u16(L.R_MSGTYPE),
    nlFlags: u16(L.R_NLFLAGS),
    nlSeq: u32(L.R_NLSEQ),
    nlPid: u32(L.R_NLPID),
    hard: u8[r + L.R_HARD]!,
    lastUsed: u64(L.R_LASTUSED),
    replaySeq: u32(L.R_REPLAY_SEQ),
    replayOseq: u32(L.R_REPLAY_OSEQ),
    replayBitmap: u32(L.R_REPLAY_BITMAP),
    attrOrder: u32(L.R_ATTR_ORDER),
    attrs: Buffer.from(u8.subarray(blob + attrsOff, blob + attrsOff + attrsLen)),
  };
}

// ---- writing ----

function blobAppend(w: Wasm, bytes: Uint8Array): number {
  const off = w.fns<RecordExports>().appendRegion(L.REGION_BLOB, bytes.length) >>> 0;
  w.u8.set(bytes, w.regionPtr(L.REGION_BLOB) + off);
  return off;
}

function addrBytes(text: string | undefined): Uint8Array {
  if (text === undefined || text === '') return new Uint8Array(16);
  return parseAddress(text).bytes;
}

function familyOf(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  return text.includes(':') ? L.AF_INET6 : L.AF_INET;
}

/**
 * Append one record (and its blob data) built from `o`; returns its index. Fields left out are zero, byte and
 * packet lifetimes default to XFRM_INF. Presence flags follow the object: mark → RF_HAS_MARK, ifId → RF_HAS_IFID, encap →
 * RF_HAS_ENCAP, ctx → RF_HAS_CTX, coa → RF_HAS_COA, auth.param → RF_AUTH_TRUNC (ORed into o.flags). family defaults from daddr/sel.
 */
export function writeRecord(o: XfrmRecordInput): number {
  const w = wasm();
  // Blob data first: appending to the blob may grow memory and move regions.
  const algs: [number, XfrmAlg | null | undefined][] = [
    [L.R_ALG_AUTH, o.auth], [L.R_ALG_ENC, o.enc], [L.R_ALG_AEAD, o.aead], [L.R_ALG_COMP, o.comp],
  ];
  const algOffs: [number, number, number, number, number][] = [];
  for (const [slot, a] of algs) {
    if (!a) continue;
    const name = Buffer.from(a.name, 'latin1');
    const nameOff = blobAppend(w, name);
    const keyOff = blobAppend(w, a.key);
    algOffs.push([slot, nameOff, name.length, keyOff, a.bits ?? a.key.length * 8]);
  }
  const ctxOff = o.ctx ? blobAppend(w, o.ctx.str) : 0;
  const coaOff = o.coa ? blobAppend(w, addrBytes(o.coa)) : 0;
  const attrsOff = o.attrs && o.attrs.length > 0 ? blobAppend(w, o.attrs) : 0;
  let tmplOff = 0;
  const tmpls = o.templates ?? [];
  if (tmpls.length > 0) {
    const tb = Buffer.alloc(tmpls.length * L.TMPL_SIZE);
    tmpls.forEach((t, i) => {
      const b = i * L.TMPL_SIZE;
      const fam = t.family ?? (familyOf(t.daddr) || familyOf(t.saddr) || o.family || familyOf(o.daddr) || L.AF_INET);
      tb.set(addrBytes(t.daddr), b + L.T_DADDR);
      tb.writeUInt32BE((t.spi ?? 0) >>> 0, b + L.T_SPI);
      tb[b + L.T_PROTO] = t.proto ?? 0;
      tb.writeUInt16LE(fam, b + L.T_FAMILY);
      tb.set(addrBytes(t.saddr), b + L.T_SADDR);
      tb.writeUInt32LE((t.reqid ?? 0) >>> 0, b + L.T_REQID);
      tb[b + L.T_MODE] = t.mode ?? 0;
      tb[b + L.T_SHARE] = t.share ?? 0;
      tb[b + L.T_OPTIONAL] = t.optional ?? 0;
      tb.writeUInt32LE((t.aalgos ?? 0xffffffff) >>> 0, b + L.T_AALGOS);
      tb.writeUInt32LE((t.ealgos ?? 0xffffffff) >>> 0, b + L.T_EALGOS);
      tb.writeUInt32LE((t.calgos ?? 0xffffffff) >>> 0, b + L.T_CALGOS);
      tb[b + L.T_LEVEL] = t.level ?? 0;
      tb[b + L.T_XFLAGS] = t.xflags ?? 0;
      tb.writeUInt16LE(t.sport ?? 0, b + L.T_SPORT);
      tb.writeUInt16LE(t.dport ?? 0, b + L.T_DPORT);
    });
    tmplOff = blobAppend(w, tb);
  }

  const rb = Buffer.alloc(L.REC_SIZE);
  const sel = o.sel ?? {};
  const family = o.family ?? (familyOf(o.daddr) || familyOf(o.saddr) || sel.family || familyOf(sel.daddr) || familyOf(sel.saddr));
  let flags = o.flags ?? 0;
  if (o.mark) flags |= L.RF_HAS_MARK;
  if (o.ifId !== undefined && o.ifId !== null) flags |= L.RF_HAS_IFID;
  if (o.encap) flags |= L.RF_HAS_ENCAP;
  if (o.ctx) flags |= L.RF_HAS_CTX;
  if (o.coa) flags |= L.RF_HAS_COA;
  if (o.auth && o.auth.param) flags |= L.RF_AUTH_TRUNC;
  rb[L.R_KIND] = o.kind ?? 0;
  rb[L.R_FAMILY] = family;
  rb[L.R_DIR] = o.dir ?? 0;
  rb[L.R_ACTION] = o.action ?? 0;
  rb.writeUInt32LE(flags >>> 0, L.R_FLAGS);
  rb.writeUInt32LE(o.line ?? 0, L.R_LINE);
  rb.writeUInt32LE(o.col ?? 0, L.R_COL);
  rb.writeUInt32LE(o.srcStart ?? 0, L.R_SRC_START);
  rb.writeUInt32LE(o.srcEnd ?? 0, L.R_SRC_END);
  rb.writeUInt32LE(o.stmt ?? 0, L.R_STMT);
  rb[L.R_SATYPE] = o.satype ?? 0;
  rb[L.R_SADB_MODE] = o.sadbMode ?? 0;
  rb.writeUInt16LE(o.sadbFlags ?? 0, L.R_SADB_FLAGS);
  const s = L.R_SEL;
  // No selector family unless given or implied by its addresses: ip leaves an SA's sel.family 0 without `sel`.
  const selFamily = sel.family ?? (familyOf(sel.daddr) || familyOf(sel.saddr));
  rb.set(addrBytes(sel.daddr), s + L.SEL_DADDR);
  rb.set(addrBytes(sel.saddr), s + L.SEL_SADDR);
  rb.writeUInt16BE(sel.dport ?? 0, s + L.SEL_DPORT);
  rb.writeUInt16BE(sel.dportMask ?? 0, s + L.SEL_DPORT_MASK);
  rb.writeUInt16BE(sel.sport ?? 0, s + L.SEL_SPORT);
  rb.writeUInt16BE(sel.sportMask ?? 0, s + L.SEL_SPORT_MASK);
  rb.writeUInt16LE(selFamily, s + L.SEL_FAMILY);
  rb[s + L.SEL_PREFIXLEN_D] = sel.prefixlenD ?? 0;
  rb[s + L.SEL_PREFIXLEN_S] = sel.prefixlenS ?? 0;
  rb[s + L.SEL_PROTO] = sel.proto ?? 0;
  rb.writeInt32LE(sel.ifindex ?? 0, s + L.SEL_IFINDEX);
  rb.writeUInt32LE((sel.user ?? 0) >>> 0, s + L.SEL_USER);
  rb.set(addrBytes(o.daddr), L.R_DADDR);
  rb.set(addrBytes(o.saddr), L.R_SADDR);
  rb.writeUInt32BE((o.spi ?? 0) >>> 0, L.R_SPI);
  rb[L.R_PROTO] = o.proto ?? 0;
  rb[L.R_MODE] = o.mode ?? 0;
  rb[L.R_REPLAY] = o.replay ?? 0;
  rb[L.R_SAFLAGS] = o.saFlags ?? 0;
  rb.writeUInt32LE((o.reqid ?? 0) >>> 0, L.R_REQID);
  rb.writeUInt32LE((o.priority ?? 0) >>> 0, L.R_PRIORITY);
  rb.writeUInt32LE((o.index ?? 0) >>> 0, L.R_INDEX);
  rb[L.R_POLFLAGS] = o.polFlags ?? 0;
  rb[L.R_SHARE] = o.share ?? 0;
  rb[L.R_PTYPE] = o.ptype ?? 0;
  rb[L.R_STATE] = o.state ?? 0;
  const lft = o.lft ?? {};
  const lftv: (bigint | undefined)[] = [lft.softByte, lft.hardByte, lft.softPacket, lft.hardPacket, lft.softAdd, lft.hardAdd, lft.softUse, lft.hardUse];
  // Unset limits as ip and af_key leave them: byte/packet limits XFRM_INF, times 0 (= no limit).
  lftv.forEach((v, i) => rb.writeBigUInt64LE(v ?? (i < 4 ? XFRM_INF : 0n), L.R_LFT + 8 * i));
  const cur = o.cur ?? {};
  [cur.bytes, cur.packets, cur.addTime, cur.useTime].forEach((v, i) => rb.writeBigUInt64LE(v ?? 0n, L.R_CUR + 8 * i));
  rb.writeUInt32LE((o.stats?.replayWindow ?? 0) >>> 0, L.R_STATS);
  rb.writeUInt32LE((o.stats?.replay ?? 0) >>> 0, L.R_STATS + 4);
  rb.writeUInt32LE((o.stats?.integrityFailed ?? 0) >>> 0, L.R_STATS + 8);
  rb.writeUInt32LE((o.seq ?? 0) >>> 0, L.R_SEQ);
  for (const [slot, nameOff, nameLen, keyOff, bits] of algOffs) {
    rb.writeUInt32LE(nameOff, slot + L.ALG_NAME_OFF);
    rb.writeUInt32LE(nameLen, slot + L.ALG_NAME_LEN);
    rb.writeUInt32LE(keyOff, slot + L.ALG_KEY_OFF);
    rb.writeUInt32LE(bits, slot + L.ALG_KEY_BITS);
  }
  for (const [slot, a] of algs) if (a) rb.writeUInt32LE((a.param ?? 0) >>> 0, slot + L.ALG_PARAM);
  if (o.encap) {
    rb.writeUInt16LE(o.encap.type, L.R_ENCAP_TYPE);
    rb.writeUInt16LE(o.encap.sport, L.R_ENCAP_SPORT);
    rb.writeUInt16LE(o.encap.dport, L.R_ENCAP_DPORT);
    rb.set(addrBytes(o.encap.oa), L.R_ENCAP_OA);
  }
  if (o.ctx) {
    rb[L.R_CTX_DOI] = o.ctx.doi;
    rb[L.R_CTX_ALG] = o.ctx.alg;
    rb.writeUInt32LE(ctxOff, L.R_CTX_OFF);
    rb.writeUInt32LE(o.ctx.str.length, L.R_CTX_LEN);
  }
  if (o.mark) {
    rb.writeUInt32LE(o.mark.value >>> 0, L.R_MARK_V);
    rb.writeUInt32LE(o.mark.mask >>> 0, L.R_MARK_M);
  }
  rb.writeUInt32LE((o.ifId ?? 0) >>> 0, L.R_IFID);
  rb.writeUInt32LE(coaOff, L.R_COA_OFF);
  rb.writeUInt32LE((o.extraFlags ?? 0) >>> 0, L.R_EXTRA_FLAGS);
  rb.writeUInt32LE(tmplOff, L.R_TMPL_OFF);
  rb.writeUInt32LE(tmpls.length, L.R_TMPL_COUNT);
  rb.writeUInt32LE((o.replayWin ?? 0) >>> 0, L.R_REPLAY_WIN);
  rb.writeUInt32LE((o.spiMin ?? 0) >>> 0, L.R_SPI_MIN);
  rb.writeUInt32LE((o.spiMax ?? 0) >>> 0, L.R_SPI_MAX);
  rb.writeUInt32LE((o.aux ?? 0) >>> 0, L.R_AUX);
  rb.writeUInt32LE((o.aux2 ?? 0) >>> 0, L.R_AUX2);
  rb.writeUInt32LE(attrsOff, L.R_ATTRS_OFF);
  rb.writeUInt32LE(o.attrs ? o.attrs.length : 0, L.R_ATTRS_LEN);
  rb.writeUInt16LE(o.msgType ?? 0, L.R_MSGTYPE);
  rb.writeUInt16LE(o.nlFlags ?? 0, L.R_NLFLAGS);
  rb.writeUInt32LE((o.nlSeq ?? 0) >>> 0, L.R_NLSEQ);
  rb.writeUInt32LE((o.nlPid ?? 0) >>> 0, L.R_NLPID);
  rb[L.R_HARD] = o.hard ?? 0;
  rb.writeBigUInt64LE(o.lastUsed ?? 0n, L.R_LASTUSED);
  rb.writeUInt32LE((o.replaySeq ?? 0) >>> 0, L.R_REPLAY_SEQ);
  rb.writeUInt32LE((o.replayOseq ?? 0) >>> 0, L.R_REPLAY_OSEQ);
  rb.writeUInt32LE((o.replayBitmap ?? 0) >>> 0, L.R_REPLAY_BITMAP);
  rb.writeUInt32LE((o.attrOrder ?? 0) >>> 0, L.R_ATTR_ORDER);

  const off = w.fns<RecordExports>().appendRegion(L.REGION_RECORDS, L.REC_SIZE) >>> 0;
  w.u8.set(rb, w.regionPtr(L.REGION_RECORDS) + off);
  return (off / L.REC_SIZE) | 0;
}
