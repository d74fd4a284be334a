// src/cli/ip.ts — the `keyfleet ip` command (layer: cli): iproute2 6.1's `ip [OPTIONS] xfrm {state|policy} …`.
// Owns ip's global options (ip/ip.c main: matches() in source order), running parsed records (asm ipParse) through
// XfrmKernel, printing kernel errors as ip does (lib/libnetlink.c: "RTNETLINK answers: …" / "Error: extack."), and
// -batch (lib/utils.c do_batch: consecutive modifying lines go to the kernel in one sendmsg; a list ends the batch).
import { readFileSync } from 'node:fs';
import { XfrmKernel, markRecords, restoreRecords } from '../kernel/xfrm.js';
import { KernelError, setStrerror } from '../kernel/errors.js';
import { strerror as nativeStrerror } from '../native/index.js';
import { parseIpArgv, parseIpBatch, ipDiagText, setIpParseLinks, xfrmProtoName, type IpParseResult } from '../wasm/ip-parse.js';
import { readRecord } from '../wasm/records.js';
import { decodeXfrm } from '../wasm/xfrm-codec.js';
import { formatIpStates, formatIpPolicies, formatIpMonitor, formatIpCount, formatIpDefault, ipDeleteallRecords, ipFilterPasses, linkNames } from '../wasm/ip-format.js';
import { infoRequest, spdSetRequest, defaultRequest, infoReplyJson, defaultReplyJson } from '../wasm/ip-control.js';
import { openNetlinkXfrm, type NsidDatagram } from '../native/index.js';
import * as X from '../../asm/shared/xfrm.js';
import { acquireToJson, recordToJson, reportToJson } from '../engine/json.js';
import { applyAtomic, cloneAs } from '../engine/atomic.js';
import { wasm } from '../wasm/index.js';
import { REGION_RECORDS, REC_SIZE, R_KIND, R_AUX, R_AUX2, R_LINE } from '../../asm/shared/layout.js';
import * as L from '../../asm/shared/layout.js';
import * as D from '../../asm/shared/ip-diag.js';

interface IpOptions {
  stats: number;
  details: boolean;
  oneline: boolean;
  json: boolean;
  pretty: boolean;
  family: number;
  netns?: string;
  force: boolean;
  batch?: string;
  atomic: boolean;
  showKeys: boolean;
  /** -t (1) / -ts (2): monitor timestamps. */
  timestamp: number;
  /** -rcvbuf SIZE (monitor socket). */
  rcvbuf?: number;
  /** The target netns's links (index → name), fetched on first use. */
  links?: Map<number, string>;
}

/** ll_map: the links of the target netns, for `dev NAME` in arguments and `dev NAME` in printed selectors. */
function linksOf(o: IpOptions): Map<number, string> {
  return (o.links ??= linkNames(o.netns));
}

/** Hand the parser the link names when the input may name a device. */
function prepareParse(o: IpOptions, text: Buffer | string[]): void {
  const mayName = Array.isArray(text) ? text.includes('dev') : text.includes('dev');
  if (mayName) setIpParseLinks(linksOf(o));
}

/** ip.c matches(): opt is a non-empty prefix of full. */
function matches(opt: string, full: string): boolean {
  return opt.length > 0 && full.startsWith(opt);
}

class Exit extends Error {
  constructor(readonly code: number) { super(`exit ${code}`); }
}

function out(s: string | Buffer): void { process.stdout.write(s); }
function err(s: string): void { process.stderr.write(s); }

/** lib/libnetlink.c rtnl_talk error printing: extack "Error: msg." or "RTNETLINK answers: strerror". */
function kernelErrorText(e: KernelError): string {
  if (e.extack) return `Error: ${e.extack}${e.extack.endsWith('.') ? '' : '.'}\n`;
  return `RTNETLINK answers: ${nativeStrerror(e.errno)}\n`;
}

const MODIFYING = new Set([L.OP_SA_ADD, L.OP_SA_UPDATE, L.OP_SA_DELETE, L.OP_SA_FLUSH, L.OP_SP_ADD, L.OP_SP_UPDATE, L.OP_SP_DELETE, L.OP_SP_FLUSH]);

function u32(off: number): number { const w = wasm(); return w.dv.getUint32(w.regionPtr(REGION_RECORDS) + off, true); }
function kindOf(i: number): number { const w = wasm(); return w.dv.getUint8(w.regionPtr(REGION_RECORDS) + i * REC_SIZE + R_KIND); }

export async function ipMain(argv: string[]): Promise<number> {
  setStrerror(nativeStrerror);
  const o: IpOptions = { stats: 0, details: false, oneline: false, json: false, pretty: false, family: 0, force: false, atomic: false, showKeys: false, timestamp: 0 };
  let args = argv.slice();
  try {
    while (args.length > 0) {
      let opt = args[0]!;
      if (opt === '--') { args.shift(); break; }
      if (opt[0] !== '-') break;
      if (opt === '--atomic') { o.atomic = true; args.shift(); continue; }
      if (opt === '--show-keys') { o.showKeys = true; args.shift(); continue; }
      if (opt[1] === '-') opt = opt.slice(1);
      const need = (): string => {
        args.shift();
        if (args.length === 0) { err(USAGE_IP); throw new Exit(255); }
        return args[0]!;
      };
      if (matches(opt, '-loops')) need();
      else if (matches(opt, '-family')) {
        const f = need();
        o.family = f === 'inet' ? 2 : f === 'inet6' ? 10 : 0;
        if (o.family === 0) { err(`Error: argument "${f}" is wrong: invalid protocol family\n`); throw new Exit(255); }
      } else if (opt === '-4') o.family = 2;
      else if (opt === '-6') o.family = 10;
      else if (matches(opt, '-human') || matches(opt, '-human-readable') || matches(opt, '-iec')) { /* no effect on xfrm */ }
      else if (matches(opt, '-stats') || matches(opt, '-statistics')) o.stats++;
      else if (matches(opt, '-details')) o.details = true;
      else if (matches(opt, '-resolve')) { /* no effect on xfrm */ }
      else if (matches(opt, '-oneline')) o.oneline = true;
      else if (matches(opt, '-timestamp')) o.timestamp = Math.max(o.timestamp, 1);
      else if (matches(opt, '-tshort')) o.timestamp = 2;
      else if (matches(opt, '-Version')) { out('ip utility, iproute2-6.1.0 (keyfleet)\n'); return 0; }
      else if (matches(opt, '-force')) o.force = true;
      else if (matches(opt, '-batch')) o.batch = need();
      else if (matches(opt, '-brief')) { /* no effect */ }
      else if (matches(opt, '-json')) o.json = true;
      else if (matches(opt, '-pretty')) o.pretty = true;
      else if (matches(opt, '-rcvbuf')) {
        const v = need();
        const n = /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(v) ? Number(v) : NaN;
        if (!(n >= 0 && n <= 0xffffffff)) { err(`Invalid rcvbuf size '${v}'\n`); throw new Exit(255); }
        o.rcvbuf = n;
      }
      else if (matches(opt, '-help')) { err(USAGE_IP); return 255; }
      else if (matches(opt, '-netns')) o.netns = need();
      else if (matches(opt, '-Numeric') || matches(opt, '-all')) { /* no effect */ }
      else { err(`Option "${opt}" is unknown, try "ip -help".\n`); return 255; }
      args.shift();
    }
    if (o.batch !== undefined) return await runBatch(o);
    if (args.length === 0) { err(USAGE_IP); return 255; }
    wasm().exports.resetAll();
    prepareParse(o, args);
    const res = parseIpArgv(args, o.family);
    return await execute(res, o, null);
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  }
}

async function runBatch(o: IpOptions): Promise<number> {
  const name = o.batch!;
  let text: Buffer;
  try {
    text = name === '-' ? readFileSync(0) : readFileSync(name);
  } catch (e) {
    err(`Cannot open file "${name}" for reading: ${nativeStrerror((e as NodeJS.ErrnoException).errno ? -(e as NodeJS.ErrnoException).errno! : 2)}\n`);
    return 1;
  }
  const session: Session = { kernel: null, lineBase: 0 };
  prepareParse(o, text);
  try {
    if (o.atomic) {
      // all or nothing needs every record at once (pre-images, inverse operations)
      wasm().exports.resetAll();
      return await execute(parseIpBatch(text, o.family, true), o, name, session);
    }
    // Parse and run the file a few MiB at a time: memory stays bounded whatever the file's size, and the
    // semantics are ip's (lines run in order; a list, an error or the end of the file ends the batch).
    let off = 0;
    for (;;) {
      const end = chunkEnd(text, off, BATCH_CHUNK);
      wasm().exports.resetAll();
      const chunk = text.subarray(off, end);
      const res = parseIpBatch(chunk, o.family, true);
      const code = await execute(res, o, name, session);
      if (code !== 0 || res.diags.length > 0 || res.consumed < chunk.length || end >= text.length) return code;
      session.lineBase += countLines(chunk);
      off = end;
    }
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  } finally {
    session.kernel?.close();
  }
}

const BATCH_CHUNK = 1 << 20;

/** Where a batch chunk starting at `off` may end: after a newline that does not continue the line (`\`). */
function chunkEnd(text: Buffer, off: number, size: number): number {
  if (text.length - off <= size) return text.length;
  let i = text.lastIndexOf(0x0a, off + size - 1);
  while (i > off && text[i - 1] === 0x5c) i = text.lastIndexOf(0x0a, i - 1);
  if (i <= off) {
    // one logical line longer than a chunk: take it whole
    i = off + size;
    for (;;) {
      i = text.indexOf(0x0a, i);
      if (i < 0) return text.length;
      if (text[i - 1] !== 0x5c) break;
      i++;
    }
  }
  return i + 1;
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** What the chunks of one batch share: the kernel channel, and the line number the current chunk starts after. */
interface Session {
  kernel: XfrmKernel | null;
  lineBase: number;
}

/**
 * Runs records [first, end) in order: runs of modifying records go to the kernel together (one sendmsg per MiB),
 * reads one by one; then the parser's diagnostic (the line ip would have stopped at), if any.
 */
async function execute(res: IpParseResult, o: IpOptions, file: string | null, session?: Session): Promise<number> {
  const own = session === undefined;
  const ss: Session = session ?? { kernel: null, lineBase: 0 };
  const k = (): XfrmKernel => (ss.kernel ??= XfrmKernel.open(o.netns ? { netns: o.netns } : {}));
  const where = (i: number): string => (file !== null ? `${file}:${ss.lineBase + u32(i * REC_SIZE + R_LINE)}: ` : '');
  try {
    if (o.atomic && res.end > res.first && res.diags.length === 0) {
      // --atomic: all modifying lines or none (src/engine/atomic.ts); reads in the batch are not printed
      const r = await applyAtomic(k(), res.first, res.end);
      if (r.failure) {
        err(kernelErrorText(r.failure.error));
        if (file !== null) err(`${where(r.failure.record)}${r.failure.error.message}; ${r.undone} change(s) rolled back\n`);
        for (const rf of r.rollbackFailures) err(`keyfleet ip: rollback of record ${rf.record} failed: ${rf.error.message}\n`);
        return 2;
      }
      return 0;
    }
    let i = res.first;
    while (i < res.end) {
      if (MODIFYING.has(kindOf(i))) {
        let j = i;
        // -s -s: ip narrates each flush on stderr before sending it, so a flush goes alone
        const narrated = (x: number): boolean => o.stats > 1 && (kindOf(x) === L.OP_SA_FLUSH || kindOf(x) === L.OP_SP_FLUSH);
        if (narrated(i)) {
          j = i + 1;
          err(kindOf(i) === L.OP_SP_FLUSH ? 'Flush policy\n'
            : `Flush state with XFRM-PROTO value "${xfrmProtoName(wasm().dv.getUint8(wasm().regionPtr(REGION_RECORDS) + i * REC_SIZE + L.R_PROTO))}"\n`);
        } else while (j < res.end && MODIFYING.has(kindOf(j)) && !narrated(j)) j++;
        const r = await k().apply(i, j, { stopOnError: true });
        const f = r.failures[0];
        if (f) {
          err(kernelErrorText(f.error));
          if (file !== null) err(`${where(f.record)}${f.error.message}\n`);
          await undoAfterFailure(k(), f.record, i + r.sent, new Set(r.failures.map((x) => x.record)));
          return 2; // rtnl_talk failure: exit(2), even under -force
        }
        i = j;
        continue;
      }
      const code = await runOne(i, k, o);
      if (code !== 0) return code;
      i++;
    }
    const d = res.diags[0];
    if (d) {
      const t = ipDiagText(d);
      err(t.stderr);
      if (file !== null) {
        err(`${file}:${ss.lineBase + d.line}: ${t.stderr.split('\n')[0]}\n`);
        if (t.soft) err(`Command failed ${file}:${ss.lineBase + d.line}\n`);
      }
      return t.exit;
    }
    return 0;
  } catch (e) {
    if (e instanceof KernelError) { err(kernelErrorText(e)); return 2; }
    throw e;
  } finally {
    if (own) { ss.kernel?.close(); ss.kernel = null; }
  }
}

function printRecords(first: number, end: number, policy: boolean, o: IpOptions, nokeys: boolean, filter?: number): void {
  if (o.json) {
    printJson(jsonOf(first, end, o, nokeys, filter), o);
    return;
  }
  const opts = {
    stats: o.stats, details: o.details, oneline: o.oneline, nokeys, family: o.family, ifNames: (i: number) => linksOf(o).get(i),
    ...(filter !== undefined ? { filter } : {}),
  };
  out(policy ? formatIpPolicies(first, end, opts) : formatIpStates(first, end, opts));
}

/** The JSON objects of records [first, end) that pass the filter record, if any. */
function jsonOf(first: number, end: number, o: IpOptions, nokeys: boolean, filter?: number): Record<string, unknown>[] {
  const arr: Record<string, unknown>[] = [];
  const keep = filter === undefined ? null : ipFilterPasses(first, end, filter);
  if (keep) for (const i of keep) arr.push(recordToJson(readRecord(i), { showKeys: o.showKeys && !nokeys }));
  else for (let i = first; i < end; i++) arr.push(recordToJson(readRecord(i), { showKeys: o.showKeys && !nokeys }));
  return arr;
}

/**
 * `list`: sends the parsed dump request (for SAs it carries the kernel-side filter), then decodes, filters and
 * prints the reply one datagram at a time, dropping its records before the next: memory stays flat whatever the
 * table's size. As ip, a dump the kernel flagged as interrupted is printed with a warning, not retried.
 */
async function list(i: number, policy: boolean, k: XfrmKernel, o: IpOptions, nokeys: boolean): Promise<void> {
  const reply = await k.requestRecord(i);
  if (reply.interrupted) err('Dump was interrupted and may be inconsistent.\n');
  const base = markRecords();
  const arr: Record<string, unknown>[] = [];
  for (let c = 0; c < reply.chunks.length; c++) {
    const r = decodeReply([reply.chunks[c]!]);
    reply.chunks[c] = EMPTY;
    if (o.json) arr.push(...jsonOf(r.first, r.end, o, nokeys, i));
    else printRecords(r.first, r.end, policy, o, nokeys, i);
    restoreRecords(base);
  }
  if (o.json) printJson(arr, o);
}
const EMPTY = Buffer.alloc(0);

/** Decodes a reply's messages as records appended after the current ones; returns their range. */
function decodeReply(chunks: Buffer[], keepAll = false): { first: number; end: number } {
  const w = wasm();
  const first = w.regionLen(REGION_RECORDS) / REC_SIZE;
  for (const c of chunks) decodeXfrm(c, { append: true, keepAll });
  return { first, end: w.regionLen(REGION_RECORDS) / REC_SIZE };
}

/** rtnl_talk without an answer: one acked request; a kernel error is thrown (ip: exit 2). */
async function talk(k: XfrmKernel, build: (seq: number) => Buffer, op: string): Promise<void> {
  const seq = k.channel.allocSeq(1);
  const failed = await k.channel.transact(build(seq), seq, 1, op);
  const e = failed.get(seq);
  if (e) throw e;
}

/** rtnl_talk with an answer: the reply decoded as records, and its first message's bytes. */
async function ask(k: XfrmKernel, build: (seq: number) => Buffer, op: string, keepAll = false): Promise<{ first: number; end: number; msg: Buffer }> {
  const seq = k.channel.allocSeq(1);
  const reply = await k.channel.request(build(seq), seq, op);
  const msg = Buffer.from(reply.chunks[0] ?? Buffer.alloc(16));
  return { ...decodeReply(reply.chunks, keepAll), msg };
}

function printJson(v: unknown, o: IpOptions): void {
  out(JSON.stringify(v, null, o.pretty ? 2 : undefined) + '\n');
}

/** One non-batched record: get/allocspi/count/getdefault (print the answer), set/setdefault, list, deleteall, monitor. */
async function runOne(i: number, k: () => XfrmKernel, o: IpOptions): Promise<number> {
  const kind = kindOf(i);
  const aux = u32(i * REC_SIZE + R_AUX);
  const filt = u32(i * REC_SIZE + R_AUX2);
  if (kind === L.OP_SA_GET || kind === L.OP_SP_GET || kind === L.OP_SA_ALLOCSPI) {
    const reply = await k().requestRecord(i);
    const r = decodeReply(reply.chunks);
    printRecords(r.first, r.end, kind === L.OP_SP_GET, o, false);
    return 0;
  }
  if (kind === L.OP_SA_DUMP || kind === L.OP_SP_DUMP) {
    // the kernel filters SAs by address and proto (the request carries them), ip filters the rest as it prints
    await list(i, kind === L.OP_SP_DUMP, k(), o, (filt & D.IPF_NOKEYS) !== 0);
    throw new Exit(0); // ip's list ends with exit(0): a batch stops here
  }
  if (kind === L.OP_SA_DELETEALL || kind === L.OP_SP_DELETEALL) {
    await deleteall(i, kind === L.OP_SP_DELETEALL, k(), o);
    throw new Exit(0);
  }
  switch (aux) {
    case D.IPC_SA_COUNT: case D.IPC_SP_COUNT: {
      const r = await ask(k(), (seq) => infoRequest(aux === D.IPC_SP_COUNT, seq), 'count');
      if (o.json) printJson(infoReplyJson(r.msg, aux === D.IPC_SP_COUNT), o);
      else if (r.end > r.first) out(formatIpCount(r.first, { stats: o.stats, oneline: o.oneline }).text);
      return 0;
    }
    case D.IPC_SP_SET:
      await talk(k(), (seq) => spdSetRequest(i, seq), 'policy set');
      return 0;
    case D.IPC_SP_SETDEFAULT:
      await talk(k(), (seq) => defaultRequest(i, seq), 'policy setdefault');
      return 0;
    case D.IPC_SP_GETDEFAULT: {
      const r = await ask(k(), (seq) => defaultRequest(null, seq), 'policy getdefault', true);
      if (o.json) printJson(defaultReplyJson(r.msg), o);
      else if (r.end > r.first) out(formatIpDefault(r.first));
      return 0;
    }
    case D.IPC_MONITOR:
      return await monitor(i, o);
  }
  err('keyfleet ip: this command is not supported\n');
  return 1;
}

/**
 * ip stops at the first kernel error (rtnl_talk failure: exit(2)), but the kernel went on with the later messages
 * of the same sendmsg. Adds among them that succeeded are deleted again, so the state is ip's; any other kind of
 * operation (update, delete, flush) cannot be undone without a pre-image (`--atomic` has them) and is reported.
 */
async function undoAfterFailure(k: XfrmKernel, failed: number, sentEnd: number, failedSet: ReadonlySet<number>): Promise<void> {
  const mark = markRecords();
  try {
    const undo: number[] = [];
    let kept = 0;
    for (let x = failed + 1; x < sentEnd; x++) {
      if (failedSet.has(x)) continue;
      const kind = kindOf(x);
      if (kind === L.OP_SA_ADD || kind === L.OP_SP_ADD) undo.push(cloneAs(x, kind === L.OP_SA_ADD ? L.OP_SA_DELETE : L.OP_SP_DELETE));
      else kept++;
    }
    if (undo.length > 0) {
      // the clones were appended one after another: one contiguous range
      const u = await k.apply(undo[0]!, undo[undo.length - 1]! + 1, {});
      if (u.failures.length > 0) err(`keyfleet ip: ${u.failures.length} of the ${undo.length} add(s) sent after the failing line could not be removed again: check the state\n`);
    }
    if (kept > 0) err(`keyfleet ip: ${kept} operation(s) after the failing line were applied by the kernel in the same send (ip stops first): check the state, or use --atomic\n`);
  } finally {
    restoreRecords(mark);
  }
}

/**
 * `deleteall` as ip/xfrm_state.c and xfrm_policy.c do it: rounds of dump → filter (xfrm_*_keep) → one send of
 * deletes, until a dump finds nothing to delete. -s -s narrates the rounds on stderr as ip does.
 */
async function deleteall(i: number, policy: boolean, k: XfrmKernel, o: IpOptions): Promise<void> {
  for (let round = 0; ; round++) {
    if (o.stats > 1) err(`Delete-all round = ${round}\n`);
    const mark = markRecords();
    const d = await k.dump(policy ? 'policy' : 'sa');
    const del = ipDeleteallRecords(d.first, d.end, i);
    if (del.end === del.first) {
      restoreRecords(mark);
      if (o.stats > 1) err('Delete-all completed\n');
      return;
    }
    const r = await k.apply(del.first, del.end, { stopOnError: true });
    restoreRecords(mark);
    const f = r.failures[0];
    if (f) {
      // perror("Failed to send delete-all request") after rtnl_send_check saw the kernel's error
      err(`Failed to send delete-all request${policy ? '' : '\n'}: ${nativeStrerror(f.error.errno)}\n`);
      throw new Exit(1);
    }
    if (o.stats > 1) err(`Delete-all nlmsg count = ${del.end - del.first}\n`);
  }
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** lib/utils.c print_timestamp: `Timestamp: <asctime> N usec` (-t) or `[YYYY-MM-DDTHH:MM:SS.uuuuuu] ` (-ts). */
function timestampText(short: boolean): string {
  const now = Date.now();
  const d = new Date(now);
  const usec = String((now % 1000) * 1000);
  const hms = `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  if (short) return `[${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${hms}.${usec.padStart(6, '0')}] `;
  return `Timestamp: ${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${hms} ${d.getFullYear()} ${usec} usec\n`;
}

// linux/xfrm.h message types as event names (XFRM_MSG_NEWSA → "newsa") for monitor -j
const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(X).filter(([k]) => k.startsWith('XFRM_MSG_')).map(([k, v]) => [v as number, k.slice(9).toLowerCase()]),
);
const SA_EVENTS = new Set([X.XFRM_MSG_NEWSA, X.XFRM_MSG_UPDSA, X.XFRM_MSG_DELSA, X.XFRM_MSG_EXPIRE]);
const POLICY_EVENTS = new Set([X.XFRM_MSG_NEWPOLICY, X.XFRM_MSG_UPDPOLICY, X.XFRM_MSG_DELPOLICY, X.XFRM_MSG_POLEXPIRE]);

const GROUPS = [X.XFRMNLGRP_ACQUIRE, X.XFRMNLGRP_EXPIRE, X.XFRMNLGRP_SA, X.XFRMNLGRP_POLICY, X.XFRMNLGRP_AEVENTS,
  X.XFRMNLGRP_REPORT, X.XFRMNLGRP_MIGRATE, X.XFRMNLGRP_MAPPING];

/**
 * `ip xfrm monitor` (ip/xfrm_monitor.c): joins the groups asked for and prints every event as ip does, -t/-ts
 * timestamps and `[nsid current]` (all-nsid) in front. Beyond ip: when the kernel drops events (ENOBUFS), ip only
 * says "netlink receive error" on stderr; we also print a gap line on stdout, re-dump the SAD and SPD (printed as
 * `ip xfrm state list` / `policy list` would) between two marker lines, and go on.
 */
async function monitor(i: number, o: IpOptions): Promise<number> {
  const filt = u32(i * REC_SIZE + R_AUX2);
  const nokeys = (filt & D.IPF_NOKEYS) !== 0;
  const allNsid = (filt & D.IPM_ALL_NSID) !== 0;
  // xfrm_accept_msg: -t/-ts first, then the datagram's nsid (rtnl_listen's ctrl.nsid; < 0: this netns)
  let nsid = -1;
  const prefix = (): string => (o.timestamp ? timestampText(o.timestamp > 1) : '')
    + (allNsid ? (nsid < 0 ? '[nsid current]' : `[nsid ${nsid}]`) : '');
  const fmt = { stats: o.stats, oneline: o.oneline, nokeys, family: o.family, ifNames: (x: number) => linksOf(o).get(x) };
  const w = wasm();
  const printEvents = (first: number, end: number): void => {
    if (o.json) {
      // one object per event line: {"event": "<XFRM_MSG_* name>", "sa"|"policy"|"acquire"|"report": {...}}
      for (let r = first; r < end; r++) {
        const type = w.dv.getUint16(w.regionPtr(REGION_RECORDS) + r * REC_SIZE + L.R_MSGTYPE, true);
        const name = EVENT_NAMES[type] ?? `type-${type}`;
        const kind = SA_EVENTS.has(type) ? 'sa' : POLICY_EVENTS.has(type) ? 'policy' : null;
        const ev: Record<string, unknown> = { event: name };
        if (allNsid) ev.nsid = nsid < 0 ? 'current' : nsid;
        if (kind) ev[kind] = recordToJson(readRecord(r), { showKeys: o.showKeys && !nokeys });
        else if (type === X.XFRM_MSG_ACQUIRE) ev.acquire = acquireToJson(readRecord(r));
        else if (type === X.XFRM_MSG_REPORT) ev.report = reportToJson(readRecord(r));
        out(JSON.stringify(ev) + '\n');
      }
      return;
    }
    if (!o.timestamp && !allNsid) { out(formatIpMonitor(first, end, fmt)); return; }
    for (let r = first; r < end; r++) out(prefix() + formatIpMonitor(r, r + 1, fmt).toString('latin1'));
  };
  if (filt & D.IPM_FILE) {
    // rtnl_from_file: a file of raw netlink messages (as `ip monitor` saves them)
    const name = Buffer.from(w.u8.subarray(w.regionPtr(L.REGION_BLOB) + u32(i * REC_SIZE + L.R_CTX_OFF), w.regionPtr(L.REGION_BLOB) + u32(i * REC_SIZE + L.R_CTX_OFF) + u32(i * REC_SIZE + L.R_CTX_LEN))).toString('utf8');
    let data: Buffer;
    try { data = readFileSync(name); } catch (e) {
      err(`Cannot fopen: ${nativeStrerror((e as NodeJS.ErrnoException).errno ?? 2)}\n`);
      return 255;
    }
    const r = decodeReply([data], true);
    printEvents(r.first, r.end);
    return 0;
  }
  const mask = u32(i * REC_SIZE + L.R_SPI_MAX);
  const groups = GROUPS.filter((g) => (mask & (1 << (g - 1))) !== 0);
  const sock = openNetlinkXfrm({ ...(o.netns ? { netns: o.netns } : {}), groups, listenAllNsid: allNsid, ...(o.rcvbuf !== undefined ? { rcvbuf: o.rcvbuf } : {}) });
  const base = markRecords();
  let resyncing = false;
  let lostAgain = false; // events dropped while re-dumping: the dump may predate them, so dump once more
  let pending: Buffer[] = [];
  const onData = (datagrams: Buffer[]): void => {
    if (resyncing) { pending.push(...datagrams); return; }
    for (const d of datagrams) {
      if (allNsid) nsid = (d as NsidDatagram).nsid;
      const r = decodeReply([d], true);
      printEvents(r.first, r.end);
      restoreRecords(base);
    }
  };
  const resync = async (): Promise<void> => {
    resyncing = true;
    out('keyfleet: events were lost (kernel receive buffer overflow, ENOBUFS); re-dumping the SAD and SPD\n');
    const k = XfrmKernel.open(o.netns ? { netns: o.netns } : {});
    try {
      const sa = await k.dump('sa');
      out(formatIpStates(sa.first, sa.end, fmt));
      restoreRecords(base);
      const sp = await k.dump('policy');
      out(formatIpPolicies(sp.first, sp.end, fmt));
      restoreRecords(base);
      out('keyfleet: re-dump done; events follow\n');
    } finally {
      k.close();
      resyncing = false;
      const later = pending; pending = [];
      onData(later);
    }
    if (lostAgain) { lostAgain = false; await resync(); }
  };
  return await new Promise<number>((resolve) => {
    sock.start(onData, (e) => {
      if (e.errno === -105 || e.errno === 105 || e.code === 'ENOBUFS') {
        err(`netlink receive error ${nativeStrerror(105)} (105)\n`);
        if (resyncing) lostAgain = true;
        else resync().catch((x: unknown) => { err(`keyfleet ip: re-dump failed: ${(x as Error).message}\n`); });
        return;
      }
      err(`netlink receive error ${nativeStrerror(e.errno)} (${Math.abs(e.errno)})\n`);
      sock.close();
      resolve(2);
    });
  });
}

const USAGE_IP = `Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }
       ip [ -force ] -batch filename
where  OBJECT := { address | addrlabel | amt | fou | help | ila | ioam | l2tp |
                   link | macsec | maddress | monitor | mptcp | mroute | mrule |
                   neighbor | neighbour | netconf | netns | nexthop | ntable |
                   ntbl | route | rule | sr | tap | tcpmetrics |
                   token | tunnel | tuntap | vrf | xfrm }
       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] | -r[esolve] |
                    -h[uman-readable] | -iec | -j[son] | -p[retty] |
                    -f[amily] { inet | inet6 | mpls | bridge | link } |
                    -4 | -6 | -M | -B | -0 |
                    -l[oops] { maximum-addr-flush-attempts } | -br[ief] |
                    -o[neline] | -t[imestamp] | -ts[hort] | -b[atch] [filename] |
                    -rc[vbuf] [size] | -n[etns] name | -N[umeric] | -a[ll] |
                    -c[olor]}
`;
