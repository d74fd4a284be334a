#!/usr/bin/env node
// scripts/bench/run.mjs — `npm run bench` (layer: tooling). Measures keyfleet next to its anchors in the
// same run: `ip -batch`, a raw batched C loader (raw-loader.c: the kernel's limit) and, where PF_KEY
// exists, the real setkey. Several repetitions each; prints median, spread and ratios; writes JSON.
//   node scripts/bench/run.mjs [--out results.json] [--reps 3] [--sizes 1000,10000,100000,1000000] [--quick]
//        [--no-vm] [--vm-reps N] [--vm-sas 10000] [--vm-policies 10000]   (kernel VM rows: kernel-vm.mjs)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, note, clearNote, recorder, timed, sh } from './lib.mjs';
import { benchKernelVm } from './kernel-vm.mjs';
import { benchAgent } from './agent.mjs';
import { benchIp } from './ip.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const quick = argv.includes('--quick');
const reps = Number(opt('--reps', quick ? '1' : '3'));
const sizes = opt('--sizes', quick ? '1000,10000' : '1000,10000,100000,1000000').split(',').map(Number);
const outFile = opt('--out', null);
const big = Math.min(Math.max(...sizes), 100000); // parse and list at 100k; applies scale to every size
const work = mkdtempSync(path.join(tmpdir(), 'kf-bench-'));
const results = { date: new Date().toISOString(), reps, sizes, measurements: [] };
const record = recorder(results);

function inputs(n) {
  let sk = '', ipb = '';
  for (let i = 0; i < n; i++) {
    const s = `${(i >>> 16) + 10}.0.${(i >>> 8) & 255}.${i & 255}`;
    const d = `${(i >>> 16) + 11}.0.${(i >>> 8) & 255}.${i & 255}`;
    sk += `spdadd ${s}/32 ${d}/32 any -P out ipsec esp/transport//require;\n`;
    ipb += `xfrm policy add src ${s}/32 dst ${d}/32 dir out priority 2147483648 tmpl proto esp mode transport\n`;
  }
  const skf = path.join(work, `policies-${n}.conf`), ipf = path.join(work, `policies-${n}.batch`);
  writeFileSync(skf, sk); writeFileSync(ipf, ipb);
  return { skf, ipf, skText: sk };
}

let ns = 0;
function withNetns(fn) {
  const name = `kf-bench-${process.pid}-${ns++}`;
  sh('ip', ['netns', 'add', name]);
  try { return fn(name); } finally { spawnSync('ip', ['netns', 'del', name]); }
}

function policyCount(name) {
  const m = /OUT (\d+)/.exec(sh('ip', ['-n', name, 'xfrm', 'policy', 'count']));
  return Number(m?.[1] ?? -1);
}

// ---- 1. parse + encode, in process ----
async function benchParse() {
  const { parseSetkey } = await import(path.join(root, 'dist/src/wasm/setkey-parse.js'));
  const { encodeXfrm } = await import(path.join(root, 'dist/src/wasm/xfrm-codec.js'));
  const n = big;
  const { skText } = inputs(n);
  const text = Buffer.from(skText);
  const samples = [], mbs = [];
  for (let r = -1; r < Math.max(reps, 5); r++) {
    const t0 = process.hrtime.bigint();
    const p = parseSetkey(text, { file: 'bench', rfc: false });
    let done = 0;
    while (done < p.records) done += encodeXfrm(done, p.records, { seqBase: 1, ack: false, maxBytes: 1 << 20 }).consumed;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (p.records !== n) throw new Error(`parsed ${p.records} records, expected ${n}`);
    if (r < 0) continue; // the first run warms up the JIT and sizes wasm memory
    samples.push(n / s); mbs.push(text.length / s / 1e6);
  }
  const m = record('parse+encode', 'keyfleet setkey text → XFRM bytes', n, samples, { unit: 'statements/s', mbPerSecond: median(mbs), goal: '≥ 1,000,000 statements/s' });
  console.log(`parse+encode ${n} setkey statements: ${Math.round(m.median).toLocaleString('en')} statements/s (${median(mbs).toFixed(1)} MB/s; spread ${Math.round(m.min).toLocaleString('en')}–${Math.round(m.max).toLocaleString('en')}) goal ≥ 1,000,000/s`);
}

// ---- 2. apply N policies in a netns ----
function benchApply() {
  const raw = path.join(work, 'raw-loader');
  sh('cc', ['-O2', '-o', raw, path.join(root, 'scripts/bench/raw-loader.c')]);
  const keyfleet = path.join(root, 'bin/keyfleet');
  console.log('\napply policies in a fresh netns (wall seconds, median of reps; peak RSS)');
  console.log('   N  tool                         median    spread          RSS MB  × raw   ip÷tool');
  for (const n of sizes) {
    const { skf, ipf } = inputs(n);
    const tools = {
      'raw batched loader (C)': (name) => timed('ip', ['netns', 'exec', name, raw, String(n)]),
      'keyfleet setkey -f': (name) => timed(process.execPath, [keyfleet, 'setkey', '--netns', name, '-k', '-f', skf]),
      'ip -batch': (name) => timed('ip', ['-n', name, '-batch', ipf]),
    };
    const byTool = {};
    for (const [tool, run] of Object.entries(tools)) {
      const secs = [], rss = [];
      for (let r = 0; r < reps; r++) {
        note(`apply ${n}: ${tool} (${r + 1}/${reps})`);
        withNetns((name) => {
          const t = run(name);
          const c = policyCount(name);
          if (c !== n) throw new Error(`${tool}: ${c} policies in the kernel, expected ${n}`);
          secs.push(t.seconds); rss.push(t.rssKiB / 1024);
        });
      }
      byTool[tool] = record('apply-policies-netns', tool, n, secs, { unit: 's', peakRssMB: Math.max(...rss) });
    }
    clearNote();
    const rawT = byTool['raw batched loader (C)'].median, ipT = byTool['ip -batch'].median;
    for (const [tool, m] of Object.entries(byTool)) {
      m.ratioToRaw = m.median / rawT; m.speedupVsIp = ipT / m.median;
      console.log(`${String(n).padStart(7)}  ${tool.padEnd(28)} ${m.median.toFixed(3).padStart(7)}s  ${m.min.toFixed(3)}–${m.max.toFixed(3)}  ${m.peakRssMB.toFixed(0).padStart(6)}  ${m.ratioToRaw.toFixed(2).padStart(5)}  ${m.speedupVsIp.toFixed(2).padStart(6)}`);
    }
  }
  console.log('goals (issue 3/8): keyfleet ≥ 5× faster than ip -batch, ≤ 1.3× raw, peak RSS ≤ 150 MB at 100k');
}

// ---- 3. list N policies ----
function benchList() {
  const n = big;
  const { ipf } = inputs(n);
  const keyfleet = path.join(root, 'bin/keyfleet');
  console.log(`\nlist ${n} policies (wall seconds, output to a pipe)`);
  withNetns((name) => {
    timed('ip', ['-n', name, '-batch', ipf]);
    const tools = {
      'raw dump (C, no decoding)': ['ip', ['netns', 'exec', name, path.join(work, 'raw-loader'), 'dump', 'policy']],
      'ip xfrm policy list': ['ip', ['-n', name, 'xfrm', 'policy', 'list']],
      'keyfleet ip xfrm policy list': [process.execPath, [keyfleet, 'ip', '-n', name, 'xfrm', 'policy', 'list']],
      'keyfleet ip -j xfrm policy list': [process.execPath, [keyfleet, 'ip', '-j', '-n', name, 'xfrm', 'policy', 'list']],
      'keyfleet setkey -DP': [process.execPath, [keyfleet, 'setkey', '--netns', name, '-DP']],
      'keyfleet setkey -DP --json': [process.execPath, [keyfleet, 'setkey', '--netns', name, '-DP', '--json']],
    };
    const byTool = {};
    for (const [tool, [cmd, args]] of Object.entries(tools)) {
      const secs = [], rss = [];
      for (let r = 0; r < reps; r++) { note(`list: ${tool} (${r + 1}/${reps})`); const t = timed(cmd, args, { stdout: 'pipe' }); secs.push(t.seconds); rss.push(t.rssKiB / 1024); }
      byTool[tool] = record('list-policies-netns', tool, n, secs, { unit: 's', peakRssMB: Math.max(...rss) });
    }
    clearNote();
    const ipT = byTool['ip xfrm policy list'].median, rawT = byTool['raw dump (C, no decoding)'].median;
    for (const [tool, m] of Object.entries(byTool)) {
      m.speedupVsIp = ipT / m.median; m.ratioToRaw = m.median / rawT;
      console.log(`  ${tool.padEnd(32)} ${m.median.toFixed(3).padStart(7)}s  spread ${m.min.toFixed(3)}–${m.max.toFixed(3)}  RSS ${m.peakRssMB.toFixed(0).padStart(4)} MB  × raw ${m.ratioToRaw.toFixed(2).padStart(5)}  ip÷tool ${m.speedupVsIp.toFixed(2)}`);
    }
    console.log('  goals: ≤ 2× raw, ≥ 5× faster than ip');
  });
}

try {
  await benchParse();
  if (process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0) {
    benchApply();
    benchList();
    await benchAgent({ root, reps, n: big, record, note, quick });
    await benchIp({ timed, record, withNetns, sh, note, policyCount, work, reps, big, opt, argv });
  } else {
    console.log('SKIPPED netns benchmarks: they need root and `ip netns`');
  }
  if (!argv.includes('--no-vm') && !quick) {
    await benchKernelVm({ results, reps: Number(opt('--vm-reps', String(reps))), sas: Number(opt('--vm-sas', '10000')), policies: Number(opt('--vm-policies', '10000')) });
  }
  if (outFile) { writeFileSync(outFile, JSON.stringify(results, null, 2)); console.log(`\nresults written to ${outFile}`); }
} finally {
  rmSync(work, { recursive: true, force: true });
  void existsSync;
}
