// Kernel tier (inside the qemu VM): keyfleet setkey --atomic with real ESP/AH/IPComp SAs, over both backends
// (--backend pfkey sends the statements to af_key; pre-images, journal and rollback use XFRM netlink on the
// same tables) — a failing statement leaves the SAD and SPD exactly as they were (apart from SA creation times,
// which a re-added SA cannot keep), a clean batch applies whole, and a kill -9 after every operation took
// effect (no commit mark yet) is rolled back by the next start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
const work = mkdtempSync(path.join(tmpdir(), 'kf-atomic-'));
const K16 = '0x00112233445566778899aabbccddeeff';
const K20 = '0x00112233445566778899aabbccddeeff00112233';

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function keyfleet(ns: string, text: string, extra: string[] = [], env: Record<string, string> = {}): { code: number; out: string; err: string; signal: string | null } {
  const f = path.join(work, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, text);
  const r = spawnSync(process.execPath, [bin, 'setkey', '--netns', ns, ...extra, '-f', f], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, signal: r.signal };
}
/** setkey -D through keyfleet: its start settles an interrupted batch of the namespace. */
function startUp(ns: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, 'setkey', '--netns', ns, '-D'], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
/** SAD and SPD as sorted blocks; SA/policy creation times blanked (a re-added entry cannot keep them). */
function state(ns: string): string[] {
  const blocks = (t: string) => t.split(/\n(?=src )/).map((b) => b.trim().replace(/(add|use) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '$1 T'));
  return [...blocks(sh('ip', ['-s', '-n', ns, 'xfrm', 'state', 'list'])), ...blocks(sh('ip', ['-s', '-n', ns, 'xfrm', 'policy', 'list']))].sort();
}

for (const backend of ['xfrm', 'pfkey']) test(`${backend}: a failing statement rolls back SA adds, deletes and flushes with their keys, lifetimes and templates`, () => {
  const ns = `kf-${process.pid}-atomic-${backend}`;
  const bk = ['--backend', backend];
  sh('ip', ['netns', 'add', ns]);
  try {
    const pre = keyfleet(ns, [
      `add 10.0.0.1 10.0.0.2 esp 0x1001 -m tunnel -u 7 -lh 3600 -ls 3000 -E aes-cbc ${K16} -A hmac-sha1 ${K20};`,
      `add 10.0.0.1 10.0.0.2 ah 0x2001 -A hmac-sha1 ${K20};`,
      'add 10.0.0.1 10.0.0.2 ipcomp 0x3001 -C deflate;',
      'spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/unique:7;',
    ].join('\n') + '\n', bk);
    assert.is(pre.code, 0, pre.out + pre.err);
    assert.is(pre.out, '');
    const before = state(ns);
    const r = keyfleet(ns, [
      `add 10.0.0.1 10.0.0.3 esp 0x1002 -E aes-cbc ${K16} -A hmac-sha256 ${K16}${K16.slice(2)};`,
      'delete 10.0.0.1 10.0.0.2 esp 0x1001;',
      'flush ah;',
      'spdflush;',
      `add 10.0.0.1 10.0.0.2 ipcomp 0x3001 -C deflate;`,
    ].join('\n') + '\n', ['--atomic', ...bk]);
    assert.is(r.code, 1);
    assert.is(r.out, 'The result of line 5: File exists.\n');
    assert.match(r.err, 'rolled back 4 operation(s)');
    assert.equal(state(ns), before);
    const ok = keyfleet(ns, `delete 10.0.0.1 10.0.0.2 ah 0x2001;\nadd 10.0.0.9 10.0.0.8 esp 0x9 -E aes-cbc ${K16};\n`, ['--atomic', ...bk]);
    assert.is(ok.code, 0, ok.err);
    const after = sh('ip', ['-n', ns, 'xfrm', 'state', 'list']);
    assert.not.match(after, 'spi 0x00002001');
    assert.match(after, 'spi 0x00000009');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

for (const point of ['chunk', 'sent']) test(`pfkey: kill -9 at failpoint '${point}' (operations sent over PF_KEY, no commit mark) is rolled back by the next start`, () => {
  const ns = `kf-${process.pid}-kill-${point}`;
  sh('ip', ['netns', 'add', ns]);
  try {
    const pre = keyfleet(ns, `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc ${K16} -A hmac-sha1 ${K20};\nspdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/transport//require;\n`, ['--backend', 'pfkey']);
    assert.is(pre.code, 0, pre.out + pre.err);
    const before = state(ns);
    const r = keyfleet(ns, [
      `add 10.0.0.1 10.0.0.3 esp 0x1002 -E aes-cbc ${K16} -A hmac-sha1 ${K20};`,
      'delete 10.0.0.1 10.0.0.2 esp 0x1001;',
      'spdadd 10.3.0.0/24 10.4.0.0/24 any -P out ipsec esp/transport//unique;',
      'spdflush;',
    ].join('\n') + '\n', ['--atomic', '--backend', 'pfkey'], { KEYFLEET_FAILPOINT: point });
    assert.is(r.signal, 'SIGKILL', `killed at ${point}: ${r.err}`);
    assert.not.equal(state(ns), before, 'the killed batch had taken effect');
    const next = startUp(ns);
    assert.is(next.code, 0, next.err);
    assert.match(next.err, 'was interrupted; rolled back');
    assert.equal(state(ns), before);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

test.run();
