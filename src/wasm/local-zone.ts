// src/wasm/local-zone.ts — the local time zone as a table the wasm formatters can search (layer: asm
// bindings). Owns turning JavaScript's zone rules into [start second, UTC offset] pairs, so that setkey's
// ctime() dates and ip's localtime() dates render in wasm without a call back per entry.

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
