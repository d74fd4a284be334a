// src/agent/window.ts — cutting a streamed text batch into bounded windows (layer: agent). Owns where a window
// may end without splitting a statement: after a `;` outside quotes and comments (setkey(8) text), or at a
// newline that does not continue the line (`ip -batch` text: iproute2 joins a line ending in `\`), and the line
// count before each window so results keep the lines of the whole text. Chunks may split the text anywhere.

export type TextSyntax = 'setkey' | 'ip';

export interface Window {
  text: Buffer;
  /** Lines before this window's first byte (add to its 1-based local lines). */
  lineOffset: number;
}

export class WindowSplitter {
  readonly #syntax: TextSyntax;
  readonly #limit: number;
  #parts: Buffer[] = [];
  #size = 0;
  /** Scan state at the end of the buffered bytes (setkey): inside "..." / after # up to the newline. */
  #quote = false;
  #comment = false;
  #escape = false;
  /** Offset (in buffered bytes) just past the last place a window may end, -1 if none yet. */
  #cut = -1;
  #scanned = 0;
  #lines = 0;
  #peak = 0;

  constructor(syntax: TextSyntax, limitBytes: number) {
    this.#syntax = syntax;
    this.#limit = limitBytes;
  }

  /** The most bytes held at once. */
  get peak(): number { return this.#peak; }
  get buffered(): number { return this.#size; }

  /** Adds a chunk; returns the windows that are complete and large enough to apply now. */
  push(chunk: Uint8Array): Window[] {
    if (chunk.length === 0) return [];
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#parts.push(b);
    this.#size += b.length;
    if (this.#size > this.#peak) this.#peak = this.#size;
    this.#scan(b);
    const out: Window[] = [];
    while (this.#size >= this.#limit && this.#cut > 0) out.push(this.#take(this.#cut));
    return out;
  }

  /** The rest at the end of the stream (may be empty). */
  end(): Window | null {
    if (this.#size === 0) return null;
    return this.#take(this.#size);
  }

  #scan(b: Buffer): void {
    const base = this.#scanned;
    this.#scanned += b.length;
    if (b.length === 0) return;
    if (this.#syntax === 'ip') {
      // iproute2's getcmdline joins a line whose newline follows a backslash.
      for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) {
        const prev = i > 0 ? b[i - 1] === 0x5c : this.#escape;
        if (!prev) this.#cut = base + i + 1;
      }
      this.#escape = b[b.length - 1] === 0x5c;
      return;
    }
    // setkey: jump between the bytes that matter with indexOf (native); a statement has one `;`.
    let i = 0;
    while (i < b.length) {
      if (this.#comment) {
        const nl = b.indexOf(0x0a, i);
        if (nl < 0) return;
        this.#comment = false;
        i = nl + 1;
      } else if (this.#quote) {
        for (; i < b.length; i++) {
          const c = b[i]!;
          if (this.#escape) this.#escape = false;
          else if (c === 0x5c) this.#escape = true;
          else if (c === 0x22) { this.#quote = false; i++; break; }
        }
      } else {
        const q = b.indexOf(0x22, i), h = b.indexOf(0x23, i);
        const stop = q < 0 ? (h < 0 ? b.length : h) : h < 0 ? q : Math.min(q, h);
        const semi = stop > i ? b.lastIndexOf(0x3b, stop - 1) : -1;
        if (semi >= i) this.#cut = base + semi + 1;
        if (stop === b.length) return;
        if (stop === q) this.#quote = true; else this.#comment = true;
        i = stop + 1;
      }
    }
  }

  #take(n: number): Window {
    const all = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#size);
    const text = Buffer.from(all.subarray(0, n)); // a copy: the rest must not pin the window's bytes
    const rest = all.subarray(n);
    this.#parts = rest.length ? [Buffer.from(rest)] : [];
    this.#size = rest.length;
    this.#scanned = rest.length;
    this.#cut = -1;
    // A cut is outside quotes and comments, so the rest is rescanned from a clean state for its cut points.
    this.#quote = false; this.#comment = false; this.#escape = false;
    this.#scanned = 0;
    if (rest.length) this.#scan(this.#parts[0]!);
    const w = { text, lineOffset: this.#lines };
    for (let i = 0; i < text.length; i++) if (text[i] === 0x0a) this.#lines++;
    return w;
  }
}
