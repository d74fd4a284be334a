// test/kernel/setkey-compat.test.ts — kernel tier (inside the qemu VM): the compatibility suite of
// `keyfleet setkey` against the real setkey 0.8.2. Every file of test/fixtures/setkey (the man page's
// statements, options, algorithms, policies and error paths) runs with both tools in fresh namespaces and
// must give the same exit status, stdout, kernel state and -D/-DP text (lib/compat.ts). Besides each
// file's own mode (-f, or -c when its header says `(setkey -c)`), some run again with -c, -k or -n.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setStrerror } from '../../src/kernel/errors.js';
import { strerror } from '../../src/native/index.js';
import { compareFixture, variantName, type Aspect, type Variant } from './lib/compat.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = path.join(root, 'test/fixtures/setkey');
setStrerror(strerror);

/**
 * Known, explained divergences: `fixture variant` → the aspects excused and why. Every other aspect of
 * these runs must still match.
 */
const KNOWN: Record<string, { aspects: Aspect[]; why: string }> = {
  // After a `flush` that removed something, af_key sends setkey both its reply and a broadcast of the
  // flush (net/key/af_key.c key_notify_sa_flush, BROADCAST_ALL); setkey's receive loop takes the first
  // message it reads, so every later reply is read one statement late: the empty `dump;` on line 5 is
  // reported as "The result of line 6". keyfleet reports each statement's own result.
  'sa-flush-dump.conf -f': { aspects: ['stdout'], why: 'setkey reads replies one statement late after a non-empty flush' },
  // The same with spdflush: the final empty `spddump;` gets the stale flush broadcast as its answer, so
  // setkey prints nothing for it.
  'sp-flush-dump.conf -f': { aspects: ['stdout'], why: 'setkey reads replies one statement late after a non-empty spdflush' },
};

const only = process.env.KEYFLEET_FIXTURES ? new RegExp(process.env.KEYFLEET_FIXTURES) : null; // narrow a run while debugging
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.conf') && (!only || only.test(f))).sort();

/** The runs of one fixture: its own mode first, then the extra modes that exercise other code paths. */
function variants(f: string, text: string): Variant[] {
  const first = text.split('\n')[0]!;
  const stdin = /\(setkey -c\)/.test(first);
  const ports = text.includes('['); // -Dp/-DPp show ports in SA addresses and tunnel endpoints
  const base: Variant = { stdin, kernelSemantics: false, noAction: false, ports };
  const list = [base];
  // -c parses statement by statement and goes on after errors: run the error paths and the files whose
  // statements span lines that way too.
  if (!stdin && /^(err|fatal|exit)-|syntax-error|warning|comment|multiline|man-|stops/.test(f)) list.push({ ...base, stdin: true });
  // -k: `in` policies get no fwd copy; only files with in/fwd policies can differ from RFC mode.
  if (/-P\s+(in|fwd)\b/.test(text)) list.push({ ...base, kernelSemantics: true });
  // -n: nothing is sent (setkey still registers and checks key lengths against the kernel's list).
  if (/^err-/.test(f) || /^(sa-esp-aes-cbc-128|sp-bundle-ah-esp|sa-ipcomp-deflate|stdin-errors-continue)\.conf$/.test(f)) {
    list.push({ ...base, noAction: true });
  }
  return list;
}

const results: string[] = [];
const divergent: string[] = [];
let runs = 0;
const started = Date.now();

for (const f of fixtures) {
  const file = path.join(dir, f);
  const text = readFileSync(file, 'latin1');
  const vs = variants(f, text);
  test(`${f} gives the same results with keyfleet setkey as with setkey 0.8.2 (${vs.map(variantName).join(', ')})`, async () => {
    const failed: string[] = [];
    for (const v of vs) {
      runs++;
      const key = `${f} ${variantName(v)}`;
      const known = KNOWN[key];
      const t0 = Date.now();
      const r = await compareFixture(file, v, new Set(known?.aspects ?? []));
      const ms = Date.now() - t0;
      const what = r.diffs.map((d) => d.split(':')[0]).join('; ');
      const verdict = r.diffs.length > 0 ? `DIFFERENT (${what})` : known ? `same apart from ${known.aspects.join(', ')}: ${known.why}` : 'same';
      results.push(`${key.padEnd(50)} ${verdict}  [${(ms / 1000).toFixed(1)} s]`);
      if (r.diffs.length > 0) {
        divergent.push(key);
        failed.push(`${key}:\n${r.diffs.join('\n')}`);
      }
    }
    if (failed.length > 0) assert.unreachable(`differs from setkey 0.8.2:\n${failed.join('\n\n')}`);
  });
}

test.after(() => {
  const same = results.filter((r) => !r.includes('DIFFERENT')).length;
  console.log(`\nsetkey compatibility suite: ${fixtures.length} fixtures, ${runs} runs, ${same} identical, `
    + `${divergent.length} different, ${((Date.now() - started) / 1000).toFixed(0)} s\n${results.join('\n')}`
    + (divergent.length > 0 ? `\ndivergent: ${divergent.join(', ')}` : ''));
});

test.run();
