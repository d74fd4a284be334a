// scripts/bench/ip.mjs — the `keyfleet ip` rows of `npm run bench` (layer: tooling). In one run, next to their anchors:
// `keyfleet ip -batch` vs `ip -batch` vs the raw C loader on N policies in a netns (time, peak RSS), listing N policies
// (`keyfleet ip xfrm policy list` vs `ip xfrm policy list`), and N ESP SAs loaded in the kernel VM (this host has no
// esp4) by both tools in the same VM boot. run.mjs calls benchIp(ctx) with its helpers; inside the VM this file runs
// standalone: node scripts/bench/ip.mjs --vm-sa N --reps R (prints one `KFBENCH-IP {json}` line).
//   options read from run.mjs's argv: --vm-sa-count N (default: the largest size), --vm-reps R (default: --reps), --no-vm
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearNote } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const keyfleet = path.join(root, 'bin/keyfleet');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** The bench's policy shapes (same as run.mjs's inputs and raw-loader.c), as an ip -batch file. */
function policyBatch(work, n) {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const s = `${(i >>> 16) + 10}.0.${(i >>> 8) & 255}.${i & 255}`;
    const d = `${(i >>> 16) + 11}.0.${(i >>> 8) & 255}.${i & 255}`;
    lines.push(`xfrm policy add src ${s}/32 dst ${d}/32 dir out priority 2147483648 tmpl proto esp mode transport`);
  }
  const f = path.join(work, `ip-policies-${n}.batch`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

/** N ESP tunnel SAs (AES-GCM, distinct addresses, SPIs and reqids) as an ip -batch file. */
function saBatch(work, n) {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const a = `${(i >>> 16) + 10}.${(i >>> 8) & 255}.${i & 255}`;
    lines.push(`xfrm state add src 10.${a} dst 11.${a} proto esp spi ${0x1000 + i} reqid ${i + 1} mode tunnel `
      + `aead rfc4106(gcm(aes)) 0x${(i + 0x1000000).toString(16).padStart(8, '0')}0102030405060708090a0b0c0d0e0f10 128`);
  }
  const f = path.join(work, `ip-sas-${n}.batch`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

function printRows(title, rows, anchor, extra = '') {
  console.log(title);
  const a = rows[anchor].median;
  for (const [tool, m] of Object.entries(rows)) {
    m.speedupVsIp = a / m.median;
    console.log(`  ${tool.padEnd(34)} ${m.median.toFixed(3).padStart(8)}s  spread ${m.min.toFixed(3)}–${m.max.toFixed(3)}  `
      + `RSS ${m.peakRssMB.toFixed(0).padStart(4)} MB  ${anchor}÷tool ${m.speedupVsIp.toFixed(2)}${m.ratioToRaw ? `  tool÷raw ${m.ratioToRaw.toFixed(2)}` : ''}`);
  }
  if (extra) console.log(extra);
}

/** Called by run.mjs with its helpers (timed, record, withNetns, sh, note, policyCount, work, reps, big, opt). */
export async function benchIp(ctx) {
  const { timed, record, withNetns, note, policyCount, work, reps, big, opt, argv } = ctx;
  const n = big;
  const batch = policyBatch(work, n);
  const raw = path.join(work, 'raw-loader');
  ctx.sh('cc', ['-O2', '-o', raw, path.join(root, 'scripts/bench/raw-loader.c')]);

  // ---- load N policies into a fresh netns
  const tools = {
    'raw batched loader (C)': (ns) => timed('ip', ['netns', 'exec', ns, raw, String(n)]),
    'keyfleet ip -batch': (ns) => timed(process.execPath, [keyfleet, 'ip', '-n', ns, '-batch', batch]),
    'ip -batch': (ns) => timed('ip', ['-n', ns, '-batch', batch]),
  };
  const load = {};
  for (const [tool, run] of Object.entries(tools)) {
    const secs = [], rss = [];
    for (let r = 0; r < reps; r++) {
      note(`ip: load ${n} policies: ${tool} (${r + 1}/${reps})`);
      withNetns((ns) => {
        const t = run(ns);
        const c = policyCount(ns);
        if (c !== n) throw new Error(`${tool}: ${c} policies in the kernel, expected ${n}`);
        secs.push(t.seconds); rss.push(t.rssKiB / 1024);
      });
    }
    load[tool] = record('ip-batch-policies-netns', tool, n, secs, { unit: 's', peakRssMB: Math.max(...rss) });
  }
  clearNote();
  const rawT = load['raw batched loader (C)'].median;
  for (const m of Object.values(load)) m.ratioToRaw = m.median / rawT;
  printRows(`\nkeyfleet ip -batch: load ${n} policies into a fresh netns (median of ${reps})`, load, 'ip -batch',
    `  goals (issue 5): ≥ 5× faster than ip -batch (raw itself is ${(load['ip -batch'].median / rawT).toFixed(2)}× ip: the kernel's insertion bounds it), peak RSS ≤ 150 MB`);

  // ---- list N policies
  withNetns((ns) => {
    timed('ip', ['netns', 'exec', ns, raw, String(n)]);
    const lists = {
      'ip xfrm policy list': ['ip', ['-n', ns, 'xfrm', 'policy', 'list']],
      'keyfleet ip xfrm policy list': [process.execPath, [keyfleet, 'ip', '-n', ns, 'xfrm', 'policy', 'list']],
      'keyfleet ip -j xfrm policy list': [process.execPath, [keyfleet, 'ip', '-n', ns, '-j', 'xfrm', 'policy', 'list']],
    };
    const a = spawnSync('ip', ['-n', ns, 'xfrm', 'policy', 'list'], { maxBuffer: 1 << 30 }).stdout;
    const b = spawnSync(process.execPath, [keyfleet, 'ip', '-n', ns, 'xfrm', 'policy', 'list'], { maxBuffer: 1 << 30 }).stdout;
    if (!a.equals(b)) throw new Error('keyfleet ip xfrm policy list differs from ip\'s');
    const rows = {};
    for (const [tool, [cmd, args]] of Object.entries(lists)) {
      const secs = [], rss = [];
      for (let r = 0; r < reps; r++) { note(`ip: list ${n}: ${tool} (${r + 1}/${reps})`); const t = timed(cmd, args, { stdout: 'pipe' }); secs.push(t.seconds); rss.push(t.rssKiB / 1024); }
      rows[tool] = record('ip-list-policies-netns', tool, n, secs, { unit: 's', peakRssMB: Math.max(...rss) });
    }
    clearNote();
    printRows(`\nlist ${n} policies to a pipe (identical text checked; median of ${reps})`, rows, 'ip xfrm policy list',
      '  goal (issue 5): ≥ 5× faster than ip xfrm policy list');
  });

  // ---- N ESP SAs in the kernel VM
  if (argv.includes('--no-vm')) { console.log('\nSKIPPED kernel-VM SA rows (--no-vm)'); return; }
  const vm = path.join(root, 'scripts/kernel-vm/run.mjs');
  const check = spawnSync(process.execPath, [vm, '--check'], { encoding: 'utf8' });
  if (check.status !== 0) { console.log(`\nSKIPPED kernel-VM SA rows: ${check.stdout.trim() || check.stderr.trim()}`); return; }
  const saN = Number(opt('--vm-sa-count', String(n)));
  const vmReps = Number(opt('--vm-reps', String(reps)));
  note(`ip: ${saN} ESP SAs in the kernel VM (${vmReps} reps per tool; TCG is slow)`);
  const r = spawnSync(process.execPath, [vm, '--', process.execPath, 'scripts/bench/ip.mjs', '--vm-sa', String(saN), '--reps', String(vmReps)],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  clearNote();
  const m = /^KFBENCH-IP (.*)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) throw new Error(`kernel-VM SA bench failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const got = JSON.parse(m[1]);
  const rows = {};
  for (const [tool, v] of Object.entries(got.tools)) rows[tool] = record('ip-batch-esp-sas-vm', tool, saN, v.secs, { unit: 's', peakRssMB: Math.max(...v.rss), vm: true });
  printRows(`\nkeyfleet ip -batch: load ${saN} ESP SAs (AES-GCM, tunnel) in the kernel VM (qemu TCG; median of ${vmReps}; state identical: ${got.identical})`,
    rows, 'ip -batch', '  goal (issue 5): ≥ 3× faster than ip -batch');
}

/** Inside the kernel VM: time both tools loading N SAs into fresh netns, check they made the same SAD. */
function vmSa(n, reps) {
  const work = mkdtempSync(path.join(tmpdir(), 'kf-ipbench-'));
  try {
    const batch = saBatch(work, n);
    const time = (args, ns) => {
      const r = spawnSync('/usr/bin/time', ['-f', 'KFT %e %M', ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
      const m = /KFT ([\d.]+) (\d+)/.exec(r.stderr);
      if (r.status !== 0 || !m) throw new Error(`${args.join(' ')}: ${r.stderr.slice(-1000)}`);
      const c = /SAD count (\d+)/.exec(spawnSync('ip', ['-n', ns, 'xfrm', 'state', 'count'], { encoding: 'utf8' }).stdout);
      if (Number(c?.[1]) !== n) throw new Error(`${args[0]}: ${c?.[1]} SAs in the kernel, expected ${n}`);
      return { s: Number(m[1]), rss: Number(m[2]) / 1024 };
    };
    const tools = {
      'keyfleet ip -batch': (ns) => [process.execPath, keyfleet, 'ip', '-n', ns, '-batch', batch],
      'ip -batch': (ns) => ['ip', '-n', ns, '-batch', batch],
    };
    // warm-up: the first AES-GCM SA of a boot loads and probes the crypto modules (seconds under TCG)
    spawnSync('ip', ['netns', 'add', 'kfb-warm']);
    spawnSync('ip', ['-n', 'kfb-warm', '-batch', saBatch(work, 10)]);
    spawnSync('ip', ['netns', 'del', 'kfb-warm']);
    const out = { tools: {}, identical: false };
    const digests = {};
    for (const [tool, cmd] of Object.entries(tools)) {
      out.tools[tool] = { secs: [], rss: [] };
      for (let r = 0; r < reps; r++) {
        const ns = `kfb-${process.pid}-${tool.length}-${r}`;
        spawnSync('ip', ['netns', 'add', ns]);
        try {
          const t = time(cmd(ns), ns);
          out.tools[tool].secs.push(t.s); out.tools[tool].rss.push(t.rss);
          if (r === 0) digests[tool] = spawnSync('ip', ['-n', ns, 'xfrm', 'state', 'list'], { maxBuffer: 1 << 30 }).stdout.toString('latin1');
        } finally { spawnSync('ip', ['netns', 'del', ns]); }
      }
    }
    out.identical = digests['ip -batch'] === digests['keyfleet ip -batch'];
    for (const v of Object.values(out.tools)) v.median = median(v.secs);
    console.log(`KFBENCH-IP ${JSON.stringify(out)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const a = process.argv.slice(2);
  const i = a.indexOf('--vm-sa');
  if (i < 0) { console.error('usage: node scripts/bench/ip.mjs --vm-sa N [--reps R]   (inside the kernel VM)'); process.exit(2); }
  const ri = a.indexOf('--reps');
  vmSa(Number(a[i + 1]), ri >= 0 ? Number(a[ri + 1]) : 3);
}
