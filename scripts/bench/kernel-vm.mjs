// scripts/bench/kernel-vm.mjs — the bench rows that need the kernel VM (layer: tooling): applying N ESP SAs
// (keyfleet setkey -f over XFRM and over PF_KEY, keyfleet ip -batch, ip -batch, the real setkey 0.8.2 -f and the
// raw C loader) and dumping N SAs and P
// policies (keyfleet setkey -D/-DP as text and JSON, keyfleet ip xfrm … list, ip xfrm … list, the real
// setkey -D/-DP and a raw dump), each with its peak RSS, in the same VM run so the ratios hold. On the host,
// benchKernelVm() boots the VM once and runs this file inside it (--inside), which prints a JSON line.
// Under TCG everything is ~10x slower than native (and node's start costs ~4 s), so run.mjs asks for 10,000 SAs
// and 10,000 policies by default (--vm-sas, --vm-policies): about 10 minutes in the VM with 3 repetitions (20,000 of each: 18 min).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recorder, timed, sh, note, clearNote } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const K16 = '0x00112233445566778899aabbccddeeff';
const K20 = '0x00112233445566778899aabbccddeeff00112233';
const MARK = 'KFBENCH-VM-JSON ';

/** Host side: boots the VM, runs the rows inside, merges the measurements into `results` and prints them. */
export async function benchKernelVm({ results, reps, sas = 10000, policies = 100000 }) {
  const runner = path.join(root, 'scripts/kernel-vm/run.mjs');
  const check = spawnSync(process.execPath, [runner, '--check'], { encoding: 'utf8' });
  if (check.status !== 0) { console.log(`\nSKIPPED kernel VM benchmarks: ${(check.stdout + check.stderr).trim()}`); return; }
  // The raw loader is compiled here: a compiler under TCG costs seconds.
  const bin = path.join(root, '.cache/bench');
  mkdirSync(bin, { recursive: true });
  sh('cc', ['-O2', '-o', path.join(bin, 'raw-loader'), path.join(root, 'scripts/bench/raw-loader.c')]);
  console.log(`\nkernel VM (qemu TCG: ~10x slower than native; ratios compare tools in the same VM run): ${sas} ESP SAs, ${policies} policies`);
  const out = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runner, '--', 'node', 'scripts/bench/kernel-vm.mjs', '--inside', '--reps', String(reps), '--sas', String(sas), '--policies', String(policies)],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      for (const line of String(d).split('\n')) if (line && !line.startsWith(MARK)) process.stdout.write(`${line}\n`);
    });
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`kernel VM bench exited ${code}`))));
  });
  const line = out.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error('kernel VM bench printed no results');
  results.measurements.push(...JSON.parse(line.slice(MARK.length)));
}

function findSetkey() {
  return [process.env.KEYFLEET_REF_SETKEY, path.resolve(root, '../shared/tools/setkey/setkey'), '/work/shared/tools/setkey/setkey'].find((p) => p && existsSync(p));
}

let nsCount = 0;
function withNetns(fn) {
  const name = `kf-vmbench-${nsCount++}`;
  sh('ip', ['netns', 'add', name]);
  try { return fn(name); } finally { spawnSync('ip', ['netns', 'del', name]); }
}
const count = (name, what) => Number(/(?:SAD count|OUT) (\d+)/.exec(sh('ip', ['-n', name, 'xfrm', what, 'count']))?.[1] ?? -1);

function printRows(title, rows, anchors) {
  console.log(title);
  console.log('  tool                              median    spread           RSS MB' + anchors.map((a) => `  ${a.label.padStart(8)}`).join(''));
  for (const m of rows) {
    for (const a of anchors) m[a.key] = a.of ? (a.invert ? a.of.median / m.median : m.median / a.of.median) : null;
    console.log(`  ${m.name.padEnd(32)} ${m.median.toFixed(3).padStart(7)}s  ${m.min.toFixed(3)}–${m.max.toFixed(3)}  ${m.peakRssMB.toFixed(0).padStart(6)}`
      + anchors.map((a) => `  ${m[a.key] === null ? '       -' : m[a.key].toFixed(2).padStart(8)}`).join(''));
  }
}

/** Inside the VM: every row, printed as a table and as one JSON line for the host. */
async function inside({ reps, sas, policies }) {
  const results = { measurements: [] };
  const record = recorder(results);
  const work = mkdtempSync(path.join(tmpdir(), 'kf-vmbench-'));
  const raw = path.join(root, '.cache/bench/raw-loader');
  const keyfleet = [process.execPath, path.join(root, 'bin/keyfleet')];
  const setkey = findSetkey();
  try {
    // Inputs: the same SAs for every tool (ESP transport, cbc(aes) 128, hmac(sha1) 160, SPI 0x1000 + i, to 10.2.0.0 + i).
    let sk = '', ipb = '';
    // One destination per SA: SAs sharing (daddr, saddr) share a hash chain that every insert walks
    // (__xfrm_state_bump_genids), which would make the load quadratic for every tool alike.
    for (let i = 0; i < sas; i++) {
      const spi = `0x${(0x1000 + i).toString(16)}`, dst = `10.${2 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}`;
      sk += `add 10.1.0.1 ${dst} esp ${spi} -m transport -E aes-cbc ${K16} -A hmac-sha1 ${K20};\n`;
      ipb += `xfrm state add src 10.1.0.1 dst ${dst} proto esp spi ${spi} mode transport enc cbc(aes) ${K16} auth hmac(sha1) ${K20}\n`;
    }
    const skf = path.join(work, 'sas.conf'), ipf = path.join(work, 'sas.batch');
    writeFileSync(skf, sk); writeFileSync(ipf, ipb);
    // Warm-up (not timed): module autoload and crypto templates on first use, PF_KEY's first socket.
    withNetns((ns) => { timed('ip', ['netns', 'exec', ns, raw, 'sa', '100']); if (setkey) timed('ip', ['netns', 'exec', ns, setkey, '-D'], { stdout: 'pipe' }); });

    // ---- apply N SAs ----
    const applyTools = {
      'raw batched loader (C)': (ns) => timed('ip', ['netns', 'exec', ns, raw, 'sa', String(sas)]),
      'keyfleet setkey -f': (ns) => timed(keyfleet[0], [keyfleet[1], 'setkey', '--netns', ns, '-f', skf]),
      'keyfleet ip -batch': (ns) => timed(keyfleet[0], [keyfleet[1], 'ip', '-n', ns, '-batch', ipf]),
      // issue #6's row: the same file through PF_KEY, next to setkey 0.8.2 (which speaks PF_KEY too)
      'keyfleet setkey --backend pfkey -f': (ns) => timed(keyfleet[0], [keyfleet[1], 'setkey', '--backend', 'pfkey', '--netns', ns, '-f', skf]),
      'ip -batch': (ns) => timed('ip', ['-n', ns, '-batch', ipf]),
      ...(setkey ? { 'setkey 0.8.2 -f': (ns) => timed('ip', ['netns', 'exec', ns, setkey, '-f', skf]) } : {}),
    };
    const applied = {};
    for (const [tool, run] of Object.entries(applyTools)) {
      const secs = [], rss = [];
      for (let r = 0; r < reps; r++) {
        note(`vm: apply ${sas} SAs: ${tool} (${r + 1}/${reps})`);
        withNetns((ns) => {
          const t = run(ns);
          const c = count(ns, 'state');
          if (c !== sas) throw new Error(`${tool}: ${c} SAs in the kernel, expected ${sas}`);
          secs.push(t.seconds); rss.push(t.rssKiB / 1024);
        });
      }
      applied[tool] = record('apply-sas-vm', tool, sas, secs, { unit: 's', peakRssMB: Math.max(...rss) });
    }
    clearNote();
    printRows(`apply ${sas} ESP SAs in a fresh netns (wall s, median of ${reps})`, Object.values(applied), [
      { key: 'ratioToRaw', label: '× raw', of: applied['raw batched loader (C)'] },
      { key: 'speedupVsIp', label: 'ip÷tool', of: applied['ip -batch'], invert: true },
      { key: 'speedupVsSetkey', label: 'setkey÷', of: applied['setkey 0.8.2 -f'], invert: true },
    ]);
    // Node's start under TCG is seconds, a fixed cost the loaders in C do not pay: measured on its own so the
    // per-SA cost can be compared too (keyfleet minus its start-up, against raw).
    const empty = path.join(work, 'empty.conf');
    writeFileSync(empty, '');
    const starts = [];
    for (let r = 0; r < reps; r++) withNetns((ns) => { starts.push(timed(keyfleet[0], [keyfleet[1], 'setkey', '--netns', ns, '-f', empty]).seconds); });
    const start = record('startup-vm', 'keyfleet setkey -f (empty file)', 0, starts, { unit: 's' });
    const kf = applied['keyfleet setkey -f'], rawA = applied['raw batched loader (C)'];
    kf.minusStartup = kf.median - start.median;
    kf.minusStartupRatioToRaw = kf.minusStartup / rawA.median;
    console.log(`  keyfleet start-up alone (empty file): ${start.median.toFixed(3)} s (${start.min.toFixed(3)}–${start.max.toFixed(3)}); keyfleet minus start-up ${kf.minusStartup.toFixed(3)} s = ${kf.minusStartupRatioToRaw.toFixed(2)}× raw`);
    console.log('  goals: keyfleet ≤ 1.15× raw, ≥ 3× faster than ip -batch; peak RSS ≤ 150 MB');

    // ---- dump N SAs and P policies ----
    for (const [what, n, flag, ipWhat] of [['sa', sas, '-D', 'state'], ['policy', policies, '-DP', 'policy']]) {
      withNetns((ns) => {
        timed('ip', ['netns', 'exec', ns, raw, ...(what === 'sa' ? ['sa'] : []), String(n)]);
        if (count(ns, ipWhat) !== n) throw new Error(`could not load ${n} ${what} entries`);
        const tools = {
          'raw dump (C, no decoding)': ['ip', ['netns', 'exec', ns, raw, 'dump', what]],
          [`keyfleet setkey ${flag}`]: [keyfleet[0], [keyfleet[1], 'setkey', '--netns', ns, flag]],
          [`keyfleet setkey ${flag} --json`]: [keyfleet[0], [keyfleet[1], 'setkey', '--netns', ns, flag, '--json']],
          [`keyfleet ip xfrm ${ipWhat} list`]: [keyfleet[0], [keyfleet[1], 'ip', '-n', ns, 'xfrm', ipWhat, 'list']],
          [`keyfleet ip -j xfrm ${ipWhat} list`]: [keyfleet[0], [keyfleet[1], 'ip', '-j', '-n', ns, 'xfrm', ipWhat, 'list']],
          [`ip xfrm ${ipWhat} list`]: ['ip', ['-n', ns, 'xfrm', ipWhat, 'list']],
          ...(setkey ? { [`setkey 0.8.2 ${flag}`]: ['ip', ['netns', 'exec', ns, setkey, flag]] } : {}),
        };
        const rows = {};
        for (const [tool, [cmd, args]] of Object.entries(tools)) {
          const secs = [], rss = [];
          try {
            for (let r = 0; r < reps; r++) {
              note(`vm: dump ${n} ${what}: ${tool} (${r + 1}/${reps})`);
              const t = timed(cmd, args, { stdout: 'pipe' });
              secs.push(t.seconds); rss.push(t.rssKiB / 1024);
            }
          } catch (e) {
            console.log(`  ${tool}: not measured (${String(e.message).split('\n')[0].slice(0, 160)})`);
            continue;
          }
          rows[tool] = record(`dump-${what}-vm`, tool, n, secs, { unit: 's', peakRssMB: Math.max(...rss) });
        }
        clearNote();
        printRows(`dump ${n} ${what === 'sa' ? 'ESP SAs' : 'policies'} to a pipe (wall s, median of ${reps})`, Object.values(rows), [
          { key: 'ratioToRaw', label: '× raw', of: rows['raw dump (C, no decoding)'] },
          { key: 'speedupVsIp', label: 'ip÷tool', of: rows[`ip xfrm ${ipWhat} list`], invert: true },
          { key: 'speedupVsSetkey', label: 'setkey÷', of: rows[`setkey 0.8.2 ${flag}`], invert: true },
        ]);
      });
    }
    console.log('  goals: keyfleet dumps ≤ 2× raw, ≥ 5× faster than ip');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${MARK}${JSON.stringify(results.measurements)}\n`);
}

if (process.argv.includes('--inside')) {
  const a = process.argv;
  const opt = (name, def) => { const i = a.indexOf(name); return i >= 0 ? Number(a[i + 1]) : def; };
  await inside({ reps: opt('--reps', 3), sas: opt('--sas', 10000), policies: opt('--policies', 100000) });
}
