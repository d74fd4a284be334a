// src/wasm/xfrm-codec.ts — TypeScript face of the XFRM netlink codec (layer: asm bindings). Owns: encodeXfrm
// (records → netlink request bytes, asm/src/xfrm-encode.ts), decodeXfrm (kernel bytes → records,
// asm/src/xfrm-decode.ts), and small helpers the kernel channel needs (message walking, NLMSG_ERROR parsing,
// the raw message a decoded record came from).
import { REGION_OUTPUT, REGION_MAP, REGION_RECORDS, REGION_BLOB, REC_SIZE, R_ATTRS_OFF, R_ATTRS_LEN, R_MSGTYPE, R_NLFLAGS } from '../../asm/shared/layout.js';
import {
  XENC_ACK, XENC_IP_ACK, XDEC_RESET, XDEC_KEEP_ALL, NLMSG_HDRLEN, NLMSG_ERROR, NLMSG_DONE, NLM_F_ACK_TLVS, NLM_F_CAPPED,
  NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLM_F_DUMP,
  XFRM_MSG_NEWSA, XFRM_MSG_UPDSA, XFRM_MSG_DELSA, XFRM_MSG_GETSA, XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY,
  XFRM_MSG_DELPOLICY, XFRM_MSG_GETPOLICY, XFRM_MSG_ALLOCSPI, XFRM_MSG_ACQUIRE, XFRM_MSG_EXPIRE, XFRM_MSG_POLEXPIRE,
  XFRM_MSG_FLUSHSA, XFRM_MSG_FLUSHPOLICY, XFRM_MSG_NEWAE, XFRM_MSG_GETAE, XFRM_MSG_REPORT, XFRM_MSG_MIGRATE,
  XFRM_MSG_NEWSADINFO, XFRM_MSG_GETSADINFO, XFRM_MSG_NEWSPDINFO, XFRM_MSG_GETSPDINFO, XFRM_MSG_MAPPING,
  XFRM_MSG_SETDEFAULT, XFRM_MSG_GETDEFAULT,
} from '../../asm/shared/xfrm.js';
import { wasm } from './index.js';

interface XfrmExports {
  xfrmEncode(first: number, end: number, seqBase: number, flags: number, maxBytes: number): number;
  xfrmDecode(len: number, flags: number): number;
  xfrmDecodeMalformed(): number;
}

export interface EncodeOptions {
  /** nlmsg_seq of the first message; the k-th message gets seqBase + k. */
  seqBase?: number;
  /** true: NLM_F_ACK on every message; 'ip': where iproute2 sets it (not on get/allocspi/dump); false: never. */
  ack?: boolean | 'ip';
  /** Stop before the output exceeds this many bytes (at least one message is always produced). */
  maxBytes?: number;
  /** Copy the messages into this buffer when they fit (bytes is then a view of it): a loader reuses one
   * buffer for every chunk instead of leaving a megabyte of garbage per send. */
  into?: Buffer;
}

export interface EncodeResult {
  /** Records consumed from `first` (kinds without a request, e.g. OP_EXIT, are consumed without a message). */
  consumed: number;
  /** The messages, NLMSG_ALIGN'd, back to back (a copy). */
  bytes: Buffer;
  /** recordOfMessage[k] = index of the record message k was made from (a copy). */
  recordOfMessage: Uint32Array;
}

/** Encode records [first, end) of REGION_RECORDS as XFRM netlink requests (asm xfrmEncode). */
export function encodeXfrm(first: number, end: number, opts: EncodeOptions = {}): EncodeResult {
  const w = wasm();
  const fns = w.fns<XfrmExports>();
  const flags = opts.ack === true ? XENC_ACK : opts.ack === 'ip' ? XENC_IP_ACK : 0;
  const consumed = fns.xfrmEncode(first >>> 0, end >>> 0, (opts.seqBase ?? 0) >>> 0, flags, (opts.maxBytes ?? 0x7fffffff) >>> 0) >>> 0;
  const len = w.regionLen(REGION_OUTPUT);
  let bytes: Buffer;
  if (opts.into && opts.into.length >= len) {
    bytes = opts.into.subarray(0, len);
    bytes.set(w.view(REGION_OUTPUT, 0, len));
  } else {
    bytes = w.copy(REGION_OUTPUT);
  }
  const map = w.copy(REGION_MAP);
  const recordOfMessage = new Uint32Array(map.length >>> 2);
  for (let i = 0; i < recordOfMessage.length; i++) recordOfMessage[i] = map.readUInt32LE(i * 4);
  return { consumed, bytes, recordOfMessage };
}

export interface DecodeOptions {
  /** Append to the records already in REGION_RECORDS (default: replace them and the blob). */
  append?: boolean;
  /** Also make records (R_KIND OP_NONE) for netlink messages of non-XFRM types (never for ERROR/DONE/NOOP). */
  keepAll?: boolean;
}

export interface DecodeResult {
  /** Records appended by this call. */
  records: number;
  /** Messages (or attributes) that were truncated or had impossible lengths; they were skipped. */
  malformed: number;
}

/** Decode a datagram (any number of netlink messages) into records (asm xfrmDecode). Never throws on bad bytes. */
export function decodeXfrm(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const w = wasm();
  const fns = w.fns<XfrmExports>();
  const len = w.setInput(bytes);
  const flags = (opts.append ? 0 : XDEC_RESET) | (opts.keepAll ? XDEC_KEEP_ALL : 0);
  const records = fns.xfrmDecode(len, flags) >>> 0;
  return { records, malformed: fns.xfrmDecodeMalformed() >>> 0 };
}

// ---- helpers for the channel ----

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Offset of the message in the buffer and its nlmsg_len. */
  offset: number;
  length: number;
}

/** Walk the netlink messages of a datagram (stops at the first impossible length). */
export function* netlinkMessages(buf: Uint8Array): Generator<NetlinkMessage> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const length = dv.getUint32(off, true);
    if (length < NLMSG_HDRLEN || off + length > buf.length) return;
    yield { type: dv.getUint16(off + 4, true), flags: dv.getUint16(off + 6, true), seq: dv.getUint32(off + 8, true), pid: dv.getUint32(off + 12, true), offset: off, length };
    off += (length + 3) & ~3;
  }
}

export interface NetlinkAck {
  /** 0 for an ack, else a positive errno. */
  errno: number;
  /** Sequence number of the request it answers (from the embedded request header). */
  seq: number;
  /** nlmsg_type of the request. */
  requestType: number;
  /** Extended ack message (NLMSGERR_ATTR_MSG), if any. */
  extack?: string;
  /** Extended ack offset of the offending attribute in the request (NLMSGERR_ATTR_OFFS), if any. */
  extackOffset?: number;
}

/** Parse an NLMSG_ERROR message (struct nlmsgerr { int error; struct nlmsghdr msg; } + [request payload] + [TLVs]). */
export function parseNetlinkError(buf: Uint8Array, msg: NetlinkMessage): NetlinkAck | null {
  if (msg.type !== NLMSG_ERROR || msg.length < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const p = msg.offset + NLMSG_HDRLEN;
  const error = dv.getInt32(p, true);
  const reqLen = dv.getUint32(p + 4, true);
  const ack: NetlinkAck = { errno: -error, seq: dv.getUint32(p + 12, true), requestType: dv.getUint16(p + 8, true) };
  if ((msg.flags & NLM_F_ACK_TLVS) !== 0) {
    // Without NLM_F_CAPPED the whole request is echoed before the TLVs.
    let t = p + 4 + ((msg.flags & NLM_F_CAPPED) !== 0 || error === 0 ? NLMSG_HDRLEN : (reqLen + 3) & ~3);
    const end = msg.offset + msg.length;
    while (t + 4 <= end) {
      const alen = dv.getUint16(t, true);
      const atype = dv.getUint16(t + 2, true) & 0x3fff;
      if (alen < 4 || t + alen > end) break;
      if (atype === NLMSGERR_ATTR_MSG) {
        let e = t + 4;
        while (e < t + alen && buf[e] !== 0) e++;
        ack.extack = Buffer.from(buf.buffer, buf.byteOffset + t + 4, e - t - 4).toString('utf8');
      } else if (atype === NLMSGERR_ATTR_OFFS && alen >= 8) {
        ack.extackOffset = dv.getUint32(t + 4, true);
      }
      t += (alen + 3) & ~3;
    }
  }
  return ack;
}

/** Is this message the end of a dump (NLMSG_DONE)? */
export function isDone(msg: NetlinkMessage): boolean {
  return msg.type === NLMSG_DONE;
}

/**
 * Size of the fixed part (the struct before the attributes) of an XFRM message, as the decoder uses it;
 * -1 for unknown types. `flags` matters for GETSA/GETPOLICY dump requests, which have none.
 */
export function xfrmFixedSize(type: number, flags = 0): number {
  switch (type) {
    case XFRM_MSG_NEWSA: case XFRM_MSG_UPDSA: return 224;
    case XFRM_MSG_DELSA: return 24;
    case XFRM_MSG_GETSA: return (flags & NLM_F_DUMP) === NLM_F_DUMP ? 0 : 24;
    case XFRM_MSG_NEWPOLICY: case XFRM_MSG_UPDPOLICY: return 168;
    case XFRM_MSG_DELPOLICY: return 64;
    case XFRM_MSG_GETPOLICY: return (flags & NLM_F_DUMP) === NLM_F_DUMP ? 0 : 64;
    case XFRM_MSG_ALLOCSPI: return 232;
    case XFRM_MSG_ACQUIRE: return 280;
    case XFRM_MSG_EXPIRE: return 232;
    case XFRM_MSG_POLEXPIRE: return 176;
    case XFRM_MSG_FLUSHSA: return 1;
    case XFRM_MSG_FLUSHPOLICY: return 0;
    case XFRM_MSG_NEWAE: case XFRM_MSG_GETAE: return 48;
    case XFRM_MSG_REPORT: return 60;
    case XFRM_MSG_MIGRATE: return 64;
    case XFRM_MSG_NEWSADINFO: case XFRM_MSG_GETSADINFO: case XFRM_MSG_NEWSPDINFO: case XFRM_MSG_GETSPDINFO: return 4;
    case XFRM_MSG_MAPPING: return 64;
    case XFRM_MSG_SETDEFAULT: case XFRM_MSG_GETDEFAULT: return 3;
    default: return -1;
  }
}

/**
 * The whole netlink message (header, fixed struct, attributes) a decoded record came from. The decoder keeps a
 * copy of each message in REGION_BLOB with R_ATTRS_OFF pointing at its attributes, so structs the record has no
 * field for (e.g. xfrm_user_acquire.policy.sel) stay readable.
 */
export function recordMessage(index: number): Buffer {
  const w = wasm();
  const rec = w.regionPtr(REGION_RECORDS) + index * REC_SIZE;
  const dv = w.dv;
  const type = dv.getUint16(rec + R_MSGTYPE, true);
  const flags = dv.getUint16(rec + R_NLFLAGS, true);
  const attrsOff = dv.getUint32(rec + R_ATTRS_OFF, true);
  const attrsLen = dv.getUint32(rec + R_ATTRS_LEN, true);
  const fixed = xfrmFixedSize(type, flags);
  const start = attrsOff - NLMSG_HDRLEN - (fixed < 0 ? 0 : (fixed + 3) & ~3);
  if (start < 0) return Buffer.alloc(0);
  const msgLen = w.dv.getUint32(w.regionPtr(REGION_BLOB) + start, true);
  return w.copy(REGION_BLOB, start, Math.min(msgLen, NLMSG_HDRLEN + ((fixed + 3) & ~3) + attrsLen));
}
