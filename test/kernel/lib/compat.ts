// test/kernel/lib/compat.ts — kernel tier helper (inside the qemu VM): runs one setkey script side by side,
// the real setkey 0.8.2 (PF_KEY) in one fresh netns and keyfleet's engine in-process (XFRM netlink) in
// another, and lists every difference: exit status, stdout, kernel state (ip xfrm), -D/-DP text. Spawns are
// batched into shell scripts because each process start costs a lot under TCG emulation.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runSetkey, printDump } from '../../../src/engine/setkey.js';
import { XfrmKernel } from '../../../src/kernel/xfrm.js';
import type { Sink } from '../../../src/cli/output.js';

export const SETKEY = '/work/shared/tools/setkey/setkey';

/** How a script is fed and which of setkey's flags apply (man page: -c, -f, -k, -n; -p for the dumps). */
export interface Variant {
  stdin: boolean;
  /** -k: kernel semantics (no fwd copies of `in` policies). */
  kernelSemantics: boolean;
  /** -n: no action. */
  noAction: boolean;
  /** Also compare -Dp / -DPp (ports shown). */
  ports: boolean;
}

export function variantName(v: Variant): string {
  return `${v.stdin ? '-c' : '-f'}${v.kernelSemantics ? ' -k' : ''}${v.noAction ? ' -n' : ''}`;
}

export class Collect implements Sink {
  text = '';
  write(c: string | Uint8Array): void { this.text += typeof c === 'string' ? c : Buffer.from(c).toString('latin1'); }
}

export interface Ran { status: number; out: string; err: string }

export function sh(cmd: string, args: string[], input?: string | Buffer, timeoutMs = 300_000): Ran {
  // The first PF_KEY REGISTER of a boot probes every algorithm (tens of seconds under TCG): generous timeout.
  const r = spawnSync(cmd, args, { encoding: 'latin1', input: input ?? '', timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/**
 * Only what legitimately differs between two runs is normalised:
 * - wall-clock dates (`created:`/`current:`/`lastused:` in -D/-DP, `add`/`use` times of ip -s) and
 *   `diff: N(s)` (seconds since the SA was added: the two tools run seconds apart);
 * - `pid=` (the dumping process) and policy `refcnt=` (the kernel holds 2 references right after an
 *   add and 1 a few seconds later; XFRM netlink does not expose it, keyfleet prints 1);
 * - reqids ≥ 16384 (IPSEC_MANUAL_REQID_MAX + 1): af_key's gen_reqid() counter is kernel-global (static in
 *   net/key/af_key.c), shared by all namespaces, so a second run gets different numbers; they are mapped to
 *   placeholders in order of appearance, which keeps "same reqid in policy and SA" comparable.
 */
export function normalise(t: string): string {
  const reqids = new Map<string, string>();
  return t
    .replace(/[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}/g, 'DATE')
    .replace(/diff: \d+\(s\)/g, 'diff: N(s)')
    .replace(/pid=\d+/g, 'pid=P')
    .replace(/refcnt=\d+/g, 'refcnt=R')
    .replace(/(unique#|reqid |reqid=)(\d+)(\(0x[0-9a-f]{8}\))?/g, (m, p: string, n: string, hex?: string) => {
      if (Number(n) < 16384) return m;
      if (!reqids.has(n)) reqids.set(n, `AUTO${reqids.size}`);
      return p + reqids.get(n)! + (hex ? '(AUTO)' : '');
    })
    .replace(/(add|use) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '$1 T');
}

/**
 * `ip -s` prints a policy template's algorithm masks. af_key stores a PF_KEY policy's templates with masks 0 and
 * its internal allalgs flag set; netlink derives allalgs from the masks (xfrm_user.c copy_templates), so a policy
 * that matches every SA, as setkey's do, has masks ~0 there (README: "Where keyfleet differs from setkey"). Only
 * that exact pair is mapped to one placeholder: from `made` = 'pfkey' the 0 masks, from 'xfrm' the ~0 masks; any
 * other mask value stays and is compared.
 */
export function templateMasks(t: string, made: 'pfkey' | 'xfrm'): string {
  const m = made === 'pfkey' ? '00000000' : 'ffffffff';
  return t.replaceAll(`enc-mask ${m} auth-mask ${m} comp-mask ${m}`, 'enc-mask ALL auth-mask ALL comp-mask ALL');
}

const SEP = '@@KF-SEP@@\n';

/** The dumps compared after each run: flags of setkey and printDump's arguments. */
function dumpList(v: Variant): { flag: string; what: 'sa' | 'policy'; ports: boolean }[] {
  const l: { flag: string; what: 'sa' | 'policy'; ports: boolean }[] = [
    { flag: '-D', what: 'sa', ports: false }, { flag: '-DP', what: 'policy', ports: false },
  ];
  if (v.ports) l.push({ flag: '-Dp', what: 'sa', ports: true }, { flag: '-DPp', what: 'policy', ports: true });
  return l;
}

export interface CompatResult { diffs: string[]; /** stdout of the real setkey, for the log */ realOut: string }

/** Aspects of a comparison a known, explained divergence may excuse. */
export type Aspect = 'exit' | 'stdout' | 'state' | 'dump' | 'printer';

let nsn = 0;

/** Runs `file` with both tools in fresh namespaces and returns every difference (empty: identical). */
export async function compareFixture(file: string, v: Variant, excuse: ReadonlySet<Aspect> = new Set()): Promise<CompatResult> {
  const text = readFileSync(file);
  const a = `kfc-${process.pid}-a${nsn}`, b = `kfc-${process.pid}-b${nsn++}`;
  let ka: XfrmKernel | null = null, kb: XfrmKernel | null = null;
  try {
    const dumps = dumpList(v);
    // The real setkey: the run, then its dumps and the kernel state, in one process tree.
    const flags = [v.kernelSemantics ? '-k' : '', v.noAction ? '-n' : ''].filter(Boolean).join(' ');
    const script = [
      v.stdin ? `"$0" ${flags} -c < "$1"` : `"$0" ${flags} -f "$1"`,
      'echo "@@KF-EXIT $?"', `printf '${SEP}'`,
      ...dumps.flatMap((d) => [`"$0" ${d.flag}`, `printf '${SEP}'`]),
      // Not `ip -batch`: ip's xfrm list commands exit(0) when done, so a batch stops after the first.
      'ip -s xfrm state list', `printf '${SEP}'`, 'ip -s xfrm policy list',
    ].join('\n');
    // Creating both namespaces and running setkey in one process tree: every exec costs ~0.1 s under TCG.
    const real = sh('sh', ['-c', 'printf "netns add %s\\n" "$1" "$2" | ip -b - && exec ip netns exec "$1" sh -c "$3" "$4" "$5"',
      'sh', a, b, script, SETKEY, file]);
    const parts = real.out.split(SEP);
    const m = /@@KF-EXIT (\d+)\n$/.exec(parts[0] ?? '');
    if (!m || parts.length !== dumps.length + 3) throw new Error(`the real setkey run did not finish: ${real.out}\n${real.err}`);
    const realOut = parts[0]!.slice(0, m.index), realStatus = Number(m[1]);

    // keyfleet, in this process.
    kb = XfrmKernel.open({ netns: b });
    ka = XfrmKernel.open({ netns: a });
    const out = new Collect(), err = new Collect();
    const kbRef = kb;
    const ours = await runSetkey({
      file: v.stdin ? '(stdin)' : file, text, rfc: !v.kernelSemantics, stdin: v.stdin, noAction: v.noAction, strict: false,
      dryRun: false, all: false, ports: false, pid: process.pid, out, err, kernel: () => kbRef,
    });
    const diffs: string[] = [];
    const check = (aspect: Aspect, what: string, setkeyText: string, oursText: string): void => {
      if (excuse.has(aspect) || normalise(setkeyText) === normalise(oursText)) return;
      diffs.push(`${what}:\n--- setkey 0.8.2\n${setkeyText}--- keyfleet\n${oursText}`);
    };
    check('exit', 'exit status', `${realStatus}\n`, `${ours.exitCode}\n`);
    check('stdout', 'stdout', realOut, out.text);
    for (const [i, d] of dumps.entries()) {
      const realDump = parts[i + 1]!;
      const oursA = new Collect(), oursB = new Collect();
      await printDump({ out: oursA, all: false, ports: d.ports, pid: process.pid }, ka, d.what);
      await printDump({ out: oursB, all: false, ports: d.ports, pid: process.pid }, kb, d.what);
      // The state the real setkey made, printed by both tools: isolates the printer from the encoder.
      check('printer', `setkey ${d.flag} vs keyfleet's printer, both of setkey's state`, realDump, oursA.text);
      check('dump', `setkey ${d.flag} of its state vs keyfleet's of its own`, realDump, oursB.text);
    }
    ka.close(); ka = null;
    kb.close(); kb = null;
    const ours2 = `${sh('ip', ['-s', '-n', b, 'xfrm', 'state', 'list']).out}----\n${sh('ip', ['-s', '-n', b, 'xfrm', 'policy', 'list']).out}`;
    const real2 = `${parts[dumps.length + 1]!}----\n${parts[dumps.length + 2]!}`;
    check('state', 'kernel state (ip -s xfrm state list ---- policy list; template masks: see templateMasks)', templateMasks(real2, 'pfkey'), templateMasks(ours2, 'xfrm'));
    return { diffs, realOut };
  } finally {
    ka?.close();
    kb?.close();
    sh('ip', ['-force', '-b', '-'], `netns del ${a}\nnetns del ${b}\n`);
  }
}
