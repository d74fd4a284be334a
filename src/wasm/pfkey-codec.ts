// src/wasm/pfkey-codec.ts — TypeScript face of the PF_KEY v2 codec (layer: asm bindings). Owns: encodePfkey
// (records → PF_KEY requests, asm/src/pfkey-encode.ts), decodePfkey (PF_KEY messages → records,
// asm/src/pfkey-decode.ts), bare header messages (REGISTER, PROMISC) and walking the messages of a buffer.
import { REGION_OUTPUT, REGION_MAP } from '../../asm/shared/layout.js';
import {
  MSG_SIZE, MSG_TYPE, MSG_ERRNO, MSG_SATYPE, MSG_LEN, MSG_SEQ, MSG_PID, PFKEY_UNIT, PENC_NO_OA, PDEC_RESET, PDEC_KEEP_ALL,
  EXT_LEN, EXT_TYPE, EXT_SIZE, SADB_X_EXT_POLICY, POL_SIZE, IRQ_LEN, IRQ_SIZE, IRQ_RESERVED1, IRQ_RESERVED2, SADB_ADD, SADB_UPDATE,
} from '../../asm/shared/pfkey.js';
import { wasm } from './index.js';

interface PfkeyExports {
  pfkeyEncode(first: number, end: number, seqBase: number, pid: number, flags: number, maxBytes: number): number;
  pfkeyEncodeBare(type: number, satype: number, seq: number, pid: number): number;
  pfkeyDecode(len: number, flags: number): number;
  pfkeyDecodeMalformed(): number;
  pfkeyComposeEvents(first: number, end: number, refcnt: number, avail: number): number;
}

export interface PfkeyEncodeOptions {
  /** sadb_msg_seq of the first message; the k-th message gets seqBase + k. */
  seqBase?: number;
  /** sadb_msg_pid (setkey sends getpid()). */
  pid?: number;
  /** Leave SADB_X_EXT_NAT_T_OA out. */
  noNatOa?: boolean;
  /** Stop before the output exceeds this many bytes (at least one message is always produced). */
  maxBytes?: number;
}

export interface PfkeyEncodeResult {
  consumed: number;
  /** The messages back to back (one copy of the encoder's output) and the length of each. */
  bytes: Buffer;
  lengths: Uint32Array;
  /** One Buffer per message (views into `bytes`), made on first use: bulk sends use bytes + lengths. */
  readonly messages: Buffer[];
  recordOfMessage: Uint32Array;
}

/** Encode records [first, end) as PF_KEY requests (one message per record that has one). */
export function encodePfkey(first: number, end: number, opts: PfkeyEncodeOptions = {}): PfkeyEncodeResult {
  const w = wasm();
  const fns = w.fns<PfkeyExports>();
  const consumed = fns.pfkeyEncode(first >>> 0, end >>> 0, (opts.seqBase ?? 0) >>> 0, (opts.pid ?? 0) >>> 0,
    opts.noNatOa ? PENC_NO_OA : 0, (opts.maxBytes ?? 0x7fffffff) >>> 0) >>> 0;
  const bytes = w.copy(REGION_OUTPUT);
  // the map region holds one u32 per message; a fresh ArrayBuffer (slice) is aligned for the typed view
  const map = w.view(REGION_MAP);
  const recordOfMessage = new Uint32Array(map.slice().buffer, 0, map.length >>> 2);
  const lengths = new Uint32Array(recordOfMessage.length);
  let n = 0;
  for (let off = 0; off + MSG_SIZE <= bytes.length && n < lengths.length;) {
    const len = bytes.readUInt16LE(off + MSG_LEN) * PFKEY_UNIT;
    if (len < MSG_SIZE || off + len > bytes.length) break;
    lengths[n++] = len;
    off += len;
  }
  let messages: Buffer[] | null = null;
  return {
    consumed, bytes, lengths: n === lengths.length ? lengths : lengths.subarray(0, n), recordOfMessage,
    get messages(): Buffer[] {
      if (!messages) {
        messages = [];
        for (let k = 0, off = 0; k < n; off += lengths[k++]!) messages.push(bytes.subarray(off, off + lengths[k]!));
      }
      return messages;
    },
  };
}

/** A header-only message (SADB_REGISTER, SADB_X_PROMISC, SADB_FLUSH, SADB_DUMP, ...). */
export function bareMessage(type: number, satype: number, seq: number, pid: number): Buffer {
  const w = wasm();
  w.fns<PfkeyExports>().pfkeyEncodeBare(type, satype, seq >>> 0, pid >>> 0);
  return w.copy(REGION_OUTPUT);
}

export interface PfkeyDecodeOptions {
  append?: boolean;
  keepAll?: boolean;
}

/** Decode PF_KEY messages (back to back) into records. Never throws on bad bytes. */
export function decodePfkey(bytes: Uint8Array, opts: PfkeyDecodeOptions = {}): { records: number; malformed: number } {
  const w = wasm();
  const fns = w.fns<PfkeyExports>();
  const len = w.setInput(bytes);
  const records = fns.pfkeyDecode(len, (opts.append ? 0 : PDEC_RESET) | (opts.keepAll ? PDEC_KEEP_ALL : 0)) >>> 0;
  return { records, malformed: fns.pfkeyDecodeMalformed() >>> 0 };
}

export interface PfkeyHeader {
  type: number;
  errno: number;
  satype: number;
  /** Bytes (sadb_msg_len × 8). */
  length: number;
  seq: number;
  pid: number;
  /** The whole message (a view). */
  bytes: Buffer;
}

/** Walk the messages of a buffer (stops at the first impossible length). */
export function* pfkeyMessages(buf: Buffer): Generator<PfkeyHeader> {
  let off = 0;
  while (off + MSG_SIZE <= buf.length) {
    const length = buf.readUInt16LE(off + MSG_LEN) * PFKEY_UNIT;
    if (length < MSG_SIZE || off + length > buf.length) return;
    yield {
      type: buf[off + MSG_TYPE]!, errno: buf[off + MSG_ERRNO]!, satype: buf[off + MSG_SATYPE]!, length,
      seq: buf.readUInt32LE(off + MSG_SEQ), pid: buf.readUInt32LE(off + MSG_PID), bytes: buf.subarray(off, off + length),
    };
    off += length;
  }
}

/** The header of one datagram (a PF_KEY datagram is one message). */
export function pfkeyHeader(buf: Buffer): PfkeyHeader | null {
  if (buf.length < MSG_SIZE) return null;
  const length = buf.readUInt16LE(MSG_LEN) * PFKEY_UNIT;
  if (length < MSG_SIZE || length > buf.length) return null;
  return {
    type: buf[MSG_TYPE]!, errno: buf[MSG_ERRNO]!, satype: buf[MSG_SATYPE]!, length, seq: buf.readUInt32LE(MSG_SEQ),
    pid: buf.readUInt32LE(MSG_PID), bytes: buf.length === length ? buf : buf.subarray(0, length),
  };
}

/**
 * A copy of a request with what legitimately differs between two senders of the same statement zeroed:
 * sadb_msg_pid, sadb_msg_seq (except in SADB_ADD/UPDATE: both tools send 0 there, and af_key keeps it in the SA),
 * and the two reserved fields of each sadb_x_ipsecrequest, which libipsec never
 * initialises (policy_parse.y set_x_request writes requests into realloc()ed memory, so setkey 0.8.2 sends heap
 * garbage there). Used to compare keyfleet's messages with captures of setkey's.
 */
export function maskVolatile(msg: Buffer): Buffer {
  const c = Buffer.from(msg);
  if (c.length >= MSG_SIZE) {
    c.fill(0, MSG_PID, MSG_PID + 4);
    if (c[MSG_TYPE] !== SADB_ADD && c[MSG_TYPE] !== SADB_UPDATE) c.fill(0, MSG_SEQ, MSG_SEQ + 4);
  }
  let off = MSG_SIZE;
  while (off + EXT_SIZE <= c.length) {
    const len = c.readUInt16LE(off + EXT_LEN) * PFKEY_UNIT;
    if (len < PFKEY_UNIT || off + len > c.length) break;
    if (c.readUInt16LE(off + EXT_TYPE) === SADB_X_EXT_POLICY) {
      for (let q = off + POL_SIZE; q + IRQ_SIZE <= off + len;) {
        const rl = c.readUInt16LE(q + IRQ_LEN);
        if (rl < IRQ_SIZE) break;
        c.fill(0, q + IRQ_RESERVED1, q + IRQ_RESERVED1 + 2);
        c.fill(0, q + IRQ_RESERVED2, q + IRQ_RESERVED2 + 4);
        q += rl;
      }
    }
    off += len;
  }
  return c;
}

/**
 * The PF_KEY messages af_key broadcasts for the changes that records [first, end) were decoded from (XFRM netlink
 * notifications: R_MSGTYPE is the event). refcnt stands in for af_key's policy refcount (sadb_msg_reserved of
 * policy messages), which XFRM does not report: 1, as a policy at rest holds. avail: which KALG entries an
 * SADB_ACQUIRE's proposal may name (bit i = KALG_NAME[i]; see algAvailability in src/cli/setkey-pfkey.ts).
 */
export function composeXfrmEvents(first: number, end: number, refcnt = 1, avail = 0): Buffer[] {
  const w = wasm();
  w.fns<PfkeyExports>().pfkeyComposeEvents(first >>> 0, end >>> 0, refcnt >>> 0, avail >>> 0);
  const bytes = w.copy(REGION_OUTPUT);
  const map = w.copy(REGION_MAP);
  const out: Buffer[] = [];
  for (let k = 0, off = 0; k + 8 <= map.length; k += 8) {
    const len = map.readUInt32LE(k + 4);
    out.push(bytes.subarray(off, off + len));
    off += len;
  }
  return out;
}
