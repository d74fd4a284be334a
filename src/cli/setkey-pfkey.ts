// src/cli/setkey-pfkey.ts — the PF_KEY-only modes of `keyfleet setkey` (layer: cli): reading binary PF_KEY
// message files given as operands (setkey.c fileproc → postproc), the -v/-H message traces (sendkeymsg), and
// the -x/-xx promiscuous monitor (promisc, printdate; on the xfrm backend from XFRM notifications composed into
// the messages af_key would broadcast). Printing goes through the same record formatter as -D.
import { readFileSync } from 'node:fs';
import type { Sink } from './output.js';
import { PfkeyKernel } from '../kernel/pfkey.js';
import { decodePfkey, pfkeyMessages, composeXfrmEvents, type PfkeyHeader } from '../wasm/pfkey-codec.js';
import { decodeXfrm } from '../wasm/xfrm-codec.js';
import { openNetlinkXfrm, XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_EXPIRE, XFRMNLGRP_ACQUIRE } from '../native/index.js';
import { kdebugSadb, setkeyHexdump } from '../wasm/pfkey-debug.js';
import { formatSetkeySAs, formatSetkeySPs } from '../wasm/setkey-format.js';
import { markRecords, restoreRecords } from '../kernel/xfrm.js';
import { strerror } from '../kernel/errors.js';
import { wasm } from '../wasm/index.js';
import { REGION_RECORDS, REC_SIZE, R_STATE } from '../../asm/shared/layout.js';
import {
  SADB_GET, SADB_DUMP, SADB_DELETE, SADB_X_SPDDELETE, SADB_X_SPDGET, SADB_X_SPDDUMP, SADB_X_PROMISC, MSG_SIZE,
  SADB_SASTATE_DEAD, SADB_EXPIRE, SADB_ACQUIRE,
} from '../../asm/shared/pfkey.js';
import { KALG_NAME } from '../../asm/shared/algorithms.js';
import { XFRM_MSG_ACQUIRE } from '../../asm/shared/xfrm.js';

/** setkey.c fileproc(): it reads at most this much of a file (its rbuf). */
const FILEPROC_MAX = 32 * 1024;

export interface FileOptions { out: Sink; err: Sink; all: boolean; ports: boolean; loop: boolean }

/** The text postproc() prints for one message outside -f mode (no "The result of line N: " prefix). */
export function postprocText(h: PfkeyHeader, o: { all: boolean; ports: boolean; now?: number }): string | Buffer {
  if (h.errno !== 0) {
    let msg = strerror(h.errno);
    if (h.errno === 2) {
      if (h.type === SADB_DELETE || h.type === SADB_GET || h.type === SADB_X_SPDDELETE) msg = 'No entry';
      else if (h.type === SADB_DUMP) msg = 'No SAD entries';
      else if (h.type === SADB_X_SPDDUMP) msg = 'No SPD entries';
    }
    return `${msg}.\n`;
  }
  if (h.type !== SADB_GET && h.type !== SADB_DUMP && h.type !== SADB_X_SPDGET && h.type !== SADB_X_SPDDUMP) return '';
  const mark = markRecords();
  try {
    decodePfkey(h.bytes, { append: true });
    const end = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
    if (end <= mark.records) return '';
    const k = mark.records;
    // the printed sadb_seq is the message's own (dump messages count down to 0)
    const seq = { firstSeq: h.seq, total: h.seq === 0 ? 0 : 0xffffffff, pid: h.pid };
    if (h.type === SADB_X_SPDGET || h.type === SADB_X_SPDDUMP) return formatSetkeySPs(k, k + 1, { ports: o.ports, now: 0, ...seq });
    if (h.type === SADB_DUMP && !o.all && wasm().dv.getUint8(wasm().regionPtr(REGION_RECORDS) + k * REC_SIZE + R_STATE) === SADB_SASTATE_DEAD) return '';
    return formatSetkeySAs(k, k + 1, { all: true, ports: o.ports, now: o.now ?? Date.now() / 1000, ...seq });
  } finally {
    restoreRecords(mark);
  }
}

/** `setkey FILE`: print the PF_KEY messages of a binary file (e.g. a saved dump) as setkey 0.8.2 does. */
export function printPfkeyFile(file: string, o: FileOptions): number {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    o.err.write(`setkey: ${file}: ${x.errno ? strerror(-x.errno) : x.message}\n`);
    return 1;
  }
  if (data.length < MSG_SIZE) {
    o.err.write(`setkey: ${file}: ${strerror(22)}\n`);
    o.err.write(`keyfleet setkey: ${file} is not a file of PF_KEY messages (shorter than one sadb_msg); to apply a configuration use -f\n`);
    return 1;
  }
  if (data.length > FILEPROC_MAX) {
    o.err.write(`keyfleet setkey: ${file}: only the first ${FILEPROC_MAX} bytes are read, as setkey 0.8.2 does\n`);
    data = data.subarray(0, FILEPROC_MAX);
  }
  let seen = 0;
  for (const h of pfkeyMessages(data)) {
    seen += h.length;
    o.out.write(postprocText(h, o));
  }
  if (seen < data.length) {
    o.err.write(`keyfleet setkey: ${file}: bytes ${seen}..${data.length} are not a whole PF_KEY message; stopped there (setkey would read past them)\n`);
  }
  return 0;
}

/** -v / -H: what setkey prints around each send (kdebug_sadb + blank line, then the hex) and receive. */
export function traceTo(out: Sink, o: { verbose: boolean; hexdump: boolean }): (dir: 'send' | 'recv', m: Buffer) => void {
  return (dir, m) => {
    if (o.verbose) out.write(`${kdebugSadb(m)}\n`);
    if (dir === 'send' && o.hexdump) out.write(setkeyHexdump(m));
  };
}

/** printdate(): "HH:MM:SS.uuuuuu " (local time) for -x, "sec.usec " for -xx, then a newline. */
function printdate(xx: boolean): string {
  const ms = Date.now();
  const sec = Math.floor(ms / 1000);
  const usec = String((ms % 1000) * 1000).padStart(6, '0');
  if (xx) return `${sec}.${usec} \n`;
  const s = ((sec - new Date(ms).getTimezoneOffset() * 60) % 86400 + 86400) % 86400;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}.${usec} \n`;
}

/**
 * What a promiscuous PF_KEY socket would receive for one datagram of XFRM notifications: af_key's broadcast of each
 * change (composed in wasm from the decoded records, asm/src/pfkey-encode.ts pfkeyComposeEvents), twice for those
 * af_key sends to every socket (a promiscuous socket gets BROADCAST_ALL messages once as promiscuous and once as a
 * socket), once for expiries and acquires (BROADCAST_REGISTERED).
 */
export function xfrmEventsAsPfkey(datagram: Buffer, avail: () => number = algAvailability): Buffer[] {
  const mark = markRecords();
  try {
    decodeXfrm(datagram, { append: true });
    const end = wasm().regionLen(REGION_RECORDS) / REC_SIZE;
    const out: Buffer[] = [];
    for (const m of composeXfrmEvents(mark.records, end, 1, hasAcquire(datagram) ? avail() : 0)) {
      out.push(m);
      if (m[1] !== SADB_EXPIRE && m[1] !== SADB_ACQUIRE) out.push(m);
    }
    return out;
  } finally {
    restoreRecords(mark);
  }
}

/** Whether a datagram of netlink messages holds an XFRM_MSG_ACQUIRE (struct nlmsghdr: u32 len, u16 type). */
function hasAcquire(d: Buffer): boolean {
  for (let off = 0; off + 16 <= d.length;) {
    const len = d.readUInt32LE(off);
    if (d.readUInt16LE(off + 4) === XFRM_MSG_ACQUIRE) return true;
    if (len < 16) break;
    off += (len + 3) & ~3;
  }
  return false;
}

/**
 * Which algorithms af_key would offer in an SADB_ACQUIRE's proposal (bit i = KALG_NAME[i]). af_key offers those
 * whose `available` bit is set in its xfrm_algo.c tables: set when the crypto API could instantiate the algorithm,
 * at an SADB_REGISTER (xfrm_probe_algs) or when an SA named it. That bit is not visible from user space; what is
 * visible is /proc/crypto, which lists every algorithm the crypto API has instantiated (the probe's and the SAs'
 * included, as they stay registered). So: available = named in /proc/crypto. This equals af_key's view once
 * something has registered (any IKE daemon on PF_KEY does, as setkey -f does); it can offer more than af_key when
 * nothing ever probed but another user (dm-crypt, an XFRM-only SA) instantiated an algorithm.
 */
export function algAvailability(procCrypto?: string): number {
  let text = procCrypto;
  if (text === undefined) {
    try { text = readFileSync('/proc/crypto', 'utf8'); } catch { return 0; }
  }
  const names = new Set<string>();
  for (const m of text.matchAll(/^name\s*:\s*(\S+)\s*$/gm)) names.add(m[1] as string);
  let bits = 0;
  KALG_NAME.forEach((n, i) => { if (i < 32 && names.has(n)) bits |= 1 << i; });
  return bits >>> 0;
}

/** -x on the xfrm backend: XFRM multicast (SA, policy, expire groups) printed as setkey -x prints af_key's. */
async function xfrmPromisc(o: PromiscOptions): Promise<number> {
  const sock = openNetlinkXfrm({ ...(o.netns ? { netns: o.netns } : {}), rcvbuf: 8 << 20, groups: [XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_EXPIRE, XFRMNLGRP_ACQUIRE] });
  sock.start((dgrams) => {
    for (const d of dgrams) for (const m of xfrmEventsAsPfkey(d)) o.out.write(promiscText(m, o));
    (o.out as Sink & { flush?: () => Promise<void> }).flush?.();
  }, (e) => {
    // ENOBUFS: the kernel dropped notifications; setkey -x has no way to say so, we do (stderr) and go on
    process.stderr.write(`keyfleet setkey -x: ${e.message}; some events were lost\n`);
  });
  await new Promise<void>((resolve) => {
    const stop = (): void => { sock.close(); resolve(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** The text setkey -x prints for one received message. */
export function promiscText(m: Buffer, o: { hexdump: boolean; xx: boolean }): string {
  let s = printdate(o.xx);
  if (o.hexdump) s += setkeyHexdump(m);
  let base: Buffer | null = m;
  if (m.length >= MSG_SIZE && m[1] === SADB_X_PROMISC) base = m.length > MSG_SIZE ? m.subarray(MSG_SIZE) : null;
  if (base) s += `${kdebugSadb(base)}\n`;
  return s;
}

export interface PromiscOptions { backend: 'xfrm' | 'pfkey'; netns: string | undefined; out: Sink; hexdump: boolean; xx: boolean }

/**
 * -x / -xx: print every PF_KEY message of the namespace until interrupted. On the xfrm backend the kernel's own
 * af_key broadcasts are used when af_key is loaded (it mirrors every XFRM change to PF_KEY sockets); without it
 * there is nothing PF_KEY-shaped to print and we say so.
 */
export async function startPromisc(o: PromiscOptions): Promise<number> {
  if (o.backend === 'xfrm') return xfrmPromisc(o);
  let k: PfkeyKernel;
  try {
    k = PfkeyKernel.open(o.netns ? { netns: o.netns } : {});
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    if (x.code === 'EAFNOSUPPORT' || x.code === 'EPROTONOSUPPORT') {
      process.stderr.write('keyfleet setkey: -x needs PF_KEY (modprobe af_key); this kernel has none: use `keyfleet ip xfrm monitor` for XFRM events\n');
      return 1;
    }
    throw e;
  }
  await k.promisc((m) => {
    o.out.write(promiscText(m, o));
    (o.out as Sink & { flush?: () => Promise<void> }).flush?.();
  });
  await new Promise<void>((resolve) => {
    const stop = (): void => { k.close(); resolve(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
