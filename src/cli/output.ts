// src/cli/output.ts — terminal output for the CLIs (layer: cli). Owns buffered writes to stdout/stderr
// that survive large outputs and are flushed before exit, and the TTY progress line.

export interface Sink {
  write(chunk: string | Uint8Array): void;
}

/** Collects output and writes it in large pieces; `flush()` resolves once the stream has taken it. */
export class BufferedSink implements Sink {
  #parts: (string | Uint8Array)[] = [];
  #size = 0;
  readonly #stream: NodeJS.WritableStream;
  constructor(stream: NodeJS.WritableStream) { this.#stream = stream; }
  write(chunk: string | Uint8Array): void {
    this.#parts.push(chunk);
    this.#size += chunk.length;
    if (this.#size > 1 << 20) this.#drain();
  }
  #drain(): void {
    if (this.#parts.length === 0) return;
    const buf = Buffer.concat(this.#parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.#parts = [];
    this.#size = 0;
    this.#stream.write(buf);
  }
  flush(): Promise<void> {
    this.#drain();
    return new Promise((resolve) => {
      if (this.#stream.write('')) resolve();
      else this.#stream.once('drain', () => resolve());
    });
  }
}

/** A one-line progress indicator on stderr, shown only when stderr is a TTY. */
export class Progress {
  readonly #enabled: boolean;
  #last = 0;
  #shown = false;
  readonly #label: string;
  constructor(label: string, enabled = Boolean(process.stderr.isTTY)) {
    this.#label = label;
    this.#enabled = enabled;
  }
  update(done: number, total: number): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#last < 100 && done < total) return;
    this.#last = now;
    this.#shown = true;
    const pct = total > 0 ? Math.floor((done * 100) / total) : 100;
    process.stderr.write(`\r${this.#label}: ${done}/${total} (${pct}%)\x1b[K`);
  }
  done(): void {
    if (this.#shown) process.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}
