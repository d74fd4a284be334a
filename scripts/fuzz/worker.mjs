// scripts/fuzz/worker.mjs — one fuzzing thread (layer: tooling/fuzz). Owns: running chunks of a target as
// fast-check properties (fc.check with the chunk's seed; a failing case is shrunk and reported with its replay
// path), timing every input, publishing the run index of the input in progress through shared memory (so the
// main thread can name the input of a hang), and tracking this thread's wasm memory size.
import { parentPort, workerData } from 'node:worker_threads';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { targets, root, checkRaw } from './targets.mjs';

const { wasm } = await import(new URL('../../dist/src/wasm/index.js', import.meta.url).href);

// shared[0] = run index in progress (-1 idle), shared[1] = 1 while an input runs; times in f64 view
const shared = new Int32Array(workerData.shared, 0, 4);
const started = new Float64Array(workerData.shared, 16, 1);
const memBytes = () => wasm().exports.memory.buffer.byteLength;

function runChunk({ target, seed, numRuns, replayPath, limitMs, shrink }) {
  const t = targets[target];
  let index = -1;
  let maxMs = 0;
  let maxAt = -1;
  let runs = 0;
  let memMax = memBytes();
  const prop = fc.property(t.arbitrary, (v) => {
    index++;
    Atomics.store(shared, 0, index);
    started[0] = performance.now();
    Atomics.store(shared, 1, 1);
    const t0 = performance.now();
    try {
      t.check(v);
    } finally {
      const ms = performance.now() - t0;
      Atomics.store(shared, 1, 0);
      runs++;
      if (ms > maxMs) { maxMs = ms; maxAt = index; }
    }
    const ms = performance.now() - t0;
    if (ms > limitMs) throw new Error(`hang: one input took ${ms.toFixed(0)} ms (limit ${limitMs} ms)`);
    if ((index & 255) === 0) memMax = Math.max(memMax, memBytes());
  });
  const params = { seed, numRuns, endOnFailure: !shrink };
  if (replayPath !== undefined) params.path = replayPath;
  const t0 = performance.now();
  const details = fc.check(prop, params);
  const res = {
    target, seed, numRuns, runs, maxMs, maxAt, ms: performance.now() - t0, mem: memBytes(), memMax: Math.max(memMax, memBytes()),
    failed: details.failed,
  };
  if (details.failed) {
    res.path = details.counterexamplePath;
    const err = details.errorInstance;
    res.error = err instanceof Error ? err.message : String(err);
    try {
      const bytes = t.describe(details.counterexample[0]);
      const dir = process.env.KEYFLEET_FUZZ_FAILURES || path.join(root, 'fuzz-failures');
      mkdirSync(dir, { recursive: true });
      res.file = path.join(dir, `${target}-${seed}-${String(res.path).replace(/:/g, '_')}.bin`);
      writeFileSync(res.file, bytes);
      res.preview = Buffer.from(bytes.subarray(0, 300)).toString('latin1');
      res.inputLen = bytes.length;
    } catch (e) {
      res.preview = `(could not describe the input: ${e.message})`;
    }
  }
  return res;
}

/** Memory bound: the same inputs again and again must not grow wasm memory once warmed up. */
function memoryPlateau({ rounds }) {
  const inputs = [];
  for (const [name, t] of Object.entries(targets)) {
    const sample = fc.sample(t.arbitrary, { seed: 7, numRuns: 40 });
    for (const v of sample) inputs.push([name, v]);
  }
  const runAll = () => { for (const [name, v] of inputs) { try { targets[name].check(v); } catch { /* failures are the chunks' business */ } } };
  runAll(); runAll();
  const warm = memBytes();
  for (let i = 0; i < rounds; i++) runAll();
  return { inputs: inputs.length * (rounds + 2), warm, after: memBytes() };
}

parentPort.on('message', (msg) => {
  if (msg.type === 'chunk') parentPort.postMessage({ type: 'result', res: runChunk(msg) });
  else if (msg.type === 'plateau') parentPort.postMessage({ type: 'plateau', res: memoryPlateau(msg) });
  else if (msg.type === 'raw') {
    let error = null;
    try { checkRaw(msg.target, msg.bytes); } catch (e) { error = e.message; }
    parentPort.postMessage({ type: 'raw', error });
  }
});
parentPort.postMessage({ type: 'ready', mem: memBytes() });
