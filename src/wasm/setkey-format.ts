// src/wasm/setkey-format.ts — TypeScript face of asm/src/setkey-format.ts (layer: asm bindings).
// Owns: formatting records as `setkey -D` / `-DP` text (ipsec-tools 0.8.2 over af_key), and the two pieces of
// host state that text depends on and wasm cannot see: the local time zone (ctime() prints local time) and
// /etc/protocols (getprotobynumber() names upper-layer protocols). Both are handed to wasm once, lazily.
import { readFileSync } from 'node:fs';
import { REGION_OUTPUT } from '../../asm/shared/layout.js';
import { localZoneTable } from './local-zone.js';
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

export interface SetkeyFormatConfig {
  /** 'local' (default: the zone Node sees, as ctime() would), 'utc', or a fixed offset in seconds east of UTC. */
  timezone?: 'local' | 'utc' | number;
  /** The text of /etc/protocols (default: read from the host; null = no names, numbers only). */
  protocols?: string | null;
}

let configured = false;

function fns(): SetkeyFormatExports {
  return wasm().fns<SetkeyFormatExports>();
}


/** getprotobynumber(): the first /etc/protocols entry for each number 0..255. */
function protocolNames(text: string | null): Map<number, string> {
  const names = new Map<number, string>();
  if (text === null) return names;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [name, num] = line.split(/\s+/);
    const n = Number(num);
    if (!name || !Number.isInteger(n) || n < 0 || n > 255 || names.has(n)) continue;
    names.set(n, name);
  }
  return names;
}

/** Set the time zone and protocol names the formatter uses (kept in wasm static memory across resetAll). */
export function configureSetkeyFormat(config: SetkeyFormatConfig = {}): void {
  const f = fns();
  const w = wasm();
  const tz = config.timezone ?? 'local';
  const table: [number, number][] = tz === 'local' ? localZoneTable() : [[-(2 ** 53), tz === 'utc' ? 0 : tz]];
  const max = f.setkeyFmtTzMax();
  const n = Math.min(table.length, max);
  const tzp = f.setkeyFmtTzBuffer() >>> 0;
  const dv = w.dv;
  for (let i = 0; i < n; i++) {
    dv.setBigInt64(tzp + 16 * i, BigInt(table[i]![0]), true);
    dv.setBigInt64(tzp + 16 * i + 8, BigInt(table[i]![1]), true);
  }
  f.setkeyFmtSetTz(n === 1 && table[0]![1] === 0 ? 0 : n);

  let text: string | null;
  if (config.protocols !== undefined) text = config.protocols;
  else {
    try { text = readFileSync('/etc/protocols', 'latin1'); } catch { text = null; }
  }
  const names = protocolNames(text);
  const pp = f.setkeyFmtProtoBuffer() >>> 0;
  const u8 = w.u8;
  u8.fill(0, pp, pp + 256 * 32);
  for (const [num, name] of names) {
    const b = Buffer.from(name, 'latin1').subarray(0, 31);
    u8[pp + num * 32] = b.length;
    u8.set(b, pp + num * 32 + 1);
  }
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
