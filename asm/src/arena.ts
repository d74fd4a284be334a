// asm/src/arena.ts — wasm memory regions (layer: asm). Owns: a bump allocator over linear memory and the
// REGION_* growable byte regions that every parser/encoder/decoder/formatter writes into. Nothing here is
// garbage collected: TypeScript calls resetAll() at the start of a job; regions are addressed by offset
// because growing a region may move it.
import { REGION_COUNT } from "../shared/layout";

let top: usize = 0;
const rptr = new StaticArray<usize>(REGION_COUNT);
const rlen = new StaticArray<u32>(REGION_COUNT);
const rcap = new StaticArray<u32>(REGION_COUNT);

function bump(size: usize): usize {
  // Blocks come from the runtime's allocator (--runtime stub: a bump allocator that grows memory), so they never
  // overlap static data the runtime allocated in _initialize (the region tables above, algorithm tables). Blocks
  // a region outgrew are not reused (the stub cannot free); growth doubles, so that waste is bounded.
  return heap.alloc(size);
}

/** Empty every region, keeping their blocks for reuse. */
export function resetAll(): void {
  top = 0;
  for (let i = 0; i < REGION_COUNT; i++) {
    unchecked(rlen[i] = 0);
  }
}

/** Empty one region, keeping its block. */
export function resetRegion(r: i32): void {
  rlen[r] = 0;
}

/** Make room for n more bytes in region r; returns the absolute address where they go. */
export function reserve(r: i32, n: u32): usize {
  const len = unchecked(rlen[r]);
  const cap = unchecked(rcap[r]);
  if (<u64>len + <u64>n > <u64>cap) {
    let ncap: u64 = cap == 0 ? 4096 : <u64>cap * 2;
    while (ncap < <u64>len + <u64>n) ncap *= 2;
    if (ncap > 0xfff00000) unreachable();
    // heap.realloc grows the runtime's last block in place, so a region that is alone at the top
    // (the records of a big parse) grows without a copy and without leaving its old block behind.
    const old = unchecked(rptr[r]);
    const np = old == 0 ? bump(<usize>ncap) : heap.realloc(old, <usize>ncap);
    unchecked(rptr[r] = np);
    unchecked(rcap[r] = <u32>ncap);
  }
  return unchecked(rptr[r]) + len;
}

/** Reserve n bytes, zero them, commit them; returns their offset within the region. */
export function append(r: i32, n: u32): u32 {
  const p = reserve(r, n);
  memory.fill(p, 0, n);
  const off = unchecked(rlen[r]);
  unchecked(rlen[r] = off + n);
  return off;
}

/** Commit n bytes previously written at reserve()'s address. */
export function commit(r: i32, n: u32): void {
  unchecked(rlen[r] += n);
}

/** Shrink region r to len bytes (used to drop a partly written item). */
export function truncate(r: i32, len: u32): void {
  if (len < unchecked(rlen[r])) unchecked(rlen[r] = len);
}

export function regionPtr(r: i32): usize {
  return rptr[r];
}

export function regionLen(r: i32): u32 {
  return rlen[r];
}

/** Address of byte `off` of region r (valid until the region grows). */
// @ts-ignore: decorator
@inline export function at(r: i32, off: u32): usize {
  return unchecked(rptr[r]) + <usize>off;
}

/** Called by TypeScript before writing `n` bytes of input: returns the address to write at. */
export function inputBuffer(n: u32): usize {
  resetRegion(0);
  const p = reserve(0, n);
  commit(0, n);
  return p;
}

/** TypeScript's handle on append(): zeroed bytes at the end of region r; returns their offset. */
export function appendRegion(r: i32, n: u32): u32 {
  return append(r, n);
}

/** TypeScript's handle on truncate(). */
export function truncateRegion(r: i32, len: u32): void {
  truncate(r, len);
}

/** Ensures region r can take `n` more bytes without moving (TypeScript pre-sizes big jobs with it). */
export function reserveRegion(r: i32, n: u32): void {
  reserve(r, n);
}
