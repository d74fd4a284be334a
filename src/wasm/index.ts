// src/wasm/index.ts — the one long-lived WebAssembly instance (layer: asm bindings). Owns loading
// asm/build/keyfleet.wasm, memory views that are re-created after memory grows, and moving bytes in and
// out of the REGION_* regions. Codec wrappers (src/wasm/*.ts) build on this; nothing above src/wasm
// touches wasm memory directly.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { REGION_INPUT } from '../../asm/shared/layout.js';

/** Exports every codec shares (asm/src/arena.ts). Codec wrappers declare their own on top. */
export interface ArenaExports {
  memory: WebAssembly.Memory;
  resetAll(): void;
  resetRegion(r: number): void;
  regionPtr(r: number): number;
  regionLen(r: number): number;
  inputBuffer(n: number): number;
}

export class WasmTrap extends Error {
  constructor(message: string) {
    super(`internal error in the WebAssembly codec: ${message} (please report it with the input that caused it)`);
    this.name = 'WasmTrap';
  }
}

function findWasm(): string {
  // dist/src/wasm/index.js → <root>/asm/build/keyfleet.wasm; also works from src/ under a TS loader.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, 'asm', 'build', 'keyfleet.wasm');
    try { readFileSync(p, { flag: 'r' }).length; return p; } catch { dir = path.dirname(dir); }
  }
  throw new Error('asm/build/keyfleet.wasm not found: run `npm run build` (or `npm ci`) first');
}

export class Wasm {
  readonly exports: ArenaExports;
  #buffer: ArrayBuffer | null = null;
  #u8: Uint8Array = new Uint8Array(0);
  #dv: DataView = new DataView(new ArrayBuffer(0));

  constructor(bytes: Uint8Array) {
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(module, {
      env: {
        abort(_msg: number, _file: number, line: number, col: number): never {
          throw new WasmTrap(`abort at ${line >>> 0}:${col >>> 0}`);
        },
        seed(): number { return Date.now(); },
      },
    });
    this.exports = instance.exports as unknown as ArenaExports;
    // asconfig exports the start function (exportStart: _initialize): static data (the arena's region tables)
    // exists only after it ran.
    (instance.exports._initialize as (() => void) | undefined)?.();
  }

  /** A typed view of the exports for a codec wrapper. */
  fns<T>(): T & ArenaExports {
    return this.exports as T & ArenaExports;
  }

  #refresh(): void {
    const buf = this.exports.memory.buffer;
    if (buf !== this.#buffer) {
      this.#buffer = buf;
      this.#u8 = new Uint8Array(buf);
      this.#dv = new DataView(buf);
    }
  }

  get u8(): Uint8Array { this.#refresh(); return this.#u8; }
  get dv(): DataView { this.#refresh(); return this.#dv; }

  /** Copy bytes into REGION_INPUT; returns its length. */
  setInput(bytes: Uint8Array): number {
    const p = this.exports.inputBuffer(bytes.length);
    this.u8.set(bytes, p);
    return bytes.length;
  }

  regionPtr(r: number): number { return this.exports.regionPtr(r) >>> 0; }
  regionLen(r: number): number { return this.exports.regionLen(r) >>> 0; }

  /** A live view of a region (invalid after the next call into wasm). */
  view(r: number, off = 0, len = this.regionLen(r) - off): Uint8Array {
    const p = this.regionPtr(r);
    return this.u8.subarray(p + off, p + off + len);
  }

  /** A copy of a region's bytes, safe to keep. */
  copy(r: number, off = 0, len = this.regionLen(r) - off): Buffer {
    return Buffer.from(this.view(r, off, len));
  }

  input(): Uint8Array { return this.view(REGION_INPUT); }
}

let instance: Wasm | null = null;

/** The process-wide instance, loaded on first use. */
export function wasm(): Wasm {
  if (instance === null) instance = new Wasm(readFileSync(findWasm()));
  return instance;
}
