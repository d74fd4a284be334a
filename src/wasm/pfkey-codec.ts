// src/wasm/pfkey-codec.ts — TypeScript face of the PF_KEY v2 codec (layer: asm bindings). Owns: encodePfkey
// (records → PF_KEY requests, asm/src/pfkey-encode.ts), decodePfkey (PF_KEY messages → records,
// asm/src/pfkey-decode.ts), bare header messages (REGISTER, PROMISC) and walking the messages of a buffer.
import { REGION_OUTPUT, REGION_MAP } from '../../asm/shared/layout.js';
import { MSG_SIZE, MSG_TYPE, MSG_ERRNO, MSG_SATYPE, MSG_LEN, MSG_SEQ, MSG_PID, PFKEY_UNIT, PENC_NO_OA, PDEC_RESET, PDEC_KEEP_ALL } from '../../asm/shared/pfkey.js';
import { wasm } from './index.js';

interface PfkeyExports {
  pfkeyEncode(first: number, end: number, seqBase: number, pid: number, flags: number, maxBytes: number): number;
  pfkeyEncodeBare(type: number, satype: number, seq: number, pid: number): number;
  pfkeyDecode(len: number, flags: number): number;
  pfkeyDecodeMalformed(): number;
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
  /** One Buffer per message (views into one copy of the output). */
  messages: Buffer[];
  recordOfMessage: Uint32Array;
}

/** Encode records [first, end) as PF_KEY requests (one message per record that has one). */
export function encodePfkey(first: number, end: number, opts: PfkeyEncodeOptions = {}): PfkeyEncodeResult {
  const w = wasm();
  const fns = w.fns<PfkeyExports>();
  const consumed = fns.pfkeyEncode(first >>> 0, end >>> 0, (opts.seqBase ?? 0) >>> 0, (opts.pid ?? 0) >>> 0,
    opts.noNatOa ? PENC_NO_OA : 0, (opts.maxBytes ?? 0x7fffffff) >>> 0) >>> 0;
  const bytes = w.copy(REGION_OUTPUT);
  const map = w.copy(REGION_MAP);
  const recordOfMessage = new Uint32Array(map.length >>> 2);
  for (let i = 0; i < recordOfMessage.length; i++) recordOfMessage[i] = map.readUInt32LE(i * 4);
  return { consumed, messages: [...pfkeyMessages(bytes)].map((m) => m.bytes), recordOfMessage };
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
  for (const h of pfkeyMessages(buf)) return h;
  return null;
}
