// src/wasm/ip-format.ts — TypeScript face of asm/src/ip-format.ts (layer: asm bindings).
// Owns: formatting records as iproute2 6.1 `ip xfrm state|policy list/get/allocspi/count` and `ip xfrm monitor`
// text, and the host state that text depends on and wasm cannot see: the local time zone (strxf_time uses
// localtime), /etc/protocols (getprotobynumber) and interface names (ll_index_to_name), handed to wasm.
import { readFileSync, readdirSync } from 'node:fs';
import { REGION_OUTPUT, REGION_RECORDS, REC_SIZE } from '../../asm/shared/layout.js';
import { writeFormatHost, type FormatHostConfig } from './format-host.js';
import { openNetlinkRoute } from '../native/index.js';
import { wasm } from './index.js';

interface IpFormatExports {
  ipFmtTzBuffer(): number;
  ipFmtTzMax(): number;
  ipFmtSetTz(n: number): void;
  ipFmtProtoBuffer(): number;
  ipFmtIfBuffer(): number;
  ipFmtIfMax(): number;
  ipFmtSetIfCount(n: number): void;
  ipFmtIfQueryBuffer(): number;
  ipFmtCollectIfindexes(first: number, end: number): number;
  ipFormatStates(first: number, end: number, flags: number): number;
  ipFormatPolicies(first: number, end: number, flags: number): number;
  ipFormatMonitor(first: number, end: number, flags: number): number;
  ipFormatCount(index: number, flags: number): number;
  ipFmtSetFilter(index: number): void;
  ipDeleteallRecords(first: number, end: number): number;
  ipFmtFilterMatch(index: number): number;
}

// Flag bits (asm/src/ip-format.ts IPF_*).
const IPF_ONELINE = 4;
const IPF_NOKEYS = 8;
const IPF_FAMILY_SHIFT = 16;

/** Resolves an interface index to its name as `ip` would in the target netns (undefined: ip prints "if<N>"). */
export type IfNameResolver = Map<number, string> | ((ifindex: number) => string | undefined);

export interface IpFormatOptions {
  /** `-s` count: 0, 1 (`-s`), 2 (`-s -s`; only `count` prints more). */
  stats?: number;
  /** `-d`: accepted for symmetry; iproute2 6.1's xfrm printers ignore it. */
  details?: boolean;
  /** `-o`: lines joined with `\`, one object per line. */
  oneline?: boolean;
  /** `nokeys` (state list, monitor): keys print as `<<Keys hidden>>`. */
  nokeys?: boolean;
  /** preferred_family (`-4` → 2, `-6` → 10): used only where a selector has no family. */
  family?: number;
  /** Interface names for selector `dev` / offload `dev` (default: this process's /sys/class/net). */
  ifNames?: IfNameResolver;
  /**
   * Print only what passes ip's list filter: the index of the record the ip parser made for the `list` line
   * (its fields and R_AUX2 mask bits are ip's `filter`: xfrm_state_filter_match / xfrm_policy_filter_match).
   */
  filter?: number;
}

export type IpFormatConfig = FormatHostConfig;

let configured = false;

function fns(): IpFormatExports {
  return wasm().fns<IpFormatExports>();
}

/** Set the time zone and protocol names the formatter uses (kept in wasm static memory across resetAll). */
export function configureIpFormat(config: IpFormatConfig = {}): void {
  const f = fns();
  writeFormatHost(config, {
    tzBuffer: () => f.ipFmtTzBuffer(), tzMax: () => f.ipFmtTzMax(), setTz: (n) => f.ipFmtSetTz(n),
    protoBuffer: () => f.ipFmtProtoBuffer(),
  });
  configured = true;
}

function ensureConfigured(): void {
  if (!configured) configureIpFormat();
}

/** Interface names of this process's network namespace (/sys/class/net/<name>/ifindex). */
export function localIfNames(): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const name of readdirSync('/sys/class/net')) {
      try {
        const idx = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'latin1').trim());
        if (Number.isInteger(idx)) m.set(idx, name);
      } catch { /* vanished meanwhile */ }
    }
  } catch { /* no sysfs: ip would print if<N> too */ }
  return m;
}

const RTM_GETLINK = 18;
const IFLA_IFNAME = 3;

/**
 * The links of a network namespace as ip sees them there (an RTM_GETLINK dump over NETLINK_ROUTE in that netns):
 * index → name. Without netns: this process's namespace.
 */
export function linkNames(netns?: string): Map<number, string> {
  const m = new Map<number, string>();
  const sock = openNetlinkRoute(netns ? { netns } : {});
  try {
    const req = Buffer.alloc(32); // nlmsghdr + struct ifinfomsg (16)
    req.writeUInt32LE(32, 0);
    req.writeUInt16LE(RTM_GETLINK, 4);
    req.writeUInt16LE(0x301, 6); // NLM_F_REQUEST | NLM_F_DUMP
    req.writeUInt32LE(1, 8);
    sock.send(req);
    for (let done = false; !done;) {
      const got = sock.recvSync(5000);
      if (got.length === 0) break;
      for (const d of got) {
        for (let off = 0; off + 16 <= d.length;) {
          const len = d.readUInt32LE(off), type = d.readUInt16LE(off + 4);
          if (len < 16 || off + len > d.length) break;
          if (type === 3 || type === 2) { done = true; break; } // NLMSG_DONE / NLMSG_ERROR
          if (type === 16 && len >= 32) { // RTM_NEWLINK: ifinfomsg.ifi_index at 4, then attributes
            const idx = d.readInt32LE(off + 20);
            for (let a = off + 32; a + 4 <= off + len;) {
              const alen = d.readUInt16LE(a), atype = d.readUInt16LE(a + 2) & 0x3fff;
              if (alen < 4) break;
              if (atype === IFLA_IFNAME) m.set(idx, d.toString('latin1', a + 4, a + alen).replace(/\0.*$/s, ''));
              a += (alen + 3) & ~3;
            }
          }
          off += (len + 3) & ~3;
        }
      }
    }
  } finally {
    sock.close();
  }
  return m;
}

/** Hand wasm the names of the interfaces records [first, end) mention. */
function loadIfNames(first: number, end: number, resolver: IfNameResolver | undefined): void {
  const f = fns();
  const count = f.ipFmtCollectIfindexes(first >>> 0, end >>> 0);
  if (count === 0) { f.ipFmtSetIfCount(0); return; }
  const w = wasm();
  const q = f.ipFmtIfQueryBuffer() >>> 0;
  const idxs: number[] = [];
  for (let i = 0; i < count; i++) idxs.push(w.dv.getUint32(q + 4 * i, true));
  const res = resolver ?? localIfNames();
  const lookup = (i: number): string | undefined => (typeof res === 'function' ? res(i) : res.get(i));
  const buf = f.ipFmtIfBuffer() >>> 0;
  let n = 0;
  for (const idx of idxs) {
    const name = lookup(idx);
    if (name === undefined) continue;
    const b = Buffer.from(name, 'latin1').subarray(0, 19);
    w.dv.setUint32(buf + 24 * n, idx, true);
    w.u8[buf + 24 * n + 4] = b.length;
    w.u8.set(b, buf + 24 * n + 5);
    n++;
  }
  f.ipFmtSetIfCount(n);
}

function flagsOf(o: IpFormatOptions): number {
  const s = Math.max(0, Math.min(3, Math.floor(o.stats ?? 0)));
  return s | (o.oneline ? IPF_ONELINE : 0) | (o.nokeys ? IPF_NOKEYS : 0) | (((o.family ?? 0) & 255) << IPF_FAMILY_SHIFT);
}

/**
 * `ip xfrm state list` text of SA records [first, end) of REGION_RECORDS (also `state get` / `allocspi` replies:
 * pass the reply's record). Decoded UPDSA/DELSA/EXPIRE records print with `Updated `/`Deleted `/`Expired `;
 * records of other message types are skipped, as ip does.
 */
export function formatIpStates(first: number, end: number, opts: IpFormatOptions = {}): Buffer {
  ensureConfigured();
  loadIfNames(first, end, opts.ifNames);
  fns().ipFmtSetFilter(opts.filter ?? -1);
  fns().ipFormatStates(first >>> 0, end >>> 0, flagsOf(opts));
  fns().ipFmtSetFilter(-1);
  return wasm().copy(REGION_OUTPUT);
}

/** `ip xfrm policy list` / `policy get` text of policy records [first, end). */
export function formatIpPolicies(first: number, end: number, opts: IpFormatOptions = {}): Buffer {
  ensureConfigured();
  loadIfNames(first, end, opts.ifNames);
  fns().ipFmtSetFilter(opts.filter ?? -1);
  fns().ipFormatPolicies(first >>> 0, end >>> 0, flagsOf(opts));
  fns().ipFmtSetFilter(-1);
  return wasm().copy(REGION_OUTPUT);
}

/**
 * `ip xfrm monitor` text of decoded event records [first, end) (any XFRM message: SA/policy events, acquire,
 * flush, report, aevent, mapping, getdefault, else `Unknown message: …`). Timestamps (-t) and `[nsid …]` are the
 * caller's to prefix.
 */
export function formatIpMonitor(first: number, end: number, opts: IpFormatOptions = {}): Buffer {
  ensureConfigured();
  loadIfNames(first, end, opts.ifNames);
  fns().ipFormatMonitor(first >>> 0, end >>> 0, flagsOf(opts));
  return wasm().copy(REGION_OUTPUT);
}

/** `ip xfrm default policy` block (`policy getdefault`): the GETDEFAULT reply record, printed as ip does. */
export function formatIpDefault(index: number): Buffer {
  return formatIpMonitor(index, index + 1, {});
}

/**
 * `ip xfrm state count` / `ip xfrm policy count` text of a NEWSADINFO / NEWSPDINFO reply record.
 * ok is false where ip reports a malformed answer (its text, e.g. `BAD SAD info returned`, is still returned).
 */
export function formatIpCount(index: number, opts: IpFormatOptions = {}): { text: Buffer; ok: boolean } {
  ensureConfigured();
  const ok = fns().ipFormatCount(index >>> 0, flagsOf(opts)) !== 0;
  return { text: wasm().copy(REGION_OUTPUT), ok };
}

/**
 * `deleteall` (xfrm_state_keep / xfrm_policy_keep): appends a delete record for each dumped record of [first, end)
 * that passes the filter record `filter` (one 8 KiB round's worth for policies, as ip sends them). Returns the
 * range of the appended records.
 */
export function ipDeleteallRecords(first: number, end: number, filter: number): { first: number; end: number } {
  const w = wasm();
  const start = w.regionLen(REGION_RECORDS) / REC_SIZE;
  fns().ipFmtSetFilter(filter);
  const n = fns().ipDeleteallRecords(first >>> 0, end >>> 0);
  fns().ipFmtSetFilter(-1);
  return { first: start, end: start + n };
}

/** The records of [first, end) that pass the list filter record `filter` (for -j output, which skips the printers). */
export function ipFilterPasses(first: number, end: number, filter: number): number[] {
  const f = fns();
  const out: number[] = [];
  f.ipFmtSetFilter(filter);
  for (let i = first; i < end; i++) if (f.ipFmtFilterMatch(i) !== 0) out.push(i);
  f.ipFmtSetFilter(-1);
  return out;
}
