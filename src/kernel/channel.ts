// src/kernel/channel.ts — a netlink request/response channel (layer: kernel). Owns sequence numbers,
// batched sends (many messages per sendmsg, one ack at the end), NLMSG_ERROR → KernelError with the
// extack text, multipart dumps (NLM_F_MULTI … NLMSG_DONE, NLM_F_DUMP_INTR), faults (EMSGSIZE: the batch is
// split and resent; ENOBUFS: pending requests fail saying their outcome is unknown), and demultiplexing of
// unsolicited messages (multicast events) from replies. The transport is injectable so the channel is
// unit-tested against a scripted fake kernel; the native socket proves it on a real one.
import { constants } from 'node:os';
import { KernelError } from './errors.js';

// linux/netlink.h
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_CAPPED = 0x100; // on NLMSG_ERROR: the original message was not echoed (NETLINK_CAP_ACK)
export const NLM_F_ACK_TLVS = 0x200; // on NLMSG_ERROR: extended-ack TLVs follow
export const NLMSGERR_ATTR_MSG = 1;
/** After an overrun, how long the socket must stay silent before the next send (ms). */
const QUIET_MS = 20;

/** What the channel needs from a socket (src/native's RawSocket satisfies it; tests script a fake). */
export interface Transport {
  readonly portId: number;
  send(buf: Buffer): number;
  start(onData: (datagrams: Buffer[]) => void, onError: (err: Error) => void): void;
  stop(): void;
  close(): void;
}

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The whole message, header included (a view into the datagram). */
  bytes: Buffer;
}

/** Splits a datagram into netlink messages; stops at the first malformed header. */
export function splitMessages(dgram: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= dgram.length) {
    const len = dgram.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > dgram.length) break;
    out.push({
      type: dgram.readUInt16LE(off + 4),
      flags: dgram.readUInt16LE(off + 6),
      seq: dgram.readUInt32LE(off + 8),
      pid: dgram.readUInt32LE(off + 12),
      bytes: dgram.subarray(off, off + len),
    });
    off += (len + 3) & ~3;
  }
  return out;
}

/** Decodes an NLMSG_ERROR message: errno (positive, 0 = ack) and the extack message if any. */
export function parseError(msg: NetlinkMessage): { errno: number; extack?: string } {
  const b = msg.bytes;
  if (b.length < NLMSG_HDRLEN + 4) return { errno: 0 };
  const errno = -b.readInt32LE(NLMSG_HDRLEN);
  let extack: string | undefined;
  if (msg.flags & NLM_F_ACK_TLVS) {
    // struct nlmsgerr: error, then the original header (and its payload unless capped), then TLVs.
    let off = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN;
    if (!(msg.flags & NLM_F_CAPPED) && b.length >= NLMSG_HDRLEN + 4 + 4) {
      const origLen = b.readUInt32LE(NLMSG_HDRLEN + 4);
      off = NLMSG_HDRLEN + 4 + ((origLen + 3) & ~3);
    }
    while (off + 4 <= b.length) {
      const alen = b.readUInt16LE(off);
      const atype = b.readUInt16LE(off + 2) & 0x3fff;
      if (alen < 4 || off + alen > b.length) break;
      if (atype === NLMSGERR_ATTR_MSG) {
        let end = off + alen;
        while (end > off + 4 && b[end - 1] === 0) end--;
        extack = b.toString('utf8', off + 4, end);
      }
      off += (alen + 3) & ~3;
    }
  }
  return extack === undefined ? { errno } : { errno, extack };
}

interface BatchWaiter {
  kind: 'batch';
  first: number;
  last: number;
  failures: Map<number, KernelError>;
  op: string;
  /** Handed to the socket (a waiter still queued behind an overrun has lost nothing). */
  sent: boolean;
  resolve: (f: Map<number, KernelError>) => void;
  reject: (e: Error) => void;
}

interface ReplyWaiter {
  kind: 'reply';
  seq: number;
  op: string;
  chunks: Buffer[];
  count: number;
  interrupted: boolean;
  sent: boolean;
  /** The request, kept to resend it after an overrun (dumps and gets change nothing). */
  bytes: Buffer;
  retries: number;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

/** A request's answer: the reply messages, as runs of whole netlink messages (views into datagrams). */
export interface Reply {
  chunks: Buffer[];
  /** How many messages the chunks hold. */
  count: number;
  /** The kernel flagged the dump as inconsistent (NLM_F_DUMP_INTR): the caller should retry. */
  interrupted: boolean;
}

type Waiter = BatchWaiter | ReplyWaiter;

export interface ChannelOptions {
  /** Rejects a pending request when the kernel stays silent this long (ms). */
  timeoutMs?: number;
  /** Called for messages that answer no request (multicast events). */
  onEvent?: (msg: NetlinkMessage) => void;
  /** Called when the kernel dropped messages for us (ENOBUFS). Pending requests are failed too. */
  onOverrun?: (err: Error) => void;
  /** The network namespace the socket lives in (undefined: the host's), for whoever keeps per-namespace state. */
  netns?: string;
}

export class NetlinkChannel {
  readonly #t: Transport;
  readonly #opts: ChannelOptions;
  #seq = Math.floor(Date.now() / 1000) & 0x3fffffff; // like iproute2: seq starts at the time
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | null = null;
  #lastActivity = 0;
  #lastData = 0;
  /** An overrun happened: replies may still be queued, and drops go unreported until the queue drains. */
  #dirty = false;
  #closed = false;
  #started = false;

  constructor(transport: Transport, opts: ChannelOptions = {}) {
    this.#t = transport;
    this.#opts = opts;
  }

  get portId(): number { return this.#t.portId; }

  /** The namespace given at open (undefined: the host's). */
  get netns(): string | undefined { return this.#opts.netns; }

  /** Reserves `n` consecutive sequence numbers and returns the first. */
  allocSeq(n = 1): number {
    if (this.#seq + n >= 0xffffffff) this.#seq = 1;
    const first = this.#seq;
    this.#seq += n;
    return first;
  }

  #ensureStarted(): void {
    if (this.#started) return;
    this.#started = true;
    this.#t.start((d) => this.#onData(d), (e) => this.#onError(e));
  }

  #armTimer(): void {
    this.#lastActivity = Date.now();
    if (this.#timer) return;
    const timeout = this.#opts.timeoutMs ?? 30000;
    this.#timer = setInterval(() => {
      if (this.#waiters.length === 0) { this.#disarm(); return; }
      if (Date.now() - this.#lastActivity > timeout) {
        const err = new KernelError(110 /* ETIMEDOUT */, `no answer from the kernel within ${timeout} ms`);
        for (const w of this.#waiters.splice(0)) w.reject(err);
        this.#disarm();
      }
    }, Math.min(1000, timeout));
  }

  #disarm(): void {
    if (this.#timer) { clearInterval(this.#timer); this.#timer = null; }
  }

  #onError(err: Error): void {
    // ENOBUFS: the kernel dropped messages addressed to us; acks of pending requests may be among them, so
    // what those batches did is unknown. Never guessed: each sent batch fails and says so. Dumps and gets
    // change nothing and are sent again (a few times). While the kernel marks the socket congested it drops
    // silently, so nothing new is sent until our receive queue has been drained (see #afterQuiet).
    this.#opts.onOverrun?.(err);
    const overrun = (err as NodeJS.ErrnoException).code === 'ENOBUFS';
    if (overrun) this.#dirty = true;
    for (const w of [...this.#waiters]) {
      if (!w.sent) continue;
      if (!overrun) { this.#settle(w); w.reject(err); continue; }
      if (w.kind === 'reply' && w.retries < 3) { this.#resend(w); continue; }
      this.#settle(w);
      const what = w.kind === 'batch'
        ? `its replies overflowed the socket receive buffer; the outcome of the ${w.last - w.first + 1} operation(s) of this batch is unknown: check the kernel state (dump) before retrying`
        : 'its replies overflowed the socket receive buffer again and again; retry with a larger receive buffer';
      w.reject(new KernelError(constants.errno.ENOBUFS, w.op, w.kind === 'batch' ? w.first : w.seq, what));
    }
  }

  /** Sends a dump/get again under a new sequence number (stale parts of the first answer are then ignored). */
  #resend(w: ReplyWaiter): void {
    w.retries++;
    w.seq = this.allocSeq(1);
    w.bytes = Buffer.from(w.bytes);
    w.bytes.writeUInt32LE(w.seq, 8);
    w.chunks = []; w.count = 0; w.interrupted = false; w.sent = false;
    this.#dispatch(w, () => this.#t.send(w.bytes));
  }

  /** Runs `send` for waiter `w` now, or once the receive queue has drained after an overrun. */
  #dispatch(w: Waiter, send: () => void): void {
    const go = (): void => {
      if (!this.#waiters.includes(w)) return; // failed (timeout, close) meanwhile
      w.sent = true;
      try { send(); } catch (e) { this.#settle(w); w.reject(e as Error); }
    };
    if (!this.#dirty) { go(); return; }
    const check = (): void => {
      // Every reply to what we sent was queued during its sendmsg (XFRM handles requests synchronously):
      // once nothing has arrived for QUIET_MS the reader has emptied the queue and drops are reported again.
      if (Date.now() - this.#lastData >= QUIET_MS) { this.#dirty = false; go(); } else setTimeout(check, QUIET_MS);
    };
    setTimeout(check, QUIET_MS);
  }

  #find(seq: number): Waiter | undefined {
    for (const w of this.#waiters) {
      if (w.kind === 'batch' ? seq >= w.first && seq <= w.last : seq === w.seq) return w;
    }
    return undefined;
  }

  #settle(w: Waiter): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
    if (this.#waiters.length === 0) this.#disarm();
  }

  #onData(datagrams: Buffer[]): void {
    this.#lastActivity = this.#lastData = Date.now();
    const me = this.#t.portId;
    for (const d of datagrams) {
      // Walk headers in place: a dump datagram holds dozens of messages and must not become objects.
      let off = 0;
      let run: ReplyWaiter | null = null;
      let runStart = 0;
      const flush = (end: number): void => {
        if (run && end > runStart) run.chunks.push(d.subarray(runStart, end));
        run = null;
      };
      // a DataView, not Buffer#readUInt32LE: its argument checks cost ~10% of a 100k-policy list
      const dv = new DataView(d.buffer, d.byteOffset, d.length);
      while (off + NLMSG_HDRLEN <= d.length) {
        const len = dv.getUint32(off, true);
        if (len < NLMSG_HDRLEN || off + len > d.length) break;
        const type = dv.getUint16(off + 4, true);
        const flags = dv.getUint16(off + 6, true);
        const seq = dv.getUint32(off + 8, true);
        const pid = dv.getUint32(off + 12, true);
        const next = off + ((len + 3) & ~3);
        const w = pid === me || type === NLMSG_ERROR ? this.#find(seq) : undefined;
        if (w !== run) flush(off);
        if (!w) {
          if (seq === 0 || pid !== me) this.#opts.onEvent?.({ type, flags, seq, pid, bytes: d.subarray(off, off + len) });
        } else if (w.kind === 'batch') {
          if (type === NLMSG_ERROR) {
            const { errno, extack } = parseError({ type, flags, seq, pid, bytes: d.subarray(off, off + len) });
            if (errno !== 0) w.failures.set(seq, new KernelError(errno, w.op, seq, extack));
            if (seq === w.last) { this.#settle(w); w.resolve(w.failures); }
          }
        } else {
          if (flags & NLM_F_DUMP_INTR) w.interrupted = true;
          if (type === NLMSG_ERROR || type === NLMSG_DONE) {
            flush(off);
            this.#settle(w);
            const { errno, extack } = type === NLMSG_ERROR ? parseError({ type, flags, seq, pid, bytes: d.subarray(off, off + len) }) : { errno: 0, extack: undefined };
            if (errno !== 0) w.reject(new KernelError(errno, w.op, seq, extack));
            else w.resolve({ chunks: w.chunks, count: w.count, interrupted: w.interrupted });
          } else {
            if (run !== w) { run = w; runStart = off; }
            w.count++;
            if (!(flags & NLM_F_MULTI)) {
              flush(next);
              this.#settle(w);
              w.resolve({ chunks: w.chunks, count: w.count, interrupted: w.interrupted });
            }
          }
        }
        off = next;
      }
      flush(Math.min(off, d.length));
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('netlink channel is closed');
  }

  /**
   * Sends pre-encoded messages with seqs first..first+count-1 in one sendmsg. The last must carry
   * NLM_F_ACK (the others may): the kernel handles a sendmsg's messages in order, so once the last
   * one is acknowledged every earlier error has arrived. Resolves with the failures by seq.
   */
  transact(bytes: Buffer, first: number, count: number, op = 'request'): Promise<Map<number, KernelError>> {
    this.#check();
    this.#ensureStarted();
    return new Promise((resolve, reject) => {
      const w: BatchWaiter = { kind: 'batch', first, last: first + count - 1, failures: new Map(), op, sent: false, resolve, reject };
      this.#waiters.push(w);
      this.#armTimer();
      this.#dispatch(w, () => this.#sendSplitting(bytes, op));
    });
  }

  /**
   * Sends a batch; when the socket refuses it as too large (EMSGSIZE: more than the send buffer allows, and
   * nothing was sent), sends it as two halves, each ending in an ack, until the parts fit. One message that
   * cannot fit alone is reported as a KernelError EMSGSIZE.
   */
  #sendSplitting(bytes: Buffer, op: string): void {
    try {
      this.#t.send(bytes);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EMSGSIZE') throw e;
      const offs: number[] = [];
      for (let off = 0; off + NLMSG_HDRLEN <= bytes.length;) {
        const len = bytes.readUInt32LE(off);
        if (len < NLMSG_HDRLEN) break;
        offs.push(off);
        off += (len + 3) & ~3;
      }
      if (offs.length < 2) {
        throw new KernelError(constants.errno.EMSGSIZE, op, bytes.length >= NLMSG_HDRLEN ? bytes.readUInt32LE(8) : 0,
          `one message of ${bytes.length} bytes is larger than the socket send buffer allows; nothing was sent`);
      }
      const mid = offs[offs.length >> 1]!;
      const head = Buffer.from(bytes.subarray(0, mid));
      const last = offs[(offs.length >> 1) - 1]!;
      head.writeUInt16LE(head.readUInt16LE(last + 6) | NLM_F_ACK, last + 6); // its ack says the first half is done
      this.#sendSplitting(head, op);
      this.#sendSplitting(bytes.subarray(mid), op);
    }
  }

  /** Sends one request and collects its reply messages (a dump's parts, or a single reply). */
  request(bytes: Buffer, seq: number, op = 'request'): Promise<Reply> {
    this.#check();
    this.#ensureStarted();
    return new Promise((resolve, reject) => {
      const w: ReplyWaiter = { kind: 'reply', seq, op, chunks: [], count: 0, interrupted: false, sent: false, bytes, retries: 0, resolve, reject };
      this.#waiters.push(w);
      this.#armTimer();
      this.#dispatch(w, () => this.#t.send(bytes));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    const err = new Error('netlink channel closed');
    for (const w of this.#waiters.splice(0)) w.reject(err);
    try { this.#t.stop(); } catch { /* already stopped */ }
    this.#t.close();
  }
}
