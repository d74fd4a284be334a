#!/usr/bin/env node
// scripts/fuzz/run.mjs — `npm run fuzz`: property-based and mutation fuzzing of the wasm codecs (layer: tooling).
// Owns: the budget (≥ 1,000,000 inputs by default) split into seeded chunks per target (scripts/fuzz/targets.mjs),
// a pool of worker threads (one wasm instance each), the hang watchdog, the memory-bound check and the summary.
// Exit status 1 on any failure. Uses dist/ (run `npm run build` first; `npm test` builds too).
//   npm run fuzz                                     default budget, random master seed (printed)
//   npm run fuzz -- --inputs 20000 --seed 1          smaller, reproducible run
//   npm run fuzz -- --target xfrm-mutate --seed S --path P   replay one failing case (fast-check seed + path)
//   npm run fuzz -- --target setkey-mutate --input FILE      run one raw input file through a target's checks
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  return argv[i + 1];
};
const has = (name) => argv.includes(`--${name}`);
if (has('help')) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).slice(0, 9).join('\n'));
  process.exit(0);
}

const total = Number(opt('inputs', 1_000_000));
const masterSeed = opt('seed') !== undefined ? Number(opt('seed')) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const replayPath = opt('path');
const rawInput = opt('input');
const workers = Number(opt('workers', Math.max(1, Math.min(2, os.availableParallelism?.() ?? 2))));
const chunkSize = Number(opt('chunk', 10000));
const limitMs = Number(opt('limit-ms', 2000));
const hangMs = Number(opt('hang-ms', 30000));
const memLimit = Number(opt('mem-limit-mb', 512)) * 1024 * 1024;
const quiet = has('quiet');

const { targets } = await import('./targets.mjs');
const names = opt('target') ? opt('target').split(',') : Object.keys(targets);
for (const n of names) if (!targets[n]) { console.error(`unknown target ${n}; targets: ${Object.keys(targets).join(', ')}`); process.exit(2); }

function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// ---------------------------------------------------------------- jobs
const jobs = [];
if (replayPath !== undefined || rawInput !== undefined) {
  if (names.length !== 1) { console.error('--path/--input need exactly one --target'); process.exit(2); }
  if (rawInput === undefined && opt('seed') === undefined) { console.error('--path needs --seed'); process.exit(2); }
  if (rawInput !== undefined) jobs.push({ type: 'raw', target: names[0], bytes: readFileSync(rawInput) });
  else jobs.push({ type: 'chunk', target: names[0], seed: masterSeed, numRuns: Number(opt('runs', 1)), replayPath, limitMs, shrink: true });
} else {
  const weight = names.reduce((s, n) => s + targets[n].weight, 0);
  for (const n of names) {
    const budget = Math.max(1, Math.round(total * targets[n].weight / weight));
    for (let i = 0, done = 0; done < budget; i++) {
      const numRuns = Math.min(chunkSize, budget - done);
      jobs.push({ type: 'chunk', target: n, seed: (masterSeed ^ hash32(n) ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0, numRuns, limitMs, shrink: !has('no-shrink') });
      done += numRuns;
    }
  }
  // interleave targets so that every target makes progress early
  jobs.sort((a, b) => (a.seed % 997) - (b.seed % 997));
  if (!has('no-plateau')) jobs.push({ type: 'plateau', rounds: 10 });
}

// ---------------------------------------------------------------- pool
const stats = Object.fromEntries(names.map((n) => [n, { inputs: 0, chunks: 0, failures: 0, maxMs: 0, maxSeed: 0, maxPath: '', ms: 0 }]));
const failures = [];
const memory = [];
let plateau = null;
const t0 = performance.now();
let doneInputs = 0;
let lastPrint = 0;
const planned = jobs.filter((j) => j.type === 'chunk').reduce((s, j) => s + j.numRuns, 0);

console.log(`fuzz: master seed ${masterSeed}, ${planned.toLocaleString('en')} inputs in ${jobs.length} jobs over ${names.length} targets, ${workers} worker(s)`);

function startWorker(id) {
  return new Promise((resolve) => {
    const shared = new SharedArrayBuffer(32);
    const state = new Int32Array(shared, 0, 4);
    const started = new Float64Array(shared, 16, 1);
    const w = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { shared } });
    let job = null;
    let timer = null;
    let memSeries = [];
    const next = () => {
      job = jobs.shift() ?? null;
      if (!job) { clearInterval(timer); memory.push({ id, series: memSeries }); w.terminate().then(resolve); return; }
      w.postMessage(job);
    };
    w.on('message', (m) => {
      if (m.type === 'ready') { memSeries.push(m.mem); timer = setInterval(watch, 1000); next(); return; }
      if (m.type === 'plateau') { plateau = m.res; next(); return; }
      if (m.type === 'raw') {
        if (m.error) failures.push({ target: job.target, error: m.error, replay: `--target ${job.target} --input ${rawInput}` });
        stats[job.target].inputs++;
        next();
        return;
      }
      const r = m.res;
      const s = stats[r.target];
      s.inputs += r.runs; s.chunks++; s.ms += r.ms;
      if (r.maxMs > s.maxMs) { s.maxMs = r.maxMs; s.maxSeed = r.seed; s.maxPath = String(r.maxAt); }
      memSeries.push(r.mem);
      doneInputs += r.runs;
      if (r.failed) {
        s.failures++;
        failures.push({ target: r.target, error: r.error, file: r.file, preview: r.preview, inputLen: r.inputLen,
          replay: `npm run fuzz -- --target ${r.target} --seed ${r.seed} --path ${r.path}` });
        console.log(`\nFAIL ${r.target} seed ${r.seed} path ${r.path}: ${r.error}\n  input (${r.inputLen} bytes) saved to ${r.file}` +
          `\n  replay: npm run fuzz -- --target ${r.target} --seed ${r.seed} --path ${r.path}`);
      }
      const now = performance.now();
      if (!quiet && now - lastPrint > 5000) {
        lastPrint = now;
        console.log(`  ${doneInputs.toLocaleString('en')}/${planned.toLocaleString('en')} inputs, ${((now - t0) / 1000).toFixed(0)} s, ` +
          `${Math.round(doneInputs / ((now - t0) / 1000))}/s, ${failures.length} failure(s)`);
      }
      next();
    });
    w.on('error', (e) => {
      failures.push({ target: job?.target ?? '?', error: `worker crashed: ${e.stack ?? e}`, replay: job ? `--target ${job.target} --seed ${job.seed}` : '' });
      clearInterval(timer);
      startWorker(id).then(resolve); // the rest of the queue goes on in a fresh thread
    });
    function watch() {
      if (Atomics.load(state, 1) !== 1 || job?.type !== 'chunk') return;
      const ms = performance.now() - started[0];
      if (ms < hangMs) return;
      // A hang: this input has not returned for hangMs. Name it (fast-check run index = replay path) and move on.
      const index = Atomics.load(state, 0);
      stats[job.target].failures++;
      failures.push({ target: job.target, error: `hang: input ${index} still running after ${(ms / 1000).toFixed(0)} s`,
        replay: `npm run fuzz -- --target ${job.target} --seed ${job.seed} --path ${index}` });
      console.log(`\nHANG ${job.target} seed ${job.seed} path ${index}`);
      clearInterval(timer);
      w.removeAllListeners('message');
      w.terminate().then(() => startWorker(id).then(resolve));
    }
  });
}

await Promise.all(Array.from({ length: workers }, (_, i) => startWorker(i)));
const secs = (performance.now() - t0) / 1000;

// ---------------------------------------------------------------- summary
const mb = (b) => `${(b / 1048576).toFixed(1)} MiB`;
console.log(`\nfuzz summary (master seed ${masterSeed}, ${secs.toFixed(1)} s, ${workers} worker(s))`);
console.log('  target               inputs      failures  max ms/input (replay of the slowest: --seed S --path P)');
let sum = 0;
for (const [n, s] of Object.entries(stats)) {
  sum += s.inputs;
  console.log(`  ${n.padEnd(20)} ${String(s.inputs).padStart(9)}   ${String(s.failures).padStart(8)}  ${s.maxMs.toFixed(1).padStart(8)}  (--seed ${s.maxSeed} --path ${s.maxPath})` +
    `  ${s.ms ? Math.round(s.inputs / (s.ms / 1000)) : 0}/s`);
}
console.log(`  ${'total'.padEnd(20)} ${String(sum).padStart(9)}   ${String(failures.length).padStart(8)}`);
let memFail = false;
for (const m of memory) {
  const s = m.series;
  if (!s.length) continue;
  const half = s[Math.floor(s.length / 2)];
  const last = s[s.length - 1];
  const peak = Math.max(...s);
  console.log(`  wasm memory, worker ${m.id}: start ${mb(s[0])}, after half its chunks ${mb(half)}, end ${mb(last)}, peak ${mb(peak)} (limit ${mb(memLimit)})`);
  if (peak > memLimit) { memFail = true; failures.push({ target: 'memory', error: `worker ${m.id} wasm memory ${mb(peak)} over ${mb(memLimit)}` }); }
}
if (plateau) {
  const ok = plateau.after === plateau.warm;
  console.log(`  memory plateau: ${plateau.inputs} inputs (a fixed sample of every target, 12 rounds): ${mb(plateau.warm)} after 2 rounds, ${mb(plateau.after)} after 12 ${ok ? '(no growth: blocks reused)' : '(GREW)'}`);
  if (!ok) failures.push({ target: 'memory', error: `wasm memory grew from ${plateau.warm} to ${plateau.after} bytes re-running the same inputs` });
}
void memFail;
if (failures.length) {
  console.log(`\n${failures.length} failure(s):`);
  for (const f of failures) console.log(`  ${f.target}: ${f.error.split('\n')[0]}\n    replay: ${f.replay ?? ''}${f.file ? `\n    input: ${f.file}` : ''}`);
  process.exit(1);
}
console.log('no failures');
