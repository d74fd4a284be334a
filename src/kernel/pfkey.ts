// src/kernel/pfkey.ts — the PF_KEY v2 backend (layer: kernel). Owns a PF_KEY socket's request/reply traffic:
// sequence numbers, replies matched by sadb_msg_seq + sadb_msg_pid (af_key echoes both, in its broadcast of a
// change as in its error reply), many requests written back to back (sendmmsg) before their replies are read,
// errors as KernelError per record, multi-message dumps (sadb_msg_seq counts down to 0), SADB_REGISTER and the
// promiscuous mode setkey -x uses. Same surface as src/kernel/xfrm.ts, so the engine drives either.
import { KernelError } from './errors.js';
import { openPfKey, type RawSocket } from '../native/index.js';
import { encodePfkey, decodePfkey, bareMessage, pfkeyHeader, type PfkeyHeader } from '../wasm/pfkey-codec.js';
import { wasm } from '../wasm/index.js';
import { markRecords, type ApplyOptions, type RecordFailure } from './xfrm.js';
import { REGION_RECORDS, REGION_BLOB, REC_SIZE, TMPL_SIZE } from '../../asm/shared/layout.js';
import {
  SADB_REGISTER, SADB_DUMP, SADB_X_SPDDUMP, SADB_X_PROMISC, SADB_ADD, SADB_UPDATE, SADB_DELETE, SADB_GET, SADB_FLUSH,
  SADB_GETSPI, SADB_X_SPDADD, SADB_X_SPDUPDATE, SADB_X_SPDDELETE, SADB_X_SPDDELETE2, SADB_X_SPDGET, SADB_X_SPDFLUSH,
  MSG_SIZE, MSG_TYPE, MSG_ERRNO, MSG_SEQ, MSG_PID,
} from '../../asm/shared/pfkey.js';

export interface PfkeyOpenOptions {
  netns?: string;
  /** Replies of a whole window must fit: each takes about 1 KiB of receive buffer (skb truesize). */
  rcvbuf?: number;
  timeoutMs?: number;
  /** sadb_msg_pid of our requests (setkey: getpid()). */
  pid?: number;
  /** Requests written before their replies are read (default: as many as the receive buffer holds replies for). */
  window?: number;
}

/** A message we sent or received, for -v/-H traces. */
export type PfkeyTrace = (dir: 'send' | 'recv', msg: Buffer) => void;

const TYPE_NAMES: Record<number, string> = {
  [SADB_GETSPI]: 'getspi', [SADB_UPDATE]: 'update', [SADB_ADD]: 'add', [SADB_DELETE]: 'delete', [SADB_GET]: 'get',
  [SADB_REGISTER]: 'register', [SADB_FLUSH]: 'flush', [SADB_DUMP]: 'dump', [SADB_X_SPDADD]: 'spdadd',
  [SADB_X_SPDUPDATE]: 'spdupdate', [SADB_X_SPDDELETE]: 'spddelete', [SADB_X_SPDDELETE2]: 'spddelete2',
  [SADB_X_SPDGET]: 'spdget', [SADB_X_SPDDUMP]: 'spddump', [SADB_X_SPDFLUSH]: 'spdflush', [SADB_X_PROMISC]: 'promisc',
};

interface Pending { resolve: (m: Buffer) => void; reject: (e: Error) => void }
/** The requests of one apply() window: seq base..base+count-1; one waiter for all (no promise per message).
 *  errno[k] is the reply's sadb_msg_errno of request k, seen[k] whether it has arrived. */
/**
 * The requests of one apply window: message k has seq base + k, except SADB_ADD/UPDATE, which go out with seq 0 as
 * setkey's do (af_key stores it as the SA's km.seq). af_key handles requests in order and answers each exactly
 * once to its sender (the broadcast of the change, or the error), so a seq-0 reply with our pid answers the oldest
 * unanswered seq-0 request: `zero` lists those k in order, `zc` is the next one.
 */
interface Window {
  base: number; count: number; left: number; errno: Uint8Array; seen: Uint8Array; zero: Uint32Array; zc: number;
  resolve: () => void; reject: (e: Error) => void;
}

/** Receive-buffer bytes one reply may take (skb truesize of a ~300-byte af_key message rounds up to ~1.3 KiB). */
const REPLY_TRUESIZE = 2048;
interface DumpWaiter { type: number; msgs: Buffer[]; resolve: (m: Buffer[]) => void; reject: (e: Error) => void }

// Sequence numbers are unique across every PF_KEY socket of this process: af_key broadcasts a change to all
// sockets of the namespace with the requester's seq/pid, so two sockets of one process must never share one.
// SADB_ADD/UPDATE go out with seq 0 (Window): two sockets of one process must not apply SAs at the same time
// (nothing in keyfleet does; the agent and the atomic engine's journal use XFRM netlink).
let nextSeq = 1;
function takeSeq(n: number): number {
  // a window never wraps through 0 (seq 0 is the order-matched SADB_ADD/UPDATE)
  if (nextSeq + n > 0xffffffff) nextSeq = 1;
  const s = nextSeq;
  nextSeq += n;
  return s;
}

export class PfkeyKernel {
  readonly name = 'pfkey' as const;
  readonly pid: number;
  /** The network namespace the socket was opened in (undefined: this process's). */
  readonly netns: string | undefined;
  #sock: RawSocket;
  #timeoutMs: number;
  #window: number;
  #pending = new Map<number, Pending>();
  #dump: DumpWaiter | null = null;
  #win: Window | null = null;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | null = null;
  /** Called for every message sent and received (setkey -v / -H). */
  trace: PfkeyTrace | null = null;
  /** Messages nobody waits for (broadcasts of other sockets' changes, promiscuous copies). */
  onUnsolicited: ((m: Buffer) => void) | null = null;

  private constructor(sock: RawSocket, opts: PfkeyOpenOptions) {
    this.#sock = sock;
    this.pid = opts.pid ?? process.pid;
    this.netns = opts.netns;
    this.#timeoutMs = opts.timeoutMs ?? 120_000;
    // af_key drops a reply that does not fit the receive buffer (pfkey_broadcast_one), silently: a window never
    // asks for more replies than the buffer holds (32 MiB as root: SO_RCVBUFFORCE; ~400 KiB without it)
    this.#window = opts.window ?? Math.max(1, Math.min(16384, Math.floor(sock.getBuffers().rcvbuf / REPLY_TRUESIZE)));
    sock.start((dgrams) => this.#receive(dgrams), (e) => this.#failAll(e));
  }

  static open(opts: PfkeyOpenOptions = {}): PfkeyKernel {
    const sock = openPfKey({ ...(opts.netns ? { netns: opts.netns } : {}), sndbuf: 1 << 20, rcvbuf: opts.rcvbuf ?? 16 << 20 });
    return new PfkeyKernel(sock, opts);
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#sock.close();
    this.#failAll(new Error('PF_KEY socket closed'));
  }

  #receive(dgrams: Buffer[]): void {
    this.#lastActivity = Date.now();
    for (const d of dgrams) this.#handle(d, 0, d.length);
    this.#idle();
  }

  /**
   * The datagram at b[off, off+len). Replies of the apply window are matched in place (struct sadb_msg read from
   * the bytes: this runs once per reply of a bulk load); only other messages become Buffers of their own.
   */
  #handle(b: Buffer, off: number, len: number): void {
    if (len < MSG_SIZE) return;
    const w = this.#win;
    if (w && !this.trace && b.readUInt32LE(off + MSG_PID) === this.pid && !this.#dumpTypeIs(b[off + MSG_TYPE]!)) {
      const seq = b.readUInt32LE(off + MSG_SEQ);
      const k = seq === 0 ? (w.zc < w.zero.length ? w.zero[w.zc++]! : -1) : (seq - w.base) >>> 0;
      if (k >= 0 && k < w.count) {
        // af_key answers each request once to its sender (a broadcast of the change, or the error)
        if (w.seen[k] === 0) {
          w.seen[k] = 1;
          w.errno[k] = b[off + MSG_ERRNO]!;
          if (--w.left === 0) { this.#win = null; w.resolve(); }
        }
        return;
      }
    }
    const d = off === 0 && len === b.length ? b : b.subarray(off, off + len);
    this.trace?.('recv', d);
    if (d.readUInt32LE(MSG_PID) === this.pid) {
      const seq = d.readUInt32LE(MSG_SEQ), type = d[MSG_TYPE]!;
      const dump = this.#dump;
      if (dump && type === dump.type) {
        if (d[MSG_ERRNO] !== 0) { this.#dump = null; dump.reject(new KernelError(d[MSG_ERRNO]!, TYPE_NAMES[type] ?? 'dump', seq)); return; }
        dump.msgs.push(d);
        if (seq === 0) { this.#dump = null; dump.resolve(dump.msgs); }
        return;
      }
      if (w && seq === 0 && w.zc < w.zero.length) {
        const k = w.zero[w.zc++]!;
        if (w.seen[k] === 0) {
          w.seen[k] = 1;
          w.errno[k] = d[MSG_ERRNO]!;
          if (--w.left === 0) { this.#win = null; w.resolve(); }
        }
        return;
      }
      if (w && ((seq - w.base) >>> 0) < w.count) {
        const k = (seq - w.base) >>> 0;
        if (w.seen[k] === 0) {
          w.seen[k] = 1;
          w.errno[k] = d[MSG_ERRNO]!;
          if (--w.left === 0) { this.#win = null; w.resolve(); }
        }
        return;
      }
      const p = this.#pending.get(seq);
      if (p) { this.#pending.delete(seq); p.resolve(d); return; }
    }
    this.onUnsolicited?.(d);
  }

  #dumpTypeIs(type: number): boolean { return this.#dump !== null && this.#dump.type === type; }

  /** Reads what is queued now, in one native call, and handles it (replies af_key queued during our send). */
  #drain(): void {
    const { bytes, lengths } = this.#sock.recvPacked();
    if (lengths.length === 0) return;
    this.#lastActivity = Date.now();
    for (let k = 0, off = 0; k < lengths.length; off += lengths[k++]!) this.#handle(bytes, off, lengths[k]!);
    this.#idle();
  }

  #failAll(e: Error): void {
    const pend = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pend) p.reject(e);
    const d = this.#dump;
    this.#dump = null;
    d?.reject(e);
    const w = this.#win;
    this.#win = null;
    w?.reject(e);
  }

  /** A watchdog while replies are outstanding: no message for timeoutMs fails them (af_key dropped some). */
  #arm(): void {
    this.#lastActivity = Date.now();
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastActivity > this.#timeoutMs) {
        this.#failAll(new KernelError(110 /* ETIMEDOUT */, `no PF_KEY reply within ${this.#timeoutMs / 1000} s (replies dropped: receive buffer full?)`));
      }
    }, Math.min(1000, this.#timeoutMs));
  }

  #idle(): void {
    if (this.#timer && this.#pending.size === 0 && !this.#dump && !this.#win) { clearInterval(this.#timer); this.#timer = null; }
  }

  #send(msgs: Buffer[]): void {
    if (this.trace) for (const m of msgs) this.trace('send', m);
    let off = 0;
    while (off < msgs.length) {
      const n = this.#sock.sendEach(off === 0 ? msgs : msgs.slice(off));
      if (n <= 0) throw new KernelError(105 /* ENOBUFS */, 'send');
      off += n;
    }
  }

  /** Messages back to back in one buffer (lengths[k] bytes each), with one sendmmsg per 1024. */
  #sendPacked(bytes: Buffer, lengths: Uint32Array): void {
    if (this.trace) for (let k = 0, off = 0; k < lengths.length; off += lengths[k++]!) this.trace('send', bytes.subarray(off, off + lengths[k]!));
    const n = this.#sock.sendPacked(bytes, lengths);
    if (n < lengths.length) throw new KernelError(105 /* ENOBUFS */, 'send');
  }

  /** One request and its reply. */
  async request(msg: Buffer): Promise<Buffer> {
    const h = pfkeyHeader(msg)!;
    const p = new Promise<Buffer>((resolve, reject) => this.#pending.set(h.seq, { resolve, reject }));
    this.#arm();
    this.#send([msg]);
    return p;
  }

  /** SADB_REGISTER for every satype (setkey's get_supported()); resolves with the SUPPORTED reply. */
  async register(satype = 0): Promise<Buffer> {
    const r = await this.request(bareMessage(SADB_REGISTER, satype, takeSeq(1), this.pid));
    const h = pfkeyHeader(r)!;
    if (h.errno !== 0) throw new KernelError(h.errno, 'register', h.seq);
    return r;
  }

  /**
   * Sends records [first, end) as PF_KEY requests, up to `window` outstanding at once, and resolves with the
   * failures in record order. Every record is sent unless stopOnError cuts off later windows.
   */
  async apply(first: number, end: number, opts: ApplyOptions = {}): Promise<{ failures: RecordFailure[]; sent: number }> {
    const failures: RecordFailure[] = [];
    let next = first;
    while (next < end) {
      if (nextSeq + this.#window > 0xffffffff) nextSeq = 1;
      const seqBase = nextSeq;
      // the encoder stops the window early when its requests (about the size of their replies) pass a quarter of it
      const enc = encodePfkey(next, Math.min(end, next + this.#window), { seqBase, pid: this.pid, maxBytes: opts.chunkBytes ?? Math.max(4096, (this.#window * REPLY_TRUESIZE) >> 2) });
      if (enc.consumed === 0) throw new Error('encoder made no progress');
      const count = enc.lengths.length;
      takeSeq(count);
      if (count > 0) {
        const zero = new Uint32Array(count);
        let zeros = 0;
        for (let k = 0, off = 0; k < count; off += enc.lengths[k++]!) if (enc.bytes.readUInt32LE(off + MSG_SEQ) === 0) zero[zeros++] = k;
        const w: Window = { base: seqBase, count, left: count, errno: new Uint8Array(count), seen: new Uint8Array(count), zero: zero.subarray(0, zeros), zc: 0, resolve: () => {}, reject: () => {} };
        let failed: Error | null = null;
        w.reject = (e) => { failed = e; };
        this.#win = w;
        this.#arm();
        this.#sendPacked(enc.bytes, enc.lengths);
        // af_key handles each request inside sendmsg and queues its reply there and then: read them all at once
        this.#drain();
        if (failed) throw failed;
        if (w.left > 0) {
          // not all there (a reply af_key could not queue, or a socket error): wait for the rest, under the watchdog
          await new Promise<void>((resolve, reject) => {
            w.resolve = resolve; w.reject = reject;
            if (failed) reject(failed);
          });
        }
        this.#idle();
        // one turn of the event loop per window, so other sockets (a -x spy, an agent's watchers) are read while a
        // long batch runs, as when replies were awaited
        await new Promise<void>((resolve) => setImmediate(resolve));
        for (let k = 0; k < count; k++) {
          const errno = w.errno[k]!;
          if (errno !== 0) failures.push({ record: enc.recordOfMessage[k]!, error: new KernelError(errno, TYPE_NAMES[enc.messages[k]![MSG_TYPE]!] ?? 'request', seqBase + k) });
        }
      }
      next += enc.consumed;
      opts.onProgress?.({ done: next - first, total: end - first });
      if (failures.length > 0 && opts.stopOnError) break;
    }
    failures.sort((a, b) => a.record - b.record);
    return { failures, sent: next - first };
  }

  /** The raw messages of an SADB_DUMP / SADB_X_SPDDUMP (empty when the kernel answers ENOENT). */
  async dumpMessages(what: 'sa' | 'policy', satype = 0): Promise<Buffer[]> {
    if (this.#dump) throw new Error('a PF_KEY dump is already running on this socket');
    const type = what === 'sa' ? SADB_DUMP : SADB_X_SPDDUMP;
    const p = new Promise<Buffer[]>((resolve, reject) => { this.#dump = { type, msgs: [], resolve, reject }; });
    this.#arm();
    this.#send([bareMessage(type, what === 'sa' ? satype : 0, takeSeq(1), this.pid)]);
    try {
      return await p;
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Dumps SAs (or policies) into records appended after the current ones; returns their range. */
  async dump(what: 'sa' | 'policy', satype = 0): Promise<{ first: number; end: number }> {
    const msgs = await this.dumpMessages(what, satype);
    const w = wasm();
    const first = markRecords().records;
    let bytes = 0;
    for (const m of msgs) bytes += m.length;
    const f = w.fns<{ reserveRegion(r: number, n: number): void }>();
    f.reserveRegion(REGION_RECORDS, msgs.length * REC_SIZE);
    f.reserveRegion(REGION_BLOB, bytes + msgs.length * TMPL_SIZE * 2 + 512);
    for (const m of msgs) decodePfkey(m, { append: true });
    return { first, end: w.regionLen(REGION_RECORDS) / REC_SIZE };
  }

  /** SADB_GET (or SPDGET) of record `index`; the reply decoded into records appended at the end. */
  async get(index: number): Promise<{ first: number; end: number }> {
    const enc = encodePfkey(index, index + 1, { seqBase: takeSeq(1), pid: this.pid });
    const msg = enc.messages[0];
    if (!msg) throw new Error(`record ${index} has no PF_KEY request`);
    const reply = await this.request(msg);
    const h = pfkeyHeader(reply)!;
    if (h.errno !== 0) throw new KernelError(h.errno, TYPE_NAMES[h.type] ?? 'get', h.seq);
    const first = markRecords().records;
    decodePfkey(reply, { append: true });
    return { first, end: wasm().regionLen(REGION_RECORDS) / REC_SIZE };
  }

  /** Flushes SAs of one protocol (255 = all) or all policies (setkey -F / -FP: sendkeyshort). */
  async flush(what: 'sa' | 'policy', proto = 255): Promise<void> {
    const satype = what === 'sa' ? (proto === 50 ? 3 : proto === 51 ? 2 : proto === 108 ? 9 : 0) : 0;
    const r = pfkeyHeader(await this.request(bareMessage(what === 'sa' ? SADB_FLUSH : SADB_X_SPDFLUSH, satype, takeSeq(1), this.pid)))!;
    if (r.errno !== 0) throw new KernelError(r.errno, what === 'sa' ? 'flush' : 'spdflush', r.seq);
  }

  /**
   * setkey -x: SADB_X_PROMISC (satype 1 = on), then every message of the namespace's PF_KEY traffic goes to
   * onMessage (requests of every socket, replies and broadcasts) until close().
   */
  async promisc(onMessage: (m: Buffer, h: PfkeyHeader) => void): Promise<void> {
    this.onUnsolicited = (m) => { const h = pfkeyHeader(m); if (h) onMessage(m, h); };
    const msg = bareMessage(SADB_X_PROMISC, 1, takeSeq(1), this.pid);
    // af_key answers PROMISC with a broadcast of the request; everything after it is traffic
    this.#send([msg]);
  }
}
