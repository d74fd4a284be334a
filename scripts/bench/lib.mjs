// scripts/bench/lib.mjs — what every bench module shares (layer: tooling): timing a command with its peak
// RSS, medians, recording measurements into the results object, progress notes on a TTY.
import { spawnSync } from 'node:child_process';

export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const tty = process.stderr.isTTY;
export const note = (s) => process.stderr.write(tty ? `\r\x1b[K${s}` : `${s}\n`);
export const clearNote = () => { if (tty) process.stderr.write('\r\x1b[K'); };

/** A recorder of measurements into results.measurements (median, min, max, samples, extra fields). */
export function recorder(results) {
  return (group, name, n, samples, extra = {}) => {
    const m = { group, name, n, median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples, ...extra };
    results.measurements.push(m);
    return m;
  };
}

/** Runs a command under python's getrusage to get wall time and the child's peak RSS (KiB). */
export function timed(cmd, args, { stdout = 'ignore', input } = {}) {
  const py = 'import resource,subprocess,sys,time\n'
    + 't=time.perf_counter()\n'
    + 'r=subprocess.run(sys.argv[1:])\n'
    + 'w=time.perf_counter()-t\n'
    + 'sys.stderr.write("\\nKFBENCH %f %d %d\\n"%(w,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,r.returncode))\n';
  const r = spawnSync('python3', ['-c', py, cmd, ...args], { encoding: 'utf8', input, stdio: [input ? 'pipe' : 'ignore', stdout, 'pipe'], maxBuffer: 1 << 30 });
  const m = /KFBENCH ([\d.]+) (\d+) (-?\d+)/.exec(r.stderr ?? '');
  if (!m) throw new Error(`could not time ${cmd}: ${r.stderr}`);
  if (Number(m[3]) !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${m[3]}: ${r.stderr.slice(0, 2000)}`);
  return { seconds: Number(m[1]), rssKiB: Number(m[2]) };
}

export function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
