// src/kernel/xfrm.ts — the XFRM netlink backend (layer: kernel). Owns turning record ranges into
// large batched sends (encoded in wasm), mapping each kernel error back to its record, and dumps
// decoded straight into wasm records. Knows nothing about setkey or ip syntax.
import { NetlinkChannel, NLM_F_ACK, NLMSG_HDRLEN, type Transport, type Reply } from './channel.js';
import { KernelError } from './errors.js';
import { encodeXfrm, decodeXfrm } from '../wasm/xfrm-codec.js';
import { wasm } from '../wasm/index.js';
import {
  REGION_RECORDS, REGION_BLOB, REC_SIZE, OP_SA_DUMP, OP_SP_DUMP, OP_SA_FLUSH, OP_SP_FLUSH, R_KIND, R_PROTO,
  R_FLAGS, RF_NO_ACK, TMPL_SIZE,
} from '../../asm/shared/layout.js';
import { openNetlinkXfrm } from '../native/index.js';

const EMPTY = Buffer.alloc(0);

export interface XfrmOpenOptions {
  netns?: string;
  /** Kernel socket buffers; large sends need a large sndbuf, many errors a large rcvbuf. */
  sndbuf?: number;
  rcvbuf?: number;
  timeoutMs?: number;
}

export interface ApplyProgress {
  done: number;
  total: number;
}

export interface ApplyOptions {
  /** Bytes per sendmsg (the kernel handles one sendmsg's messages in one go). */
  chunkBytes?: number;
  onProgress?: (p: ApplyProgress) => void;
  /** Stop sending further chunks after the first chunk with a failure. */
  stopOnError?: boolean;
}

/** A failed record: its index in REGION_RECORDS and the kernel's answer. */
export interface RecordFailure {
  record: number;
  error: KernelError;
}

export class XfrmKernel {
  readonly channel: NetlinkChannel;

  constructor(channel: NetlinkChannel) {
    this.channel = channel;
  }

  static open(opts: XfrmOpenOptions = {}): XfrmKernel {
    const sock = openNetlinkXfrm({
      ...(opts.netns ? { netns: opts.netns } : {}),
      sndbuf: opts.sndbuf ?? 8 << 20,
      rcvbuf: opts.rcvbuf ?? 8 << 20,
    });
    return new XfrmKernel(new NetlinkChannel(sock as Transport, { timeoutMs: opts.timeoutMs ?? 60000 }));
  }

  close(): void {
    this.channel.close();
  }

  /**
   * Sends records [first, end) in batches and resolves with the failures in record order. Every record
   * is sent (the kernel decides), unless stopOnError cuts off later chunks.
   */
  async apply(first: number, end: number, opts: ApplyOptions = {}): Promise<{ failures: RecordFailure[]; sent: number }> {
    const failures: RecordFailure[] = [];
    const chunkBytes = opts.chunkBytes ?? 1 << 20;
    let next = first;
    while (next < end) {
      const seqBase = this.channel.allocSeq(0);
      const enc = encodeXfrm(next, end, { seqBase, ack: false, maxBytes: chunkBytes });
      if (enc.consumed === 0) throw new Error('encoder made no progress');
      const count = enc.recordOfMessage.length;
      this.channel.allocSeq(count);
      setAckOnLast(enc.bytes);
      const failed = await this.channel.transact(enc.bytes, seqBase, count, 'apply');
      for (const [seq, error] of failed) failures.push({ record: enc.recordOfMessage[seq - seqBase]!, error });
      next += enc.consumed;
      opts.onProgress?.({ done: next - first, total: end - first });
      if (failed.size > 0 && opts.stopOnError) break;
    }
    failures.sort((a, b) => a.record - b.record);
    return { failures, sent: next - first };
  }

  /** Sends one record's request and returns the raw reply (dumps and gets). */
  async requestRecord(index: number): Promise<Reply> {
    const seq = this.channel.allocSeq(1);
    const enc = encodeXfrm(index, index + 1, { seqBase: seq, ack: 'ip', maxBytes: 1 << 20 });
    return this.channel.request(enc.bytes, seq, 'request');
  }

  /**
   * Dumps SAs (or policies) and decodes them as records appended after the current ones. Returns the
   * range [first, end) of the decoded records. Retries a dump the kernel flagged as interrupted.
   */
  async dump(what: 'sa' | 'policy'): Promise<{ first: number; end: number }> {
    const w = wasm();
    for (let attempt = 0; ; attempt++) {
      const mark = markRecords();
      const idx = appendRequestRecord(what === 'sa' ? OP_SA_DUMP : OP_SP_DUMP, 0);
      const reply = await this.requestRecord(idx);
      restoreRecords(mark);
      if (reply.interrupted && attempt < 3) continue;
      if (reply.interrupted) throw new KernelError(4 /* EINTR */, `${what} dump kept changing under us (NLM_F_DUMP_INTR); retry`);
      // Size the regions for the whole dump first: growing them by doubling while decoding would copy
      // and leave the outgrown blocks behind (time and peak memory on 100k-entry tables).
      let bytes = 0;
      for (const c of reply.chunks) bytes += c.length;
      const f = w.fns<{ reserveRegion(r: number, n: number): void }>();
      f.reserveRegion(REGION_RECORDS, reply.count * REC_SIZE);
      f.reserveRegion(REGION_BLOB, bytes + reply.count * TMPL_SIZE);
      for (let i = 0; i < reply.chunks.length; i++) {
        decodeXfrm(reply.chunks[i]!, { append: true });
        reply.chunks[i] = EMPTY; // let each datagram go as soon as it is decoded
      }
      return { first: mark.records, end: w.regionLen(REGION_RECORDS) / REC_SIZE };
    }
  }

  /** Flushes SAs of one protocol (255 = ESP, AH and IPComp) or all main-type policies. */
  async flush(what: 'sa' | 'policy', proto = 255): Promise<void> {
    const mark = markRecords();
    const idx = appendRequestRecord(what === 'sa' ? OP_SA_FLUSH : OP_SP_FLUSH, proto);
    try {
      const r = await this.apply(idx, idx + 1);
      if (r.failures[0]) throw r.failures[0].error;
    } finally {
      restoreRecords(mark);
    }
  }
}

/** Walks the messages of an encoded batch and sets NLM_F_ACK on the last one. */
export function setAckOnLast(bytes: Buffer): void {
  let off = 0, last = -1;
  while (off + NLMSG_HDRLEN <= bytes.length) {
    const len = bytes.readUInt32LE(off);
    if (len < NLMSG_HDRLEN) break;
    last = off;
    off += (len + 3) & ~3;
  }
  if (last >= 0) bytes.writeUInt16LE(bytes.readUInt16LE(last + 6) | NLM_F_ACK, last + 6);
}

export interface RecordMark { records: number; recordBytes: number; blobBytes: number }

/** Remembers where the record and blob regions end, to drop temporary records later. */
export function markRecords(): RecordMark {
  const w = wasm();
  const recordBytes = w.regionLen(REGION_RECORDS);
  return { records: recordBytes / REC_SIZE, recordBytes, blobBytes: w.regionLen(REGION_BLOB) };
}

export function restoreRecords(m: RecordMark): void {
  const fns = wasm().fns<{ truncateRegion(r: number, len: number): void }>();
  fns.truncateRegion(REGION_RECORDS, m.recordBytes);
  fns.truncateRegion(REGION_BLOB, m.blobBytes);
}

/** Appends a bare request record (dump/flush) and returns its index. */
export function appendRequestRecord(kind: number, proto: number): number {
  const w = wasm();
  const fns = w.fns<{ appendRegion(r: number, n: number): number }>();
  const off = fns.appendRegion(REGION_RECORDS, REC_SIZE) >>> 0;
  const base = w.regionPtr(REGION_RECORDS) + off;
  const dv = w.dv;
  dv.setUint8(base + R_KIND, kind);
  dv.setUint8(base + R_PROTO, proto);
  dv.setUint32(base + R_FLAGS, 0, true);
  void RF_NO_ACK;
  return off / REC_SIZE;
}
