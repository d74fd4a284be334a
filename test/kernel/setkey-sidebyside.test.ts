// Kernel tier (inside the qemu VM): every setkey file of test/fixtures/setkey run by the real setkey 0.8.2
// (PF_KEY) in one fresh netns and by keyfleet setkey (XFRM netlink) in another; the same exit status, the
// same stdout, the same kernel state (ip xfrm state/policy list) and the same -D/-DP text. keyfleet runs
// in this process (node starts once: it costs seconds under emulation).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSetkey, printDump } from '../../src/engine/setkey.js';
import { XfrmKernel } from '../../src/kernel/xfrm.js';
import { setStrerror } from '../../src/kernel/errors.js';
import { strerror } from '../../src/native/index.js';
import type { Sink } from '../../src/cli/output.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = path.join(root, 'test/fixtures/setkey');
/** The reference setkey 0.8.2: shared/ sits beside the checkout (CI), or at /work/shared (developers). */
const SETKEY = [process.env.KEYFLEET_REF_SETKEY, path.resolve(root, '../shared/tools/setkey/setkey'), '/work/shared/tools/setkey/setkey']
  .find((p): p is string => !!p && existsSync(p)) ?? '';
setStrerror(strerror);

/** Known, explained differences: fixture → why. Everything else must match exactly. */
const KNOWN: Record<string, string> = {
  // After a `flush` that removed something, af_key sends setkey both a unicast reply and a broadcast;
  // setkey reads one, and every later reply in the script is read one statement late (its receive
  // loop takes the first message with seq 0 as its answer). So the real setkey reports the empty
  // `dump;` on line 5 as "The result of line 6". keyfleet reports each statement's own result.
  'sa-flush-dump.conf': 'setkey reads replies one statement late after a non-empty flush (stale broadcast)',
  // The same with spdflush: the final empty `spddump;` gets the stale flush message as its answer and
  // the real ENOENT reply is never read, so setkey prints nothing for it.
  'sp-flush-dump.conf': 'setkey reads replies one statement late after a non-empty spdflush (stale broadcast)',
};

class Collect implements Sink {
  text = '';
  write(c: string | Uint8Array): void { this.text += typeof c === 'string' ? c : Buffer.from(c).toString('latin1'); }
}

function sh(cmd: string, args: string[], input?: string): { status: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'latin1', input: input ?? '', timeout: 120_000 });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Times, pids and the policy refcount legitimately differ between two runs; reqids from af_key's global counter too. */
function normalise(t: string): string {
  const reqids = new Map<string, string>();
  return t
    .replace(/[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}/g, 'DATE')
    .replace(/diff: \d+\(s\)/g, 'diff: N(s)')
    .replace(/pid=\d+/g, 'pid=P')
    .replace(/refcnt=\d+/g, 'refcnt=R')
    .replace(/(unique#|reqid )(\d+)/g, (m, p: string, n: string) => {
      if (Number(n) < 16384) return m;
      if (!reqids.has(n)) reqids.set(n, `AUTO${reqids.size}`);
      return p + reqids.get(n)!;
    })
    .replace(/(add|use) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '$1 T');
}

function kernelState(ns: string): string {
  return normalise(sh('ip', ['-n', ns, 'xfrm', 'state', 'list']).out + '----\n' + sh('ip', ['-n', ns, 'xfrm', 'policy', 'list']).out);
}

let nsn = 0;
const only = process.env.KEYFLEET_FIXTURES ? new RegExp(process.env.KEYFLEET_FIXTURES) : null; // narrow a run while debugging
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.conf') && (!only || only.test(f))).sort();
const results: string[] = [];

test('the reference setkey 0.8.2 is there to compare against', () => {
  assert.ok(SETKEY, 'shared/tools/setkey/setkey not found beside the checkout or at /work/shared (set KEYFLEET_REF_SETKEY)');
  const v = sh(SETKEY, ['-V']);
  assert.match(v.out, 'ipsec-tools 0.8.2');
});

for (const f of fixtures) {
  test(`${f}: keyfleet setkey matches setkey 0.8.2`, async () => {
    const file = path.join(dir, f);
    const text = readFileSync(file);
    const stdin = f.startsWith('stdin-');
    const a = `kf-${process.pid}-a${nsn}`, b = `kf-${process.pid}-b${nsn++}`;
    sh('ip', ['netns', 'add', a]);
    sh('ip', ['netns', 'add', b]);
    const kb = XfrmKernel.open({ netns: b });
    const ka = XfrmKernel.open({ netns: a });
    try {
      const real = stdin
        ? sh('ip', ['netns', 'exec', a, SETKEY, '-c'], text.toString('latin1'))
        : sh('ip', ['netns', 'exec', a, SETKEY, '-f', file]);
      const out = new Collect(), err = new Collect();
      const ours = await runSetkey({
        file, text, rfc: true, stdin, noAction: false, strict: false, dryRun: false, all: false, ports: false,
        pid: process.pid, out, err, kernel: () => kb,
      });
      const diffs: string[] = [];
      if (ours.exitCode !== real.status) diffs.push(`exit ${ours.exitCode} vs setkey ${real.status}`);
      if (normalise(out.text) !== normalise(real.out)) diffs.push(`stdout:\n--- setkey\n${real.out}--- keyfleet\n${out.text}`);
      const sa = kernelState(a), sb = kernelState(b);
      if (sa !== sb) diffs.push(`kernel state:\n--- setkey\n${sa}--- keyfleet\n${sb}`);
      for (const [flag, what] of [['-D', 'sa'], ['-DP', 'policy']] as const) {
        const realDump = sh('ip', ['netns', 'exec', a, SETKEY, flag]).out;
        const oursB = new Collect(), oursA = new Collect();
        await printDump({ out: oursB, all: false, ports: false, pid: process.pid }, kb, what);
        await printDump({ out: oursA, all: false, ports: false, pid: process.pid }, ka, what);
        // The same state printed by both tools isolates the printer from the encoder.
        if (normalise(oursA.text) !== normalise(realDump)) diffs.push(`setkey ${flag} of setkey's state vs keyfleet's printer:\n--- setkey\n${realDump}--- keyfleet\n${oursA.text}`);
        else if (normalise(oursB.text) !== normalise(realDump)) diffs.push(`${flag}:\n--- setkey (its state)\n${realDump}--- keyfleet (its state)\n${oursB.text}`);
      }
      results.push(`${diffs.length === 0 ? 'same' : KNOWN[f] ? 'known' : 'DIFFERENT'}  ${f}`);
      if (diffs.length > 0 && !KNOWN[f]) assert.unreachable(`${f} differs from setkey 0.8.2:\n${diffs.join('\n')}`);
    } finally {
      ka.close();
      kb.close();
      sh('ip', ['netns', 'del', a]);
      sh('ip', ['netns', 'del', b]);
    }
  });
}

test.after(() => {
  const same = results.filter((r) => r.startsWith('same')).length;
  console.log(`\nside by side with setkey 0.8.2: ${same} of ${fixtures.length} fixtures identical\n${results.join('\n')}`);
});

test.run();
