// src/engine/atomic.ts — all-or-nothing application of a record range (layer: engine). Owns the
// pre-image snapshot (SAD and SPD dumped before anything is sent), the replay of the batch's effects
// over that snapshot to learn what each successful operation replaced, and the rollback: the inverse
// operations, newest first (an add is undone by a delete, a delete or flush by re-adding what was there,
// an update by updating back). Targeted inverses, never flush-and-reload, so no traffic selector is
// left unprotected while a rollback runs. Crash safety: before anything is sent, the messages that restore
// the pre-image are journaled (src/engine/journal.ts); a batch a killed process left behind is found by the
// next atomic apply or start on the namespace (recoverInterrupted) and undone by comparing the kernel with
// the journal, or kept when its commit mark says it completed.
import { wasm } from '../wasm/index.js';
import { XfrmKernel, markRecords, restoreRecords, setAckOnLast, type ApplyOptions, type RecordFailure } from '../kernel/xfrm.js';
import { constants } from 'node:os';
import { KernelError } from '../kernel/errors.js';
import { encodeXfrm, decodeXfrm } from '../wasm/xfrm-codec.js';
import { NLMSG_HDRLEN } from '../kernel/channel.js';
import { Journal, listJournals, readJournal, removeJournal, writerAlive, bootId, netnsInode, journalDir, type JournalEntry } from './journal.js';
import {
  REGION_RECORDS, REC_SIZE, R_KIND, R_PROTO, R_INDEX, R_DADDR, R_SPI, R_SEL, SEL_SIZE, R_DIR, R_PTYPE, R_MARK_V, R_MARK_M, R_FLAGS,
  RF_HAS_MARK, R_FAMILY, R_REPLAY_SEQ, OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_FLUSH, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE,
  OP_SP_FLUSH, OP_SA_DUMP, OP_SP_DUMP, OP_SA_GET, OP_SP_GET, OP_EXIT, OP_NONE,
} from '../../asm/shared/layout.js';

export interface AtomicResult {
  /** The first failure (what made the batch roll back), if any. */
  failure: RecordFailure | null;
  /** All failures of the batch, by record. */
  failures: RecordFailure[];
  /** How many operations had taken effect and were undone. */
  undone: number;
  /** Inverse operations the kernel refused: the state may differ from before; each is reported. */
  rollbackFailures: { record: number; error: KernelError }[];
}

const READ_ONLY = new Set([OP_SA_DUMP, OP_SP_DUMP, OP_SA_GET, OP_SP_GET, OP_EXIT, OP_NONE]);
const SUPPORTED = new Set([OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SA_FLUSH, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE, OP_SP_FLUSH, ...READ_ONLY]);

/** Record kinds that --atomic cannot make all-or-nothing (e.g. deleteall, allocspi). */
export function unsupportedForAtomic(first: number, end: number): number[] {
  const out: number[] = [];
  for (let i = first; i < end; i++) if (!SUPPORTED.has(kindOf(i))) out.push(i);
  return out;
}

function base(i: number): number { return wasm().regionPtr(REGION_RECORDS) + i * REC_SIZE; }
function kindOf(i: number): number { return wasm().dv.getUint8(base(i) + R_KIND); }
function hex(i: number, off: number, len: number): string {
  const b = base(i) + off;
  return Buffer.from(wasm().u8.subarray(b, b + len)).toString('hex');
}

/** The identity the kernel uses: (daddr, spi, proto) for SAs; (selector, dir, type, mark) for policies. */
function keyOf(i: number): string {
  const k = kindOf(i);
  const dv = wasm().dv, b = base(i);
  if (k < 16) return `sa:${dv.getUint8(b + R_PROTO)}:${dv.getUint8(b + R_FAMILY)}:${hex(i, R_DADDR, 16)}:${dv.getUint32(b + R_SPI, true)}`;
  const mark = dv.getUint32(b + R_FLAGS, true) & RF_HAS_MARK ? `${dv.getUint32(b + R_MARK_V, true) & dv.getUint32(b + R_MARK_M, true)}` : '0';
  return `sp:${dv.getUint8(b + R_DIR)}:${dv.getUint8(b + R_PTYPE)}:${mark}:${hex(i, R_SEL, SEL_SIZE)}`;
}

/** Appends a copy of record `src` with kind `kind`; returns its index. */
export function cloneAs(src: number, kind: number, index = 0): number {
  const w = wasm();
  const off = w.fns<{ appendRegion(r: number, n: number): number }>().appendRegion(REGION_RECORDS, REC_SIZE) >>> 0;
  const dst = off / REC_SIZE;
  const u8 = w.u8;
  const p = w.regionPtr(REGION_RECORDS);
  u8.copyWithin(p + off, p + src * REC_SIZE, p + src * REC_SIZE + REC_SIZE);
  u8[p + off + R_KIND] = kind;
  if (index !== 0) w.dv.setUint32(p + off + R_INDEX, index, true);
  return dst;
}

/** What a key held before an operation: the record with its value (null = absent) and, for policies, the
 * index the kernel had given it (an update keeps the index, so a re-add must ask for it back). */
type Prior = { key: string; from: number | null; index: number };
interface Held { rec: number; index: number }

export interface AtomicOptions {
  onProgress?: (done: number, total: number) => void;
  /** What recovery of an earlier interrupted batch tells the user (default: stderr). */
  onNotice?: (text: string) => void;
  /** What the batch is (a file name), written into the journal for whoever recovers it. */
  source?: string;
  /**
   * The backend the batch's own operations go through (default: `kernel`). PF_KEY (--backend pfkey) sends them
   * as setkey would; the pre-image dumps, the journal and every inverse operation stay on `kernel`'s XFRM netlink
   * socket in the same namespace: the same SAD and SPD, and the only interface with exact pre-images (keys,
   * marks, replay state, ...) and per-message acks to undo by.
   */
  sender?: { apply(first: number, end: number, opts: ApplyOptions): Promise<{ failures: RecordFailure[]; sent: number }> };
}

const noticeToStderr = (t: string): void => { process.stderr.write(t.endsWith('\n') ? t : `${t}\n`); };

/**
 * Test hook (failpoints): KEYFLEET_FAILPOINT=NAME[:N] kills this process with SIGKILL the N-th time (default
 * the first) it reaches NAME: journaled (journal durable, nothing sent), chunk (a chunk acknowledged),
 * sent (every chunk acknowledged, no commit mark yet), committed (commit mark durable, journal not yet
 * removed), undo (an inverse operation of an in-process rollback sent). Crash tests use it to reach each
 * phase for certain, next to kills at random times.
 */
const failpoint = ((): ((name: string) => void) => {
  const spec = process.env.KEYFLEET_FAILPOINT;
  if (!spec) return () => {};
  const [want, n] = spec.split(':');
  let hits = 0;
  return (name: string) => { if (name === want && ++hits >= Number(n ?? 1)) process.kill(process.pid, 'SIGKILL'); };
})();

/** Replays nothing, just indexes the pre-image: key → record (and the kernel's index for policies). */
function indexState(sas: { first: number; end: number }, sps: { first: number; end: number }): Map<string, Held> {
  const state = new Map<string, Held>();
  for (let i = sas.first; i < sas.end; i++) state.set(keyOf(i), { rec: i, index: 0 });
  for (let i = sps.first; i < sps.end; i++) state.set(keyOf(i), { rec: i, index: wasm().dv.getUint32(base(i) + R_INDEX, true) });
  return state;
}

/** Keys of the pre-image a flush record removes (the kernel's matching rules, see the comments). */
function flushedKeys(i: number, state: Map<string, Held>): string[] {
  const k = kindOf(i);
  const proto = wasm().dv.getUint8(base(i) + R_PROTO);
  const out: string[] = [];
  for (const key of state.keys()) {
    const parts = key.split(':');
    if (k === OP_SP_FLUSH) {
      // XFRM_MSG_FLUSHPOLICY without XFRMA_POLICY_TYPE flushes main-type policies.
      if (parts[0] !== 'sp' || parts[2] !== '0') continue;
    } else {
      // FLUSHSA with IPSEC_PROTO_ANY flushes ESP, AH and IPComp (xfrm_id_proto_match), nothing else.
      if (parts[0] !== 'sa') continue;
      const p = Number(parts[1]);
      if (proto === 255 || proto === 0 ? ![50, 51, 108].includes(p) : p !== proto) continue;
    }
    out.push(key);
  }
  return out;
}

/**
 * Encodes records [first, end) with each record's kind replaced by pick(i) (OP_NONE: no message), then puts
 * the kinds back. No record is copied, so a 100k-operation batch costs its messages and nothing more.
 */
function encodeAs(first: number, end: number, pick: (i: number) => number): Buffer {
  if (end <= first) return Buffer.alloc(0);
  const saved = new Uint8Array(end - first);
  for (let i = first; i < end; i++) { saved[i - first] = kindOf(i); wasm().u8[base(i) + R_KIND] = pick(i); }
  try {
    return encodeXfrm(first, end, { seqBase: 0, ack: false }).bytes;
  } finally {
    for (let i = first; i < end; i++) wasm().u8[base(i) + R_KIND] = saved[i - first]!;
  }
}

/**
 * The journal's undo messages for records [first, end) over the pre-image: for every key the batch touches
 * (first touch wins), NEWSA/NEWPOLICY of what it held before, or DELSA/DELPOLICY when it held nothing.
 */
function undoMessages(first: number, end: number, pre: { first: number; end: number }, state: Map<string, Held>): { bytes: Buffer; restores: number; deletes: number } {
  const decided = new Set<string>();
  const restore = new Set<number>();
  const del = new Set<number>();
  for (let i = first; i < end; i++) {
    const k = kindOf(i);
    if (READ_ONLY.has(k)) continue;
    const keys = k === OP_SA_FLUSH || k === OP_SP_FLUSH ? flushedKeys(i, state) : [keyOf(i)];
    for (const key of keys) {
      if (decided.has(key)) continue;
      decided.add(key);
      const held = state.get(key);
      if (held) restore.add(held.rec); else del.add(i);
    }
  }
  const r = encodeAs(pre.first, pre.end, (i) => (restore.has(i) ? (kindOf(i) < 16 ? OP_SA_ADD : OP_SP_ADD) : OP_NONE));
  const d = encodeAs(first, end, (i) => (del.has(i) ? (kindOf(i) < 16 ? OP_SA_DELETE : OP_SP_DELETE) : OP_NONE));
  return { bytes: Buffer.concat([r, d]), restores: restore.size, deletes: del.size };
}

function openJournal(netns: string | undefined, source: string, operations: number, undo: { bytes: Buffer; restores: number; deletes: number }): Journal {
  try {
    return Journal.begin(netns, { source, operations, restores: undo.restores, deletes: undo.deletes }, undo.bytes);
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    throw Object.assign(new Error(`cannot write the atomic batch journal in ${journalDir(netns)}: ${x.message}; nothing was applied (run as root, or point KEYFLEET_JOURNAL_DIR at a root-only directory)`), { code: x.code, syscall: x.syscall ?? 'open' });
  }
}

/**
 * Applies records [first, end) so that either all take effect or the kernel is put back as it was.
 * The records must stay where they are for the duration (temporary records go after them).
 */
export async function applyAtomic(kernel: XfrmKernel, first: number, end: number, opts: AtomicOptions = {}): Promise<AtomicResult> {
  const netns = kernel.channel.netns;
  // A batch a killed process left half-applied on this namespace is settled before ours starts.
  await recoverInterrupted(kernel, { onNotice: opts.onNotice ?? noticeToStderr, busy: 'throw' });
  const mark = markRecords();
  const notSent = new Set<number>();
  let journal: Journal | null = null;
  try {
    // 1. Pre-images: the whole SAD and SPD as they are now; what the batch touches goes into the journal.
    const sas = await kernel.dump('sa');
    const sps = await kernel.dump('policy');
    const state = indexState(sas, sps);
    journal = openJournal(netns, opts.source ?? 'batch', end - first, undoMessages(first, end, { first: sas.first, end: sps.end }, state));
    failpoint('journaled');
    // 2. Send everything; the kernel tells us which operations failed.
    const writes: [number, number][] = [];
    let s = first;
    for (let i = first; i < end; i++) if (READ_ONLY.has(kindOf(i))) { if (i > s) writes.push([s, i]); s = i + 1; }
    if (s < end) writes.push([s, end]);
    const failures: RecordFailure[] = [];
    try {
      const sender = opts.sender ?? kernel;
      for (const [a, b] of writes) {
        const r = await sender.apply(a, b, {
          stopOnError: true,
          onProgress: (p) => { failpoint('chunk'); opts.onProgress?.(a - first + p.done, end - first); },
        });
        failures.push(...r.failures);
        if (r.failures.length > 0) {
          // Chunks after the failing one were not sent: mark them as not applied.
          const sentEnd = a + r.sent;
          for (const [c, d] of writes) if (c >= sentEnd) for (let k = c; k < d; k++) notSent.add(k);
          for (let k = sentEnd; k < b; k++) notSent.add(k);
          break;
        }
      }
    } catch (e) {
      // The channel failed (timeout, overrun): which operations took effect is unknown, so the journal decides.
      const undone = await recoverFile(kernel, journal.file, opts.onNotice ?? noticeToStderr);
      journal = null;
      throw Object.assign(e as Error, { rolledBack: undone });
    }
    if (failures.length === 0) {
      failpoint('sent');
      journal.commit();
      failpoint('committed');
      journal.remove();
      return { failure: null, failures, undone: 0, rollbackFailures: [] };
    }
    const failed = new Set(failures.map((f) => f.record));
    // 3. Replay the effects over the snapshot to learn what every successful operation replaced.
    const undo: { op: number; prior: Prior[] }[] = [];
    for (let i = first; i < end; i++) {
      const k = kindOf(i);
      if (READ_ONLY.has(k) || failed.has(i) || notSent.has(i)) continue;
      if (k === OP_SA_FLUSH || k === OP_SP_FLUSH) {
        const prior: Prior[] = flushedKeys(i, state).map((key) => ({ key, from: state.get(key)!.rec, index: state.get(key)!.index }));
        for (const p of prior) state.delete(p.key);
        undo.push({ op: i, prior });
        continue;
      }
      const key = keyOf(i);
      const before = state.get(key);
      undo.push({ op: i, prior: [{ key, from: before ? before.rec : null, index: before ? before.index : 0 }] });
      if (k === OP_SA_DELETE || k === OP_SP_DELETE) state.delete(key);
      else state.set(key, { rec: i, index: k === OP_SP_UPDATE && before ? before.index : 0 });
    }
    // 4. Inverse operations, newest first, each sent alone so that one refusal does not hide others.
    const rollbackFailures: { record: number; error: KernelError }[] = [];
    let undone = 0;
    for (let u = undo.length - 1; u >= 0; u--) {
      const { op, prior } = undo[u]!;
      const k = kindOf(op);
      const existsNow = !(k === OP_SA_DELETE || k === OP_SP_DELETE || k === OP_SA_FLUSH || k === OP_SP_FLUSH);
      const inverse: number[] = [];
      for (const p of prior) {
        const isSa = p.key.startsWith('sa:');
        if (p.from === null) inverse.push(cloneAs(op, isSa ? OP_SA_DELETE : OP_SP_DELETE));
        else if (existsNow) inverse.push(cloneAs(p.from, isSa ? OP_SA_UPDATE : OP_SP_UPDATE));
        else inverse.push(cloneAs(p.from, isSa ? OP_SA_ADD : OP_SP_ADD, isSa ? 0 : p.index));
      }
      for (const r of inverse) {
        const res = await kernel.apply(r, r + 1);
        if (res.failures[0]) rollbackFailures.push({ record: op, error: res.failures[0].error });
      }
      failpoint('undo');
      undone++;
    }
    // Rolled back in process and reported to the caller (refusals included): nothing is left to recover.
    journal.remove();
    journal = null;
    return { failure: failures[0] ?? null, failures, undone, rollbackFailures };
  } finally {
    restoreRecords(mark);
  }
}

// ---- recovery of interrupted batches ----

export interface RecoveryOutcome {
  file: string;
  /** rolled-back: undone from the journal; kept: it had completed; discarded: it no longer applies; busy: its writer still runs. */
  action: 'rolled-back' | 'kept' | 'discarded' | 'busy';
  restored: number;
  removed: number;
  unchanged: number;
  failures: KernelError[];
}

const MSG_NEWSA = 0x10, MSG_DELSA = 0x11, MSG_NEWPOLICY = 0x13, MSG_DELPOLICY = 0x14; // linux/xfrm.h
const { ENOENT, ESRCH, EINVAL } = constants.errno;

/**
 * Finds the journals of batches interrupted on this kernel's namespace and settles each: rolled back when it
 * had not completed, kept when its commit mark is there, discarded when it belongs to an earlier boot or a
 * namespace since re-created. A journal whose writer still runs is another process's batch in flight:
 * busy 'throw' refuses to go on (a new atomic batch), 'skip' leaves it alone (a start-up check).
 */
export async function recoverInterrupted(kernel: XfrmKernel, o: { onNotice?: (t: string) => void; busy?: 'throw' | 'skip' } = {}): Promise<RecoveryOutcome[]> {
  const notice = o.onNotice ?? noticeToStderr;
  const out: RecoveryOutcome[] = [];
  for (const file of listJournals(kernel.channel.netns)) {
    const entry = readJournal(file);
    if (entry && entry.header.pid !== process.pid && writerAlive(entry.header)) {
      if (o.busy === 'skip') { out.push(outcome(file, 'busy')); continue; }
      throw Object.assign(new Error(`another atomic batch (pid ${entry.header.pid}, ${entry.header.source}) is being applied to ${entry.header.netns}; nothing was applied: wait for it to finish and retry`), { code: 'EBUSY', syscall: 'journal' });
    }
    out.push(await settle(kernel, file, entry, notice));
  }
  return out;
}

/** Start-up check for a CLI or the agent: settles interrupted batches of a namespace if there are any. */
export async function recoverOnStart(netns: string | undefined, openKernel: () => XfrmKernel, onNotice: (t: string) => void): Promise<void> {
  if (listJournals(netns).length === 0) return;
  try {
    await recoverInterrupted(openKernel(), { onNotice, busy: 'skip' });
  } catch (e) {
    onNotice(`keyfleet: could not recover an interrupted atomic batch in ${journalDir(netns)}: ${(e as Error).message}`);
  }
}

function outcome(file: string, action: RecoveryOutcome['action']): RecoveryOutcome {
  return { file, action, restored: 0, removed: 0, unchanged: 0, failures: [] };
}

async function recoverFile(kernel: XfrmKernel, file: string, notice: (t: string) => void): Promise<number> {
  const r = await settle(kernel, file, readJournal(file), notice);
  return r.restored + r.removed;
}

async function settle(kernel: XfrmKernel, file: string, entry: JournalEntry | null, notice: (t: string) => void): Promise<RecoveryOutcome> {
  if (!entry) {
    // Only a complete journal is renamed into place; anything else was never acted upon.
    removeJournal(file);
    notice(`keyfleet: removed an unreadable atomic batch journal ${file}`);
    return outcome(file, 'discarded');
  }
  const h = entry.header;
  const what = `the atomic batch ${h.source} (${h.operations} operation(s), pid ${h.pid}, started ${h.created}) on ${h.netns}`;
  if (h.bootId !== bootId() || h.netnsIno !== netnsInode(kernel.channel.netns)) {
    removeJournal(file);
    notice(`keyfleet: ${what} was interrupted in an earlier boot or namespace; the kernel tables it changed are gone: journal removed`);
    return outcome(file, 'discarded');
  }
  if (entry.committed) {
    removeJournal(file);
    notice(`keyfleet: ${what} was interrupted after it had completed: all of it stays applied`);
    return outcome(file, 'kept');
  }
  const r = await rollBackFromJournal(kernel, entry.undo);
  const res: RecoveryOutcome = { file, action: 'rolled-back', ...r };
  if (r.failures.length === 0) {
    removeJournal(file);
    notice(`keyfleet: ${what} was interrupted; rolled back (${r.restored} entr${r.restored === 1 ? 'y' : 'ies'} restored, ${r.removed} removed, ${r.unchanged} untouched): the kernel is as it was before that batch`);
  } else {
    notice(`keyfleet: ${what} was interrupted; rolling it back, the kernel refused ${r.failures.length} operation(s): ${r.failures.slice(0, 3).map((f) => f.message).join('; ')}\n`
      + `  the journal stays in ${file}; compare \`keyfleet setkey -D\` / \`-DP\` with what you expect, repair by hand and delete it`);
  }
  return res;
}

/** Splits concatenated netlink messages into deletes (sent raw) and pre-images (decoded as records). */
function splitUndo(undo: Buffer): { deletes: Buffer[]; restores: Buffer[] } {
  const deletes: Buffer[] = [], restores: Buffer[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= undo.length;) {
    const len = undo.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > undo.length) break;
    const type = undo.readUInt16LE(off + 4);
    const msg = undo.subarray(off, off + ((len + 3) & ~3));
    if (type === MSG_DELSA || type === MSG_DELPOLICY) deletes.push(msg);
    else if (type === MSG_NEWSA || type === MSG_NEWPOLICY) restores.push(msg);
    off += (len + 3) & ~3;
  }
  return { deletes, restores };
}

/**
 * Sends pre-encoded messages in batches of up to 1 MiB under fresh sequence numbers; returns the kernel's
 * refusals. Only for idempotent messages (the deletes of a rollback): when the replies overflow the receive
 * buffer (ENOBUFS, outcome unknown) the same batch is resent in halves, down to one message at a time.
 */
async function sendMessages(kernel: XfrmKernel, msgs: Buffer[], ignore: Set<number>): Promise<{ failures: KernelError[]; ignored: number }> {
  const failures: KernelError[] = [];
  let ignored = 0;
  let limit = 1 << 20;
  for (let i = 0; i < msgs.length;) {
    let j = i, bytes = 0;
    while (j < msgs.length && (j === i || bytes + msgs[j]!.length <= limit)) bytes += msgs[j++]!.length;
    const batch = Buffer.concat(msgs.slice(i, j));
    const seq = kernel.channel.allocSeq(j - i);
    for (let off = 0, k = 0; k < j - i; k++) { batch.writeUInt32LE(seq + k, off + 8); off += msgs[i + k]!.length; }
    setAckOnLast(batch);
    let failed: Map<number, KernelError>;
    try {
      failed = await kernel.channel.transact(batch, seq, j - i, 'rollback');
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ENOBUFS' && j - i > 1) { limit = Math.max(1, bytes >> 1); continue; }
      throw e;
    }
    for (const e of failed.values()) if (ignore.has(e.errno)) ignored++; else failures.push(e);
    i = j;
  }
  return { failures, ignored };
}

/** The bytes that decide whether two records describe the same entry: its add message minus replay counters. */
function canonical(i: number): Buffer {
  const m = markRecords();
  try {
    const c = cloneAs(i, kindOf(i) < 16 ? OP_SA_ADD : OP_SP_ADD);
    wasm().u8.fill(0, base(c) + R_REPLAY_SEQ, base(c) + R_REPLAY_SEQ + 12); // seq, oseq, bitmap move with traffic
    return encodeXfrm(c, c + 1, { seqBase: 0, ack: false }).bytes;
  } finally {
    restoreRecords(m);
  }
}

/**
 * Undoes an interrupted batch whatever part of it took effect: removes what was absent before, and makes
 * every entry that was there before equal its pre-image again (re-added when gone; a policy updated in place
 * when only its content differs, an SA or a re-indexed policy deleted and re-added, as XFRM_MSG_UPDSA cannot
 * change keys). Entries already equal to their pre-image are left alone, so running it twice is harmless.
 */
async function rollBackFromJournal(kernel: XfrmKernel, undo: Buffer): Promise<{ restored: number; removed: number; unchanged: number; failures: KernelError[] }> {
  const { deletes, restores } = splitUndo(undo);
  // What was absent before goes first. ENOENT/ESRCH: that operation never took effect; EINVAL: the key itself
  // is one the kernel refuses (a bad selector or direction), so nothing can exist under it.
  const { failures, ignored } = await sendMessages(kernel, deletes, new Set([ENOENT, ESRCH, EINVAL]));
  const mark = markRecords();
  try {
    const sas = await kernel.dump('sa');
    const sps = await kernel.dump('policy');
    const now = indexState(sas, sps);
    const pf = markRecords().records;
    if (restores.length > 0) decodeXfrm(Buffer.concat(restores), { append: true });
    const pe = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
    const ops: number[] = [];
    let restored = 0, unchanged = 0;
    for (let i = pf; i < pe; i++) {
      const isSa = kindOf(i) < 16;
      const cur = now.get(keyOf(i));
      if (!cur) { ops.push(i); restored++; continue; }
      if (canonical(i).equals(canonical(cur.rec))) { unchanged++; continue; }
      const sameIndex = !isSa && wasm().dv.getUint32(base(i) + R_INDEX, true) === cur.index;
      if (sameIndex) ops.push(cloneAs(i, OP_SP_UPDATE));
      else ops.push(cloneAs(cur.rec, isSa ? OP_SA_DELETE : OP_SP_DELETE), i);
      restored++;
    }
    // The operations in order, as one contiguous run of records.
    const runFirst = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
    for (const r of ops) cloneAs(r, kindOf(r));
    if (ops.length > 0) {
      const res = await kernel.apply(runFirst, runFirst + ops.length);
      failures.push(...res.failures.map((f) => f.error));
    }
    return { restored, removed: deletes.length - ignored, unchanged, failures };
  } finally {
    restoreRecords(mark);
  }
}
