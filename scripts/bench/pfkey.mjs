#!/usr/bin/env node
// scripts/bench/pfkey.mjs — bench rows of the PF_KEY backend (layer: tooling): load N ESP SAs (default 10,000)
// into a fresh netns with `keyfleet setkey --backend pfkey -f` next to the real setkey 0.8.2 `setkey -f` on the
// same file, in the same run, alternating which goes first; median, spread, ratio. Needs root, PF_KEY (af_key)
// and the reference setkey: inside the kernel VM (`node scripts/kernel-vm/run.mjs -- node scripts/bench/pfkey.mjs`).
// npm run bench measures the same row inside its kernel-VM run (scripts/bench/kernel-vm.mjs); this file adds the
// 1-SA baseline (cost beyond start-up) and the floor no node program can go below: `node -e 0` plus the kernel's
// own time for the N SADB_ADDs (one sendmmsg of pre-encoded requests: af_key handles each inside the syscall).
// Standalone: node scripts/bench/pfkey.mjs [--reps 3] [--n 10000] [--out r.json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SETKEY_PATHS = [path.join(root, '../shared/tools/setkey/setkey'), '/work/shared/tools/setkey/setkey'];

/** The reference setkey, or null (then the rows are skipped with a reason). */
export function findSetkey() {
  return SETKEY_PATHS.find((p) => existsSync(p)) ?? null;
}

function sh(cmd, args, input) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr ?? '').slice(0, 2000)}`);
  return r.stdout;
}

/** Wall seconds of one command (spawn included, the same for every tool). */
function wall(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr ?? '').slice(0, 2000)}`);
  if (r.stdout.trim() !== '') throw new Error(`${cmd} reported: ${r.stdout.slice(0, 2000)}`); // setkey prints kernel errors on stdout
  return s;
}

/** N distinct ESP transport SAs with AES-CBC + HMAC-SHA256 keys, as a setkey file. */
export function espFile(dir, n) {
  let t = '';
  const key = (i, bytes) => `0x${i.toString(16).padStart(8, '0').repeat(bytes / 4)}`;
  for (let i = 0; i < n; i++) {
    const s = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
    const d = `11.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
    t += `add ${s} ${d} esp ${0x1000 + i} -m transport -E aes-cbc ${key(i, 16)} -A hmac-sha256 ${key(i + 1, 32)};\n`;
  }
  const f = path.join(dir, `esp-${n}.conf`);
  writeFileSync(f, t);
  return f;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Runs the rows; `record(group, name, n, samples, extra)` is the caller's result sink (run.mjs's), or a local one.
 * Returns { skipped } or the two measurements.
 */
export async function benchPfkey({ reps = 3, n = 10000, work, record, log = console.log } = {}) {
  const setkey = findSetkey();
  if (!setkey) { log('SKIPPED PF_KEY bench: the reference setkey 0.8.2 is not there (../shared/tools/setkey)'); return { skipped: 'no setkey' }; }
  if (!existsSync('/proc/net/pfkey')) { log('SKIPPED PF_KEY bench: this kernel has no PF_KEY (run it in the kernel VM)'); return { skipped: 'no af_key' }; }
  const dir = work ?? mkdtempSync(path.join(tmpdir(), 'kf-pfkey-bench-'));
  const keyfleet = path.join(root, 'bin/keyfleet');
  const tools = {
    'setkey 0.8.2 -f': (ns, file) => wall('ip', ['netns', 'exec', ns, setkey, '-f', file]),
    'keyfleet setkey --backend pfkey -f': (ns, file) => wall(process.execPath, [keyfleet, 'setkey', '--backend', 'pfkey', '--netns', ns, '-f', file]),
  };
  let k = 0;
  // the N-SA file and a 1-SA file: the difference is each tool's cost of loading N-1 SAs without its start-up
  // (process start, SADB_REGISTER), which under emulation is seconds for node and a fraction of that for setkey
  const measure = (count) => {
    const file = espFile(dir, count);
    const samples = Object.fromEntries(Object.keys(tools).map((t) => [t, []]));
    for (let r = 0; r < reps; r++) {
      const order = r % 2 === 0 ? Object.keys(tools) : Object.keys(tools).reverse();
      for (const tool of order) {
        const ns = `kf-pfb-${process.pid}-${k++}`;
        sh('ip', ['netns', 'add', ns]);
        try {
          const s = tools[tool](ns, file);
          const got = Number(/(\d+)/.exec(sh('ip', ['-n', ns, 'xfrm', 'state', 'count']))?.[1] ?? -1);
          if (got !== count) throw new Error(`${tool}: ${got} SAs in the kernel, expected ${count}`);
          samples[tool].push(s);
        } finally {
          spawnSync('ip', ['netns', 'del', ns]);
        }
      }
    }
    return samples;
  };
  const samples = measure(n);
  const base = measure(1);
  // the floor: node's bare start, and the kernel's time inside sendmmsg for the same N requests (--floor below)
  const file = espFile(dir, n);
  const nodeStart = [], kernelAdd = [], register = [];
  for (let r = 0; r < reps; r++) {
    nodeStart.push(wall(process.execPath, ['-e', '0']));
    const ns = `kf-pfb-${process.pid}-${k++}`;
    sh('ip', ['netns', 'add', ns]);
    try {
      const f = JSON.parse(sh(process.execPath, [fileURLToPath(import.meta.url), '--floor', ns, file]));
      if (f.replies !== n || f.errors !== 0) throw new Error(`floor run: ${f.replies} replies, ${f.errors} errors, expected ${n} and 0`);
      kernelAdd.push(f.sendSeconds); register.push(f.registerSeconds);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  }
  const local = [];
  const rec = record ?? ((group, name, nn, xs, extra) => {
    const m = { group, name, n: nn, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs, ...extra };
    local.push(m);
    return m;
  });
  const real = rec('load-esp-sas-pfkey', 'setkey 0.8.2 -f', n, samples['setkey 0.8.2 -f'], { unit: 's' });
  const ours = rec('load-esp-sas-pfkey', 'keyfleet setkey --backend pfkey -f', n, samples['keyfleet setkey --backend pfkey -f'], { unit: 's', speedupVsSetkey: 0, goal: '≥ 1.5× faster than setkey -f' });
  ours.speedupVsSetkey = real.median / ours.median;
  const real1 = rec('load-esp-sas-pfkey', 'setkey 0.8.2 -f', 1, base['setkey 0.8.2 -f'], { unit: 's' });
  const ours1 = rec('load-esp-sas-pfkey', 'keyfleet setkey --backend pfkey -f', 1, base['keyfleet setkey --backend pfkey -f'], { unit: 's' });
  ours.marginalSeconds = ours.median - ours1.median;
  real.marginalSeconds = real.median - real1.median;
  ours.marginalSpeedupVsSetkey = real.marginalSeconds / ours.marginalSeconds;
  const ns0 = rec('load-esp-sas-pfkey-floor', 'node -e 0', 0, nodeStart, { unit: 's' });
  const reg = rec('load-esp-sas-pfkey-floor', 'SADB_REGISTER (kernel, inside sendmsg)', 1, register, { unit: 's' });
  const kad = rec('load-esp-sas-pfkey-floor', `${n} SADB_ADD (kernel, inside sendmmsg)`, n, kernelAdd, { unit: 's' });
  // every PF_KEY loader needs one REGISTER (af_key looks algorithms up by id without probing: xfrm_find_algo
  // probe=0 until a REGISTER's xfrm_probe_algs marked them available) and the kernel's work for every ADD
  ours.floorSeconds = ns0.median + reg.median + kad.median;
  ours.bestPossibleSpeedupVsSetkey = real.median / ours.floorSeconds;
  log(`\nload ${n} ESP SAs over PF_KEY into a fresh netns (wall seconds incl. process start and one SADB_REGISTER each; ${reps} reps)`);
  for (const m of [real, ours, real1, ours1]) log(`  ${`${m.name} (${m.n})`.padEnd(44)} ${m.median.toFixed(3).padStart(7)}s  spread ${m.min.toFixed(3)}–${m.max.toFixed(3)}`);
  log(`  keyfleet is ${ours.speedupVsSetkey.toFixed(2)}× as fast as setkey -f end to end (goal ≥ 1.5×); loading ${n - 1} SAs beyond the first: `
    + `setkey ${real.marginalSeconds.toFixed(2)} s, keyfleet ${ours.marginalSeconds.toFixed(2)} s (${ours.marginalSpeedupVsSetkey.toFixed(2)}×)`);
  log(`  floor for any node program: node -e 0 ${ns0.median.toFixed(3)} s + one SADB_REGISTER ${reg.median.toFixed(3)} s + the kernel's ${n} SADB_ADDs `
    + `${kad.median.toFixed(3)} s = ${ours.floorSeconds.toFixed(3)} s, i.e. at best ${ours.bestPossibleSpeedupVsSetkey.toFixed(2)}× setkey -f (goal 1.5× needs ≤ ${(real.median / 1.5).toFixed(3)} s)`);
  if (!work) rmSync(dir, { recursive: true, force: true });
  return { real, ours, measurements: local };
}

/** --floor NS FILE: REGISTER, then FILE's requests pre-encoded and sent in windows; prints the kernel's seconds. */
async function floor(ns, file) {
  const { readFileSync } = await import('node:fs');
  const { parseSetkey } = await import('../../dist/src/wasm/setkey-parse.js');
  const { encodePfkey, bareMessage } = await import('../../dist/src/wasm/pfkey-codec.js');
  const { openPfKey } = await import('../../dist/src/native/index.js');
  const sock = openPfKey({ netns: ns, sndbuf: 1 << 20, rcvbuf: 16 << 20 });
  const regMsg = bareMessage(7 /* SADB_REGISTER */, 0, 1, process.pid);
  let t = process.hrtime.bigint();
  sock.sendPacked(regMsg, new Uint32Array([regMsg.length]));
  const registerSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  sock.recvPacked();
  const p = parseSetkey(readFileSync(file), { file, rfc: true, stdin: false });
  const enc = encodePfkey(0, p.records, { seqBase: 2, pid: process.pid });
  let sendSeconds = 0, replies = 0, errors = 0;
  for (let off = 0, k = 0; k < enc.lengths.length;) {
    const m = Math.min(8192, enc.lengths.length - k); // replies of a window fit the 32 MiB receive buffer
    let bytes = 0;
    for (let j = 0; j < m; j++) bytes += enc.lengths[k + j];
    t = process.hrtime.bigint();
    sock.sendPacked(enc.bytes.subarray(off, off + bytes), enc.lengths.subarray(k, k + m));
    sendSeconds += Number(process.hrtime.bigint() - t) / 1e9;
    const r = sock.recvPacked();
    for (let j = 0, o = 0; j < r.lengths.length; o += r.lengths[j++]) { replies++; if (r.bytes[o + 2] !== 0) errors++; }
    off += bytes; k += m;
  }
  sock.close();
  process.stdout.write(JSON.stringify({ registerSeconds, sendSeconds, replies, errors }));
}

if (process.argv[2] === '--floor') {
  await floor(process.argv[3], process.argv[4]);
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
  const r = await benchPfkey({ reps: Number(opt('--reps', '3')), n: Number(opt('--n', '10000')) });
  const out = opt('--out', null);
  if (out) {
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2));
    console.log(`results written to ${out}`);
  }
}
