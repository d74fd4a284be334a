// test/netns/fault-batches.ts — random atomic batches with one failing operation, for the netns tier
// (policies, SA deletes) and the kernel tier (ESP SAs too). Seeded (mulberry32), so a failure names the
// seed and the batch and can be replayed: KEYFLEET_FAULT_SEED=S [KEYFLEET_FAULT_BATCHES=N]. Each batch is
// parsed as setkey text, the faulty operation is made (by the text, or by patching its record where setkey's
// grammar cannot express it), applyAtomic runs it against a real namespace, and the SAD and SPD are
// compared with `ip -s xfrm … list` before and after, entry by entry, only add/use timestamps left out.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { wasm } from '../../src/wasm/index.js';
import { parseSetkey } from '../../src/wasm/setkey-parse.js';
import { XfrmKernel } from '../../src/kernel/xfrm.js';
import { applyAtomic } from '../../src/engine/atomic.js';
import {
  REGION_RECORDS, REC_SIZE, R_SEL, SEL_PREFIXLEN_D, SEL_FAMILY, R_DIR, R_ALG_ENC, ALG_NAME_LEN,
} from '../../asm/shared/layout.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** SAD and SPD as `ip -s` prints them, one sorted block per entry, add/use times blanked. */
export function kernelState(ns: string): string[] {
  const list = (what: string): string[] => {
    const r = spawnSync('ip', ['-s', '-n', ns, 'xfrm', what, 'list'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.is(r.status, 0, r.stderr);
    return r.stdout.split(/\n(?=src )/).map((b) => b.trimEnd().replace(/(add|use) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '$1 T')).filter((b) => b !== '');
  };
  return [...list('state'), ...list('policy')].sort();
}

export type FaultKind = 'duplicate-policy' | 'missing-policy-delete' | 'bad-selector' | 'bad-direction' | 'missing-sa-delete'
  | 'duplicate-sa' | 'unknown-algorithm' | 'bad-sa-selector';

export const POLICY_FAULTS: FaultKind[] = ['duplicate-policy', 'missing-policy-delete', 'bad-selector', 'bad-direction', 'missing-sa-delete'];
export const SA_FAULTS: FaultKind[] = [...POLICY_FAULTS, 'duplicate-sa', 'unknown-algorithm', 'bad-sa-selector'];

const EXPECTED_ERRNO: Record<FaultKind, string> = {
  'duplicate-policy': 'EEXIST', 'missing-policy-delete': 'ENOENT', 'bad-selector': 'EINVAL', 'bad-direction': 'EINVAL',
  'missing-sa-delete': 'ESRCH', 'duplicate-sa': 'EEXIST', 'unknown-algorithm': 'ENOSYS', 'bad-sa-selector': 'EINVAL',
};

const K16 = '0x00112233445566778899aabbccddeeff';
const K20 = '0x00112233445566778899aabbccddeeff00112233';
const pol = (a: string, b: string, dir: string, rest: string): string => `spdadd ${a} ${b} any -P ${dir} ${rest};`;
const polKey = (a: string, b: string, dir: string): string => `${a}>${b}/${dir}`;
const sa = (spi: number, extra = ''): string => `add 10.80.0.1 10.80.0.2 esp 0x${spi.toString(16)} ${extra}-E aes-cbc ${K16} -A hmac-sha1 ${K20};`;

/** The before-state: policies (and with SAs, ESP SAs) the batches add to, delete, update and flush. */
export function baseline(withSas: boolean): { text: string; policies: string[]; spis: number[] } {
  const lines: string[] = [];
  const policies: string[] = [];
  for (let i = 0; i < 60; i++) {
    const a = `10.50.${i >> 4}.${i & 15}`, b = `10.60.0.${i}`, dir = i % 3 === 0 ? 'fwd' : 'out';
    const rest = i % 4 === 0 ? 'discard' : i % 4 === 1 ? 'none' : `ipsec esp/tunnel/192.168.0.1-192.168.0.${i}/require`;
    lines.push(pol(a, b, dir, i % 5 === 0 ? `priority ${100 + i} ${rest}` : rest));
    policies.push(`${a} ${b} ${dir}`);
  }
  const spis: number[] = [];
  if (withSas) for (let i = 0; i < 30; i++) { spis.push(0x1000 + i); lines.push(sa(0x1000 + i, i % 2 ? '-m tunnel ' : '')); }
  return { text: lines.join('\n') + '\n', policies, spis };
}

interface Batch { text: string; faultLine: number; kind: FaultKind; patch: ((rec: number) => void) | null }

/** One batch: 1-300 random operations (rarely 3000, several sends), the failing one at a random place. */
export function makeBatch(rnd: () => number, base: { policies: string[]; spis: number[] }, kinds: FaultKind[], withSas: boolean): Batch {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const n = rnd() < 0.03 ? 3000 : 1 + Math.floor(rnd() * 300);
  const faultAt = Math.floor(rnd() * n);
  const kind = pick(kinds);
  const present = new Set(base.policies.map((p) => { const [a, b, d] = p.split(' '); return polKey(a!, b!, d!); }));
  const spis = new Set(base.spis);
  let fresh = 0;
  const freshPolicy = (): [string, string, string] => { fresh++; return [`10.70.${(fresh >> 8) & 255}.${fresh & 255}`, `10.71.0.${Math.floor(rnd() * 250)}`, pick(['out', 'fwd'])]; };
  const lines: string[] = [];
  let faultLine = 0;
  let patch: Batch['patch'] = null;
  for (let i = 0; i < n; i++) {
    if (i === faultAt) {
      switch (kind) {
        case 'duplicate-policy': {
          if (present.size === 0) { const [a, b, d] = freshPolicy(); lines.push(pol(a, b, d, 'none')); present.add(polKey(a, b, d)); }
          const [a, rest] = pick([...present]).split('>'); const [b, d] = rest!.split('/');
          lines.push(pol(a!, b!, d!, 'discard'));
          break;
        }
        case 'missing-policy-delete': { const [a, b, d] = freshPolicy(); lines.push(`spddelete ${a} ${b} any -P ${d};`); break; }
        case 'bad-selector': case 'bad-direction': {
          const [a, b, d] = freshPolicy(); lines.push(pol(a, b, d, 'none'));
          patch = kind === 'bad-selector'
            ? (r) => { wasm().u8[r + R_SEL + SEL_PREFIXLEN_D] = 40; } // verify_newpolicy_info: prefixlen_d > 32 for AF_INET
            : (r) => { wasm().u8[r + R_DIR] = 7; }; // verify_policy_dir: only IN, OUT, FWD
          break;
        }
        case 'missing-sa-delete': lines.push(`delete 10.81.0.1 10.81.0.2 esp 0x${(0x5000 + Math.floor(rnd() * 1000)).toString(16)};`); break;
        case 'duplicate-sa': {
          if (spis.size === 0) { lines.push(sa(0x9000)); spis.add(0x9000); }
          lines.push(sa(pick([...spis])));
          break;
        }
        case 'unknown-algorithm': case 'bad-sa-selector': {
          lines.push(sa(0xa000 + i));
          patch = kind === 'unknown-algorithm'
            ? (r) => { wasm().dv.setUint32(r + R_ALG_ENC + ALG_NAME_LEN, 3, true); } // "cbc": no such algorithm
            : (r) => { wasm().dv.setUint16(r + R_SEL + SEL_FAMILY, 2, true); wasm().u8[r + R_SEL + SEL_PREFIXLEN_D] = 40; };
          break;
        }
      }
      faultLine = lines.length;
      continue;
    }
    const x = rnd();
    if (x < 0.45 || present.size === 0) {
      const [a, b, d] = freshPolicy();
      if (!present.has(polKey(a, b, d))) { lines.push(pol(a, b, d, pick(['none', 'discard', 'ipsec esp/transport//require']))); present.add(polKey(a, b, d)); }
    } else if (x < 0.6) {
      const k = pick([...present]); const [a, rest] = k.split('>'); const [b, d] = rest!.split('/');
      lines.push(`spddelete ${a} ${b} any -P ${d};`); present.delete(k);
    } else if (x < 0.75) {
      const k = pick([...present]); const [a, rest] = k.split('>'); const [b, d] = rest!.split('/');
      lines.push(`spdupdate ${a} ${b} any -P ${d} ${pick(['none', 'discard', 'ipsec ah/transport//use'])};`);
    } else if (x < 0.765) {
      lines.push('spdflush;'); present.clear();
    } else if (withSas && x < 0.9) {
      const spi = 0x2000 + Math.floor(rnd() * 0x1000);
      if (!spis.has(spi)) { lines.push(sa(spi)); spis.add(spi); }
    } else if (withSas && x < 0.98 && spis.size > 0) {
      const spi = pick([...spis]); lines.push(`delete 10.80.0.1 10.80.0.2 esp 0x${spi.toString(16)};`); spis.delete(spi);
    } else if (withSas && x < 0.985) {
      lines.push('flush esp;'); spis.clear();
    } else {
      const [a, b, d] = freshPolicy();
      lines.push(`spdupdate ${a} ${b} any -P ${d} none;`); present.add(polKey(a, b, d));
    }
  }
  return { text: lines.join('\n') + '\n', faultLine, kind, patch };
}

/** Runs `count` batches from `seed` against namespace `ns` holding the baseline; returns per-kind counts. */
export async function runFaultBatches(ns: string, seed: number, count: number, kinds: FaultKind[], withSas: boolean): Promise<Record<string, number>> {
  const base = baseline(withSas);
  const k = XfrmKernel.open({ netns: ns });
  const seen: Record<string, number> = {};
  try {
    const pre = parseSetkey(Buffer.from(base.text), { file: 'baseline', rfc: false });
    assert.is(pre.diagnostics.filter((d) => d.severity === 'error').length, 0, 'baseline parses');
    const r0 = await k.apply(0, pre.records);
    assert.equal(r0.failures.map((f) => f.error.message), [], 'baseline applies');
    const before = kernelState(ns);
    const rnd = mulberry32(seed);
    for (let b = 0; b < count; b++) {
      const batch = makeBatch(rnd, base, kinds, withSas);
      const where = `seed ${seed} batch ${b} (${batch.kind} at line ${batch.faultLine}); replay: KEYFLEET_FAULT_SEED=${seed} KEYFLEET_FAULT_BATCHES=${b + 1}`;
      const parse = parseSetkey(Buffer.from(batch.text), { file: 'batch', rfc: false });
      assert.is(parse.diagnostics.filter((d) => d.severity === 'error').length, 0, `${where}: the batch parses`);
      // One record per statement (no `in` policies, -k): the faulty statement's record is line - 1.
      assert.is(parse.records, batch.text.split('\n').length - 1, where);
      const rec = batch.faultLine - 1;
      if (batch.patch) batch.patch(wasm().regionPtr(REGION_RECORDS) + rec * REC_SIZE);
      const res = await applyAtomic(k, 0, parse.records, { source: `fault batch ${b}`, onNotice: (t) => assert.unreachable(`${where}: recovery notice ${t}`) });
      assert.ok(res.failure, `${where}: the batch failed`);
      assert.is(res.failure!.record, rec, `${where}: the failure is the faulty operation`);
      assert.is(res.failure!.error.code, EXPECTED_ERRNO[batch.kind], `${where}: ${res.failure!.error.message}`);
      assert.equal(res.rollbackFailures.map((f) => f.error.message), [], `${where}: every inverse operation accepted`);
      const after = kernelState(ns);
      if (after.length !== before.length || after.some((s, i) => s !== before[i])) {
        const extra = after.filter((s) => !before.includes(s)).slice(0, 2), gone = before.filter((s) => !after.includes(s)).slice(0, 2);
        assert.unreachable(`${where}: the kernel state differs from before: +${JSON.stringify(extra)} -${JSON.stringify(gone)}\n${batch.text.length < 4000 ? batch.text : ''}`);
      }
      seen[batch.kind] = (seen[batch.kind] ?? 0) + 1;
    }
  } finally {
    k.close();
  }
  return seen;
}

export function faultSeed(): number {
  const s = process.env.KEYFLEET_FAULT_SEED;
  return s ? Number(s) : Math.floor(Math.random() * 0x7fffffff);
}

/** The whole test: a fresh namespace, the seed printed, `count` batches, every fault kind drawn at least once. */
export async function faultTest(label: string, kinds: FaultKind[], withSas: boolean, defaultCount: number): Promise<void> {
  const ns = `kf-${process.pid}-${label}`;
  assert.is(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  const seed = faultSeed();
  const count = Number(process.env.KEYFLEET_FAULT_BATCHES ?? defaultCount);
  console.log(`  ${label}: seed ${seed}, ${count} batches (replay: KEYFLEET_FAULT_SEED=${seed})`);
  try {
    const t = Date.now();
    const seen = await runFaultBatches(ns, seed, count, kinds, withSas);
    console.log(`  ${count} batches in ${((Date.now() - t) / 1000).toFixed(1)} s: ${JSON.stringify(seen)}`);
    if (count >= 10 * kinds.length) for (const k of kinds) assert.ok((seen[k] ?? 0) > 0, `fault kind ${k} was drawn`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}
