// src/wasm/format-host.ts — the host state the wasm formatters need and cannot see (layer: asm bindings).
// Owns turning JavaScript's zone rules into [start second, UTC offset] pairs, so that setkey's ctime() dates and
// ip's localtime() dates render in wasm without a call back per entry, and /etc/protocols into the names
// getprotobynumber() gives; both are written into a formatter's static buffers by writeFormatHost().
import { readFileSync } from 'node:fs';
import { wasm } from './index.js';

/** What both formatters accept: the zone their dates print in and the protocol names they use. */
export interface FormatHostConfig {
  /** 'local' (default: the zone Node sees, as localtime()/ctime() would), 'utc', or a fixed offset in seconds east of UTC. */
  timezone?: 'local' | 'utc' | number;
  /** The text of /etc/protocols (default: read from the host; null = no names, numbers only). */
  protocols?: string | null;
}

/** A formatter's static buffers for that state (its exported accessors). */
export interface FormatHostBuffers {
  tzBuffer(): number;
  tzMax(): number;
  setTz(n: number): void;
  protoBuffer(): number;
}

/** [start second, offset seconds] pairs covering 1968 .. 2106 (u32 seconds) for the process's local zone: weekly
 *  samples (a few ms), each change bisected to the second. Times outside use the nearest end's offset. */
export function localZoneTable(): [number, number][] {
  const off = (s: number): number => Math.round(-new Date(s * 1000).getTimezoneOffset() * 60);
  const week = 7 * 86400;
  const from = -2 * 365 * 86400;
  const to = Math.max(4291747200, Math.floor(Date.now() / 1000) + 5 * 365 * 86400);
  const out: [number, number][] = [[from, off(from)]];
  let prev = out[0]![1];
  for (let a = from; a < to; a += week) {
    const b = a + week;
    const ob = off(b);
    if (ob === prev) continue;
    let lo = a, hi = b; // first second with the new offset lies in (lo, hi]
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (off(mid) === prev) lo = mid; else hi = mid;
    }
    out.push([hi, ob]);
    prev = ob;
  }
  return out;
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

/** Write the zone table (16-byte [start, offset] pairs; 0 entries = UTC) and the 256 × 32-byte protocol name
 *  table (length byte + latin1 name) into one formatter's static memory, where they stay across resetAll. */
export function writeFormatHost(config: FormatHostConfig, b: FormatHostBuffers): void {
  const w = wasm();
  const tz = config.timezone ?? 'local';
  const table: [number, number][] = tz === 'local' ? localZoneTable() : [[-(2 ** 53), tz === 'utc' ? 0 : tz]];
  const n = Math.min(table.length, b.tzMax());
  const tzp = b.tzBuffer() >>> 0;
  const dv = w.dv;
  for (let i = 0; i < n; i++) {
    dv.setBigInt64(tzp + 16 * i, BigInt(table[i]![0]), true);
    dv.setBigInt64(tzp + 16 * i + 8, BigInt(table[i]![1]), true);
  }
  b.setTz(n === 1 && table[0]![1] === 0 ? 0 : n);

  let text: string | null;
  if (config.protocols !== undefined) text = config.protocols;
  else {
    try { text = readFileSync('/etc/protocols', 'latin1'); } catch { text = null; }
  }
  const pp = b.protoBuffer() >>> 0;
  const u8 = w.u8;
  u8.fill(0, pp, pp + 256 * 32);
  for (const [num, name] of protocolNames(text)) {
    const bytes = Buffer.from(name, 'latin1').subarray(0, 31);
    u8[pp + num * 32] = bytes.length;
    u8.set(bytes, pp + num * 32 + 1);
  }
}
