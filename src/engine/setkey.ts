// src/engine/setkey.ts — runs a parsed setkey script against a kernel backend (layer: engine). Owns the
// statement semantics of ipsec-tools setkey on Linux that are not plain kernel operations: the order of
// output (results, warnings, dumps interleaved by statement), af_key's reqid allocation for `unique`
// templates, its local refusals, `deleteall` as dump + delete, exit statements, --strict, dry runs and
// the batching of everything else into large sends.
import { wasm } from '../wasm/index.js';
import { parseSetkey, formatDiagnostic, type SetkeyDiagnostic, type SetkeyParse } from '../wasm/setkey-parse.js';
import { encodeXfrm } from '../wasm/xfrm-codec.js';
import { formatSetkeySAs, formatSetkeySPs, countSetkeySAs, countSetkeySPs, SETKEY_NO_SAD, SETKEY_NO_SPD} from '../wasm/setkey-format.js';
import { XfrmKernel, markRecords, restoreRecords, type RecordFailure } from '../kernel/xfrm.js';
import { PfkeyKernel } from '../kernel/pfkey.js';
import { pfkeyInexpressible } from '../wasm/pfkey-records.js';
import { encodePfkey } from '../wasm/pfkey-codec.js';
import { KernelError, strerror } from '../kernel/errors.js';
import type { Sink } from '../cli/output.js';
import { SKX_EINVAL, SKX_ENOSYS } from '../../asm/shared/setkey-diag.js';
// atomic.js (journal, rollback) is imported by --atomic runs only: it is not on the start-up path of a plain -f
import type { AtomicResult } from './atomic.js';
import {
  REGION_RECORDS, REGION_BLOB, REC_SIZE, R_KIND, R_STMT, R_LINE, R_TMPL_OFF, R_TMPL_COUNT, R_PROTO, R_FAMILY,
  R_SADDR, R_DADDR, R_SPI, R_COL, R_SATYPE, R_ENCAP_OA, RF_HAS_ENCAP, R_AUX, R_AUX2, R_FLAGS, RF_SETKEY, TMPL_SIZE, T_XFLAGS, T_REQID, TF_AUTO_REQID,
  OP_SA_ADD, OP_SA_UPDATE, OP_SA_GET, OP_SA_DELETE, OP_SA_DELETEALL, OP_SA_DUMP, OP_SP_DUMP, OP_EXIT, OP_SP_ADD,
  OP_SP_UPDATE, OP_SA_FLUSH, OP_SP_FLUSH, OP_SP_DELETE,
} from '../../asm/shared/layout.js';

export interface SetkeyRunOptions {
  file: string;
  text: Uint8Array;
  /** -r (default) / -k: RFC mode adds fwd copies of `in` policies. */
  rfc: boolean;
  /** -c: stdin semantics (errors print without line numbers; processing goes on). */
  stdin: boolean;
  /** -n: parse only. */
  noAction: boolean;
  /** Stop at the first kernel error and exit 1 (ours; setkey goes on and exits 0). */
  strict: boolean;
  /** All or nothing: roll back every statement when one fails (ours). */
  atomic?: boolean;
  /** Print what would be sent per statement; touch nothing. */
  dryRun: boolean;
  /** -a / -p for `dump` statements. */
  all: boolean;
  ports: boolean;
  pid: number;
  out: Sink;
  err: Sink;
  kernel: () => SetkeyKernel;
  /** Which kernel interface `kernel` returns (default xfrm): decides reqid allocation and NAT-T OA handling. */
  backend?: 'xfrm' | 'pfkey';
  onProgress?: (done: number, total: number) => void;
  /**
   * parseSetkey(text) with these file/rfc/stdin options, made by a caller that inspected it first (the agent's
   * limits); its records must still be in the record region. Without it, runSetkey parses `text` itself.
   */
  parsed?: SetkeyParse;
}

/**
 * What the engine asks of a kernel backend: batched apply with per-record failures, dumps into records, flush.
 * XfrmKernel (netlink, the default) and PfkeyKernel (PF_KEY v2, setkey's own transport) both provide it.
 */
export type SetkeyKernel = XfrmKernel | PfkeyKernel;

/** The records of one statement range that can go to the kernel in one batch, or one that needs care. */
const SPECIAL = new Set([OP_SA_GET, OP_SA_DELETEALL, OP_SA_DUMP, OP_SP_DUMP, OP_EXIT]);

const OP_NAMES: Record<number, string> = {
  [OP_SA_ADD]: 'add', [OP_SA_UPDATE]: 'update', [OP_SA_DELETE]: 'delete', [OP_SA_GET]: 'get',
  [OP_SA_DELETEALL]: 'deleteall', [OP_SA_FLUSH]: 'flush', [OP_SA_DUMP]: 'dump', [OP_SP_ADD]: 'spdadd',
  [OP_SP_UPDATE]: 'spdupdate', [OP_SP_DELETE]: 'spddelete', [OP_SP_FLUSH]: 'spdflush', [OP_SP_DUMP]: 'spddump',
  [OP_EXIT]: 'exit',
};

interface Rec { base: number }

function rec(i: number): Rec {
  return { base: wasm().regionPtr(REGION_RECORDS) + i * REC_SIZE };
}

function u8(r: Rec, off: number): number { return wasm().dv.getUint8(r.base + off); }
function u32(r: Rec, off: number): number { return wasm().dv.getUint32(r.base + off, true); }

/** af_key's gen_reqid(): a counter from IPSEC_MANUAL_REQID_MAX + 1 that skips reqids policies use. */
class ReqidAllocator {
  #next = 0x3fff;
  readonly #used: Set<number>;
  constructor(used: Set<number>) { this.#used = used; }
  take(): number {
    for (let i = 0; i < 0x100000; i++) {
      this.#next = this.#next === 0xffffffff ? 0x4000 : this.#next + 1;
      if (!this.#used.has(this.#next)) { this.#used.add(this.#next); return this.#next; }
    }
    return 0;
  }
}

export interface SetkeyRunResult {
  exitCode: number;
  parse: SetkeyParse;
  failures: number;
  applied: number;
}

export async function runSetkey(o: SetkeyRunOptions): Promise<SetkeyRunResult> {
  const parse = o.parsed ?? parseSetkey(o.text, { file: o.file, rfc: o.rfc, stdin: o.stdin });
  const nrec = parse.records;
  // Statements before the first error are applied, as setkey applies each statement when it is reduced.
  let limit = nrec;
  if (parse.firstErrorStatement >= 0) {
    for (let i = 0; i < nrec; i++) if (u32(rec(i), R_STMT) >= parse.firstErrorStatement) { limit = i; break; }
  }
  for (let i = 0; i < limit; i++) if (u8(rec(i), R_KIND) === OP_EXIT) { limit = i; break; }

  const pfkey = o.backend === 'pfkey';
  // af_key ignores SADB_X_EXT_NAT_T_OA; the PF_KEY backend sends it as setkey does, XFRM must not.
  if (!pfkey) dropNatOa(limit);
  const warnings = parse.diagnostics.filter((d) => d.severity !== 'error');
  const errors = parse.diagnostics.filter((d) => d.severity === 'error');
  let wi = 0;
  const emitWarningsUpTo = (stmt: number): void => {
    while (wi < warnings.length && warnings[wi]!.statement <= stmt) printDiagnostic(o, warnings[wi++]!);
  };

  let failures = 0;
  let applied = 0;
  const reportFailure = (i: number, error: KernelError): void => {
    failures++;
    const line = u32(rec(i), R_LINE);
    o.out.write(o.stdin ? `${setkeyErrorText(i, error)}.\n` : `The result of line ${line}: ${setkeyErrorText(i, error)}.\n`);
  };

  if (o.atomic && !o.noAction && !o.dryRun) {
    const r = await runAtomic(o, parse, limit, reportFailure);
    emitWarningsUpTo(Number.MAX_SAFE_INTEGER);
    for (const d of errors) printDiagnostic(o, d);
    if (parse.parseFailedText) o.out.write(parse.parseFailedText.endsWith('\n') ? parse.parseFailedText : `${parse.parseFailedText}\n`);
    return { exitCode: r, parse, failures, applied: r === 0 ? limit : 0 };
  }
  if (o.noAction) {
    // -n: nothing is sent, so nothing but diagnostics is printed.
  } else if (o.dryRun) {
    printDryRun(o, 0, limit);
  } else if (limit > 0) {
    const kernel = o.kernel();
    const inexpressible = pfkey ? pfkeyRefusals(o, limit) : new Map<number, KernelError>();
    let reqids: ReqidAllocator | null = null;
    let i = 0;
    while (i < limit) {
      let j = i;
      while (j < limit && !SPECIAL.has(u8(rec(j), R_KIND))) j++;
      if (j > i) {
        // PF_KEY: af_key allocates `unique` reqids itself from the request's reqid 0, as for setkey.
        if (!pfkey && !reqids && needsReqids(i, j)) reqids = new ReqidAllocator(await usedReqids(kernel));
        if (reqids) assignReqids(i, j, reqids);
        // PF_KEY: af_key itself refuses what setkey's messages ask and it cannot do (the messages are setkey's own);
        // XFRM: the parser's marks of those refusals are answered here, as af_key would.
        const local = pfkey ? new Map<number, KernelError>() : localRefusals(i, j);
        for (const [k, e] of inexpressible) if (k >= i && k < j) local.set(k, e);
        const sendable = local.size === 0 ? [[i, j] as const] : splitAround(i, j, local);
        const all: RecordFailure[] = [...[...local].map(([record, error]) => ({ record, error }))];
        for (const [a, b] of sendable) {
          const r = await kernel.apply(a, b, {
            stopOnError: o.strict,
            ...(o.onProgress ? { onProgress: (p) => o.onProgress!(a + p.done, limit) } : {}),
          });
          all.push(...r.failures);
          applied += r.sent - r.failures.length;
          if (o.strict && r.failures.length > 0) break;
        }
        all.sort((x, y) => x.record - y.record);
        let fi = 0;
        for (let k = i; k < j; k++) {
          emitWarningsUpTo(u32(rec(k), R_STMT));
          while (fi < all.length && all[fi]!.record === k) reportFailure(k, all[fi++]!.error);
        }
        if (o.strict && all.length > 0) break;
      }
      if (j < limit) {
        emitWarningsUpTo(u32(rec(j), R_STMT));
        const ok = await runSpecial(o, kernel, j, reportFailure);
        if (ok) applied++;
        if (o.strict && !ok) break;
      }
      i = j + 1;
    }
  }
  emitWarningsUpTo(Number.MAX_SAFE_INTEGER);
  for (const d of errors) printDiagnostic(o, d);
  if (parse.parseFailedText) o.out.write(parse.parseFailedText.endsWith('\n') ? parse.parseFailedText : `${parse.parseFailedText}\n`);
  let exitCode = 0;
  if (parse.fatal || (errors.length > 0 && !o.stdin)) exitCode = 1;
  if (o.strict && failures > 0) exitCode = 1;
  return { exitCode, parse, failures, applied };
}

function printDiagnostic(o: SetkeyRunOptions, d: SetkeyDiagnostic): void {
  // setkey's own line on stdout (scripts compare it), ours with file:line:col on stderr.
  // Errors setkey never reaches (it stops at the first in -f mode) are only ours, on stderr.
  if (d.setkeyText && !d.followOn) o.out.write(d.setkeyText.endsWith("\n") ? d.setkeyText : `${d.setkeyText}\n`);
  if (d.stderrExtra && !d.followOn) o.err.write(d.stderrExtra.endsWith('\n') ? d.stderrExtra : `${d.stderrExtra}\n`);
  o.err.write(`${formatDiagnostic(d)}\n`);
}

/** The text setkey prints for a kernel error on this record (postproc(): ENOENT has special words). */
function setkeyErrorText(i: number, e: KernelError): string {
  const kind = u8(rec(i), R_KIND);
  if (e.code === 'ENOENT') {
    if (kind === OP_SA_DELETE || kind === OP_SA_GET || kind === OP_SP_DELETE) return 'No entry';
    if (kind === OP_SA_DUMP) return 'No SAD entries';
    if (kind === OP_SP_DUMP) return 'No SPD entries';
    // postproc() has no words for ENOENT on other messages and prints its NULL errmsg with "%s": glibc's "(null)"
    return '(null)';
  }
  return strerror(e.errno);
}

function needsReqids(a: number, b: number): boolean {
  const w = wasm();
  const blob = w.regionPtr(REGION_BLOB);
  for (let i = a; i < b; i++) {
    const r = rec(i);
    const k = u8(r, R_KIND);
    if (k !== OP_SP_ADD && k !== OP_SP_UPDATE) continue;
    const n = u32(r, R_TMPL_COUNT), off = u32(r, R_TMPL_OFF);
    for (let t = 0; t < n; t++) if (w.dv.getUint8(blob + off + t * TMPL_SIZE + T_XFLAGS) & TF_AUTO_REQID) return true;
  }
  return false;
}

function assignReqids(a: number, b: number, alloc: ReqidAllocator): void {
  const w = wasm();
  for (let i = a; i < b; i++) {
    const r = rec(i);
    const k = u8(r, R_KIND);
    if (k !== OP_SP_ADD && k !== OP_SP_UPDATE) continue;
    const n = u32(r, R_TMPL_COUNT), off = u32(r, R_TMPL_OFF);
    for (let t = 0; t < n; t++) {
      const tb = w.regionPtr(REGION_BLOB) + off + t * TMPL_SIZE;
      const xf = w.dv.getUint8(tb + T_XFLAGS);
      if (xf & TF_AUTO_REQID) {
        w.dv.setUint32(tb + T_REQID, alloc.take(), true);
        w.dv.setUint8(tb + T_XFLAGS, xf & ~TF_AUTO_REQID);
      }
    }
  }
}

async function usedReqids(kernel: SetkeyKernel): Promise<Set<number>> {
  const used = new Set<number>();
  const mark = markRecords();
  try {
    const { first, end } = await kernel.dump('policy');
    const w = wasm();
    for (let i = first; i < end; i++) {
      const r = rec(i);
      const n = u32(r, R_TMPL_COUNT), off = u32(r, R_TMPL_OFF);
      for (let t = 0; t < n; t++) used.add(w.dv.getUint32(w.regionPtr(REGION_BLOB) + off + t * TMPL_SIZE + T_REQID, true));
    }
  } finally {
    restoreRecords(mark);
  }
  return used;
}

/**
 * What af_key refuses before the kernel's state code sees it but XFRM netlink would accept (a hard
 * lifetime without a soft one, ESP without a key, entrust/bypass policies, …): the parser marks them
 * (R_AUX2 SKX_EINVAL / SKX_ENOSYS) and we answer as af_key does, without sending.
 */
function localRefusals(a: number, b: number): Map<number, KernelError> {
  const out = new Map<number, KernelError>();
  for (let i = a; i < b; i++) {
    const r = rec(i);
    if (!(u32(r, R_FLAGS) & RF_SETKEY)) continue;
    const x = u32(r, R_AUX2);
    const op = OP_NAMES[u8(r, R_KIND)] ?? 'request';
    if (x & SKX_EINVAL) out.set(i, new KernelError(22, op));
    else if (x & SKX_ENOSYS) out.set(i, new KernelError(38, op));
  }
  return out;
}

function splitAround(a: number, b: number, skip: Map<number, KernelError>): [number, number][] {
  const out: [number, number][] = [];
  let s = a;
  for (let i = a; i < b; i++) if (skip.has(i)) { if (i > s) out.push([s, i]); s = i + 1; }
  if (s < b) out.push([s, b]);
  return out;
}

async function runSpecial(o: SetkeyRunOptions, kernel: SetkeyKernel, i: number, fail: (i: number, e: KernelError) => void): Promise<boolean> {
  const kind = u8(rec(i), R_KIND);
  try {
    if (kind === OP_SA_DUMP || kind === OP_SP_DUMP) {
      // In a script an empty dump is the kernel's ENOENT, reported like any failed statement
      // (`The result of line N: No SAD entries.`), not the bare line -D prints.
      const sink = new CaptureEmpty(o.out, kind === OP_SA_DUMP ? 'No SAD entries.\n' : 'No SPD entries.\n');
      const shown = await printDump({ ...o, out: sink }, kernel, kind === OP_SA_DUMP ? 'sa' : 'policy', u8(rec(i), R_PROTO));
      if (shown === 0) { fail(i, new KernelError(2, 'dump')); return false; }
      return true;
    }
    if (kind === OP_SA_GET) {
      const mark = markRecords();
      try {
        if (kernel instanceof PfkeyKernel) {
          await kernel.get(i);
        } else {
          const reply = await kernel.requestRecord(i);
          const { decodeXfrm } = await import('../wasm/xfrm-codec.js');
          for (const c of reply.chunks) decodeXfrm(c, { append: true });
        }
        const end = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
        if (end > mark.records) {
          o.out.write(formatSetkeySAs(mark.records, end, { all: true, ports: o.ports, short: false, now: Date.now() / 1000, pid: o.pid, firstSeq: 1, total: 1 }));
        }
      } finally {
        restoreRecords(mark);
      }
      return true;
    }
    if (kind === OP_SA_DELETEALL) return await deleteAll(o, kernel, i, fail);
  } catch (e) {
    if (e instanceof KernelError) { fail(i, e); return false; }
    throw e;
  }
  return true;
}

/**
 * `deleteall` as ipsec-tools 0.8.2 does it on Linux (sendkeymsg_spigrep): a SADB_DUMP of the protocol,
 * then one SADB_DELETE. Its receive loop stops after the first dump message that matches src/dst: that
 * SA is deleted, and the remaining dump messages are then read by the DELETE's reply loop and printed as
 * a dump would print them; the DELETE's own reply is left unread. Observed with the
 * real setkey on a 6.1 kernel (4 SAs, 3 matching: only the newest deleted, the other 3 printed with
 * sadb_seq 2, 3, 0). We reproduce the kernel state and the output; the unread reply is not modelled.
 * Precisely (setkey.c sendkeymsg_spigrep): a dump message that does not match is consumed (`continue`
 * keeps the receive pointer at the buffer start) and the loop goes on while its sadb_msg_seq is non-zero;
 * only the FIRST MATCHING message moves the pointer past itself, onto stale buffer bytes whose "seq" read
 * as 0 in every run observed, which ends the loop there. So the first match (not necessarily the newest
 * SA) is deleted and only the messages after it are left for the DELETE's reply loop to print; with no
 * match everything is consumed and nothing is printed (seen in the kernel VM by
 * test/kernel/setkey-compat.test.ts, fixtures sa-deleteall-mixed and sa-deleteall-newest-not-matching).
 */
async function deleteAll(o: SetkeyRunOptions, kernel: SetkeyKernel, i: number, fail: (i: number, e: KernelError) => void): Promise<boolean> {
  const w = wasm();
  const r = rec(i);
  const proto = u8(r, R_PROTO);
  const family = u8(r, R_FAMILY);
  const want = Buffer.from(w.u8.subarray(r.base + R_SADDR, r.base + R_SADDR + 16));
  const wantD = Buffer.from(w.u8.subarray(r.base + R_DADDR, r.base + R_DADDR + 16));
  if (proto === 0 || proto === 255) return true; // dump replies never carry satype 0: nothing matches
  const mark = markRecords();
  try {
    // setkey's sendkeymsg_spigrep asks for the statement's satype only
    const { first, end } = kernel instanceof PfkeyKernel ? await kernel.dump('sa', u8(r, R_SATYPE)) : await kernel.dump('sa');
    // af_key filters the dump by satype and leaves out what PF_KEY cannot express.
    const list: number[] = [];
    for (let k = first; k < end; k++) if (u8(rec(k), R_PROTO) === proto && countSetkeySAs(k, k + 1) > 0) list.push(k);
    if (list.length === 0) return true;
    const matchAt = list.findIndex((k) => {
      const c = rec(k);
      return u8(c, R_FAMILY) === family
        && want.equals(w.u8.subarray(c.base + R_SADDR, c.base + R_SADDR + 16))
        && wantD.equals(w.u8.subarray(c.base + R_DADDR, c.base + R_DADDR + 16));
    });
    if (matchAt < 0) return true;
    const head = rec(list[matchAt]!);
    const now = Date.now() / 1000;
    for (let n = matchAt + 1; n < list.length; n++) {
      const k = list[n]!;
      o.out.write(formatSetkeySAs(k, k + 1, { all: o.all, ports: o.ports, short: false, now, pid: o.pid, firstSeq: n + 1, total: list.length }));
    }
    let res: { failures: RecordFailure[] };
    if (kernel instanceof PfkeyKernel) {
      // setkey: setkeymsg_addr(SADB_DELETE, ...) of the statement itself with p_spi = the dumped SA's SPI
      const own = rec(i);
      w.dv.setUint32(own.base + R_SPI, w.dv.getUint32(head.base + R_SPI, true), true);
      w.dv.setUint8(own.base + R_KIND, OP_SA_DELETE);
      try { res = await kernel.apply(i, i + 1); } finally { w.dv.setUint8(own.base + R_KIND, OP_SA_DELETEALL); }
    } else {
      w.dv.setUint8(head.base + R_KIND, OP_SA_DELETE);
      res = await kernel.apply(list[matchAt]!, list[matchAt]! + 1);
    }
    // setkey never reads this reply, so it prints nothing either way; --strict still sees the failure.
    if (res.failures[0] && o.strict) fail(i, res.failures[0].error);
    return res.failures.length === 0;
  } finally {
    restoreRecords(mark);
  }
}

/** Prints a dump as setkey -D / -DP does (also for `dump;` / `spddump;` statements). */
export async function printDump(o: Pick<SetkeyRunOptions, 'out' | 'all' | 'ports' | 'pid'>, kernel: SetkeyKernel, what: 'sa' | 'policy', proto = 255, short = false): Promise<number> {
  const mark = markRecords();
  try {
    // `dump esp;` over PF_KEY: setkey sends SADB_DUMP with that satype (the filter below then keeps all)
    const satype = proto === 50 ? 3 : proto === 51 ? 2 : proto === 108 ? 9 : 0;
    const { first, end } = kernel instanceof PfkeyKernel && what === 'sa' ? await kernel.dump('sa', satype) : await kernel.dump(what);
    const now = Date.now() / 1000;
    const fmt = { all: o.all, ports: o.ports, short, now, pid: o.pid };
    // Format in slices so the text of a 100k-entry dump never sits in memory whole.
    const slice = 8192;
    const count = what === 'policy' ? countSetkeySPs : countSetkeySAs;
    const format = what === 'policy' ? formatSetkeySPs : formatSetkeySAs;
    if (what === 'policy' || proto === 255 || proto === 0) {
      const total = count(first, end);
      if (total === 0) { o.out.write(what === 'policy' ? SETKEY_NO_SPD : SETKEY_NO_SAD); return 0; }
      let seq = 1;
      for (let k = first; k < end; k += slice) {
        const e = Math.min(end, k + slice);
        o.out.write(format(k, e, { ...fmt, firstSeq: seq, total }));
        seq += count(k, e);
      }
      return total;
    }
    // `dump esp;` asks the kernel for one satype: af_key filters by protocol.
    const keep: number[] = [];
    for (let k = first; k < end; k++) if (u8(rec(k), R_PROTO) === proto && countSetkeySAs(k, k + 1) > 0) keep.push(k);
    if (keep.length === 0) { o.out.write(SETKEY_NO_SAD); return 0; }
    keep.forEach((k, n) => o.out.write(formatSetkeySAs(k, k + 1, { ...fmt, firstSeq: n + 1, total: keep.length })));
    const shown = keep.length;
    return shown;
  } finally {
    restoreRecords(mark);
  }
}

function printDryRun(o: SetkeyRunOptions, first: number, end: number): void {
  if (o.backend === 'pfkey') {
    const p = encodePfkey(first, end, { seqBase: 1, pid: o.pid });
    let bytes = 0;
    p.messages.forEach((m, k) => {
      const r = rec(p.recordOfMessage[k]!);
      bytes += m.length;
      o.out.write(`${o.file}:${u32(r, R_LINE)}: ${OP_NAMES[u8(r, R_KIND)] ?? 'op'}: would send ${SADB_MSG_NAMES[m[1]!] ?? `type ${m[1]}`} (${m.length} bytes)\n`);
    });
    o.out.write(`dry run: ${p.messages.length} PF_KEY message(s), ${bytes} bytes; nothing was sent\n`);
    return;
  }
  const enc = encodeXfrm(first, end, { seqBase: 1, ack: true, maxBytes: 0x7fffffff });
  let off = 0;
  for (let m = 0; m < enc.recordOfMessage.length; m++) {
    const len = enc.bytes.readUInt32LE(off);
    const type = enc.bytes.readUInt16LE(off + 4);
    const i = enc.recordOfMessage[m]!;
    const r = rec(i);
    o.out.write(`${o.file}:${u32(r, R_LINE)}: ${OP_NAMES[u8(r, R_KIND)] ?? 'op'}: would send ${XFRM_MSG_NAMES[type] ?? `type ${type}`} (${len} bytes)\n`);
    off += (len + 3) & ~3;
  }
  o.out.write(`dry run: ${enc.recordOfMessage.length} message(s), ${enc.bytes.length} bytes; nothing was sent\n`);
}

const SADB_MSG_NAMES: Record<number, string> = {
  1: 'SADB_GETSPI', 2: 'SADB_UPDATE', 3: 'SADB_ADD', 4: 'SADB_DELETE', 5: 'SADB_GET', 9: 'SADB_FLUSH', 10: 'SADB_DUMP',
  13: 'SADB_X_SPDUPDATE', 14: 'SADB_X_SPDADD', 15: 'SADB_X_SPDDELETE', 16: 'SADB_X_SPDGET', 18: 'SADB_X_SPDDUMP',
  19: 'SADB_X_SPDFLUSH', 22: 'SADB_X_SPDDELETE2',
};

const XFRM_MSG_NAMES: Record<number, string> = {
  16: 'XFRM_MSG_NEWSA', 17: 'XFRM_MSG_DELSA', 18: 'XFRM_MSG_GETSA', 19: 'XFRM_MSG_NEWPOLICY', 20: 'XFRM_MSG_DELPOLICY',
  21: 'XFRM_MSG_GETPOLICY', 22: 'XFRM_MSG_ALLOCSPI', 25: 'XFRM_MSG_UPDPOLICY', 26: 'XFRM_MSG_UPDSA', 28: 'XFRM_MSG_FLUSHSA',
  29: 'XFRM_MSG_FLUSHPOLICY',
};

/** --atomic: nothing is sent when the input has errors; otherwise all statements or none take effect. */
async function runAtomic(o: SetkeyRunOptions, parse: SetkeyParse, limit: number, fail: (i: number, e: KernelError) => void): Promise<number> {
  if (parse.firstErrorStatement >= 0 || parse.fatal) {
    o.err.write(`keyfleet setkey: --atomic: ${o.file} has errors (below); nothing was applied\n`);
    return 1;
  }
  const { applyAtomic, unsupportedForAtomic } = await import('./atomic.js');
  const refused = [...Array(limit).keys()].filter((i) => SPECIAL.has(u8(rec(i), R_KIND)) && u8(rec(i), R_KIND) !== OP_EXIT)
    .concat(unsupportedForAtomic(0, limit));
  if (refused.length > 0) {
    const i = refused[0]!;
    o.err.write(`${o.file}:${u32(rec(i), R_LINE)}: error: '${OP_NAMES[u8(rec(i), R_KIND)] ?? 'this statement'}' cannot be part of an atomic batch (it reads or deletes what is found at run time); run it separately or drop --atomic\n`);
    return 1;
  }
  const backend = o.kernel();
  // PF_KEY: the statements go to af_key as setkey sends them (af_key allocates `unique` reqids and refuses what
  // it refuses); pre-images, journal and rollback go over XFRM netlink on the same namespace's tables.
  const pfkey = backend instanceof PfkeyKernel ? backend : null;
  if (pfkey) {
    const inexpressible = pfkeyRefusals(o, limit);
    if (inexpressible.size > 0) {
      for (const [i, e] of inexpressible) fail(i, e);
      o.err.write(`keyfleet setkey: --atomic: ${inexpressible.size} statement(s) cannot be sent over PF_KEY; nothing was applied\n`);
      return 1;
    }
  }
  const kernel = pfkey ? XfrmKernel.open(pfkey.netns ? { netns: pfkey.netns } : {}) : backend as XfrmKernel;
  try {
    if (!pfkey && needsReqids(0, limit)) assignReqids(0, limit, new ReqidAllocator(await usedReqids(kernel)));
    const local = pfkey ? new Map<number, KernelError>() : localRefusals(0, limit);
    if (local.size > 0) {
      for (const [i, e] of local) fail(i, e);
      o.err.write(`keyfleet setkey: --atomic: ${local.size} statement(s) would be refused by the kernel; nothing was applied\n`);
      return 1;
    }
    return reportAtomic(o, await applyAtomic(kernel, 0, limit, {
      source: o.file, ...(pfkey ? { sender: pfkey } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    }), fail);
  } finally {
    if (pfkey) kernel.close();
  }
}

function reportAtomic(o: SetkeyRunOptions, r: AtomicResult, fail: (i: number, e: KernelError) => void): number {
  if (!r.failure) return 0;
  for (const f of r.failures) fail(f.record, f.error);
  const line = u32(rec(r.failure.record), R_LINE);
  if (r.rollbackFailures.length === 0) {
    o.err.write(`keyfleet setkey: --atomic: line ${line} failed (${r.failure.error.message}); rolled back ${r.undone} operation(s): the kernel is as it was before\n`);
  } else {
    o.err.write(`keyfleet setkey: --atomic: line ${line} failed, and ${r.rollbackFailures.length} of ${r.undone} rollback operation(s) were refused:\n`);
    for (const f of r.rollbackFailures) o.err.write(`  undoing line ${u32(rec(f.record), R_LINE)}: ${f.error.message}\n`);
    o.err.write('  compare `keyfleet setkey -D` / `-DP` with what you expect and repair by hand\n');
  }
  return 1;
}

/**
 * Records the PF_KEY backend cannot send (XFRM-only features: marks, interface ids, AEAD, ESN, ...): each is
 * reported with file:line:col on stderr and as a failed statement, never dropped silently.
 */
function pfkeyRefusals(o: SetkeyRunOptions, limit: number): Map<number, KernelError> {
  const out = new Map<number, KernelError>();
  for (let i = 0; i < limit; i++) {
    const why = pfkeyInexpressible(i);
    if (!why) continue;
    const r = rec(i);
    o.err.write(`${o.file}:${u32(r, R_LINE)}:${u32(r, R_COL)}: error: ${why} cannot be expressed in PF_KEY v2; run with --backend xfrm\n`);
    out.set(i, new KernelError(95 /* EOPNOTSUPP */, OP_NAMES[u8(r, R_KIND)] ?? 'request'));
  }
  return out;
}

/** Passes writes through, except the one "no entries" line a dump prints when it finds nothing. */
class CaptureEmpty implements Sink {
  constructor(private readonly inner: Sink, private readonly empty: string) {}
  write(chunk: string | Uint8Array): void {
    if (chunk === this.empty) return;
    this.inner.write(chunk);
  }
}

/**
 * af_key (6.1) takes the NAT-T type and ports from setkey's message but ignores SADB_X_EXT_NAT_T_OA:
 * the SA ends up with encap addr 0.0.0.0 (seen with the real setkey). The record keeps the original
 * address for the PF_KEY backend; the XFRM path must not send it.
 */
function dropNatOa(limit: number): void {
  const w = wasm();
  for (let i = 0; i < limit; i++) {
    const r = rec(i);
    const k = u8(r, R_KIND);
    if ((k === OP_SA_ADD || k === OP_SA_UPDATE) && (u32(r, R_FLAGS) & (RF_SETKEY | RF_HAS_ENCAP)) === (RF_SETKEY | RF_HAS_ENCAP)) {
      w.u8.fill(0, r.base + R_ENCAP_OA, r.base + R_ENCAP_OA + 16);
    }
  }
}
