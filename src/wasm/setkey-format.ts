// src/wasm/setkey-format.ts — TypeScript face of asm/src/setkey-format.ts (layer: asm bindings).
// Owns: formatting records as `setkey -D` / `-DP` text (ipsec-tools 0.8.2 over af_key), and the two pieces of
// host state that text depends on and wasm cannot see: the local time zone (ctime() prints local time) and
// /etc/protocols (getprotobynumber() names upper-layer protocols). Both are handed to wasm once, lazily.
import { REGION_OUTPUT } from '../../asm/shared/layout.js';
import { writeFormatHost, type FormatHostConfig } from './format-host.js';
import { wasm } from './index.js';

interface SetkeyFormatExports {
  setkeyFmtTzBuffer(): number;
  setkeyFmtTzMax(): number;
  setkeyFmtSetTz(n: number): void;
  setkeyFmtProtoBuffer(): number;
  setkeyFormatSA(first: number, end: number, flags: number, now: bigint, pid: number, seqBase: number, total: number): number;
  setkeyCountSA(first: number, end: number): number;
  setkeyFormatSP(first: number, end: number, flags: number, pid: number, seqBase: number, total: number): number;
  setkeyCountSP(first: number, end: number): number;
}

// Flag bits of setkeyFormatSA/SP (asm/src/setkey-format.ts SKF_*).
const SKF_ALL = 1;
const SKF_PORTS = 2;
const SKF_SHORT = 4;

/** What setkey prints for an empty SAD / SPD (setkey.c postproc, ENOENT on SADB_DUMP / SADB_X_SPDDUMP). */
export const SETKEY_NO_SAD = 'No SAD entries.\n';
export const SETKEY_NO_SPD = 'No SPD entries.\n';
/** `-l`: printed once before the first dump (setkey.c shortdump_hdr). */
export const SETKEY_SHORT_HEADER = 'time p   s spi      ltime   src -> dst\n';

export interface SetkeyFormatOptions {
  /** -a: also print SAs in state dead. */
  all?: boolean;
  /** -p: addr[port] for SA endpoints and tunnel endpoints. */
  ports?: boolean;
  /** -l: one line per SA (policies are always printed in full, as setkey does). */
  short?: boolean;
  /** Seconds since the epoch ("current:", "diff:", the -l age). */
  now: number;
  /** The pid setkey would print: dump replies carry the requester's pid, i.e. setkey's getpid(). */
  pid: number;
  /** sadb_seq / seq of the first PF_KEY-visible entry of this range: 1 unless the dump is formatted in chunks. */
  firstSeq?: number;
  /** PF_KEY-visible entries in the whole dump; the one numbered `total` prints seq 0 (af_key rewrites the last
   *  message's seq). Default: this range ends the dump. Use countSetkeySAs/SPs over the whole dump when chunking. */
  total?: number;
}

export type SetkeyFormatConfig = FormatHostConfig;

let configured = false;

function fns(): SetkeyFormatExports {
  return wasm().fns<SetkeyFormatExports>();
}

/** Set the time zone and protocol names the formatter uses (kept in wasm static memory across resetAll). */
export function configureSetkeyFormat(config: SetkeyFormatConfig = {}): void {
  const f = fns();
  writeFormatHost(config, {
    tzBuffer: () => f.setkeyFmtTzBuffer(), tzMax: () => f.setkeyFmtTzMax(), setTz: (n) => f.setkeyFmtSetTz(n),
    protoBuffer: () => f.setkeyFmtProtoBuffer(),
  });
  configured = true;
}

function ensureConfigured(): void {
  if (!configured) configureSetkeyFormat();
}

function flagsOf(o: SetkeyFormatOptions): number {
  return (o.all ? SKF_ALL : 0) | (o.ports ? SKF_PORTS : 0) | (o.short ? SKF_SHORT : 0);
}

/** How many records of [first, end) of REGION_RECORDS an af_key SA dump carries (ESP/AH/IPComp, inet/inet6). */
export function countSetkeySAs(first: number, end: number): number {
  return fns().setkeyCountSA(first, end) >>> 0;
}

/** How many records of [first, end) an af_key SPD dump carries (main-type inet/inet6 policies). */
export function countSetkeySPs(first: number, end: number): number {
  return fns().setkeyCountSP(first, end) >>> 0;
}

/** `setkey -D` (with -a / -p / -l) text of SA records [first, end). Empty when nothing is printable. */
export function formatSetkeySAs(first: number, end: number, opts: SetkeyFormatOptions): Buffer {
  ensureConfigured();
  const firstSeq = opts.firstSeq ?? 1;
  const total = opts.total ?? firstSeq - 1 + countSetkeySAs(first, end);
  fns().setkeyFormatSA(first, end, flagsOf(opts), BigInt(Math.floor(opts.now)), opts.pid >>> 0, (firstSeq - 1) >>> 0, total >>> 0);
  return wasm().copy(REGION_OUTPUT);
}

/** `setkey -DP` (with -p) text of policy records [first, end). */
export function formatSetkeySPs(first: number, end: number, opts: SetkeyFormatOptions): Buffer {
  ensureConfigured();
  const firstSeq = opts.firstSeq ?? 1;
  const total = opts.total ?? firstSeq - 1 + countSetkeySPs(first, end);
  fns().setkeyFormatSP(first, end, flagsOf(opts), opts.pid >>> 0, (firstSeq - 1) >>> 0, total >>> 0);
  return wasm().copy(REGION_OUTPUT);
}
