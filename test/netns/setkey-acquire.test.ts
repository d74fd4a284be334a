// test/netns/setkey-acquire.test.ts — `keyfleet setkey -x` on the XFRM backend prints kernel acquires as the
// SADB_ACQUIRE af_key would broadcast (layer: tests, tier netns: this kernel has no PF_KEY, so keyfleet's side
// alone; the comparison with setkey 0.8.2 -x is test/kernel/pfkey-acquire.test.ts). Policies come from
// `keyfleet setkey -c`; one UDP datagram per destination over a veth pair makes the kernel send XFRM_MSG_ACQUIRE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function sh(args: string[], input = ''): { out: string; err: string; code: number } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', input });
  return { out: r.stdout, err: r.stderr, code: r.status ?? -1 };
}

test('acquires for ESP and AH policies print as SADB_ACQUIRE: satype, addresses, policy id, a proposal per protocol', async () => {
  const ns = `kf-${process.pid}-acq`;
  sh(['ip', 'netns', 'add', ns]);
  const mon = spawn(bin, ['setkey', '--netns', ns, '-x'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  mon.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  mon.stderr.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  try {
    for (const c of ['link set lo up', 'link add v0 type veth peer name v1', 'link set v0 up', 'link set v1 up',
      'addr add 10.78.0.1/24 dev v0']) {
      const r = sh(['ip', '-n', ns, ...c.split(' ')]);
      assert.is(r.code, 0, `${c}: ${r.err}`);
    }
    for (let i = 0; i < 100 && !/version=2 type=13 /.test(out); i++) {
      sh(['ip', '-n', ns, 'xfrm', 'policy', 'update', 'src', '10.99.0.1', 'dst', '10.99.0.2', 'dir', 'fwd']);
      await sleep(100);
    }
    const r = sh([bin, 'setkey', '--netns', ns, '-c'], 'spdadd 10.78.0.1 10.78.0.2 any -P out ipsec esp/transport//require;\n'
      + 'spdadd 10.78.0.1 10.78.0.3 any -P out ipsec ah/transport//require;\n');
    assert.is(r.code, 0, r.out + r.err);
    const index = (dst: string): number => {
      const m = new RegExp(`dst ${dst.replace(/\./g, '\\.')}/32[^]*?index (\\d+)`).exec(sh(['ip', '-s', '-n', ns, 'xfrm', 'policy', 'list', 'dir', 'out']).out);
      return Number(m?.[1]);
    };
    sh(['ip', 'netns', 'exec', ns, 'bash', '-c', 'for d in 10.78.0.2 10.78.0.3; do echo x 2>/dev/null >/dev/udp/$d/9; done; true']);
    const acq = (): string[] => out.split(/^\d\d:\d\d:\d\d\.\d{6} \n/m).filter((b) => /^sadb_msg\{ version=2 type=6 /m.test(b));
    for (let i = 0; i < 50 && acq().length < 2; i++) await sleep(100);
    const [esp, ah, ...more] = acq();
    assert.is(more.length, 0, out);
    assert.ok(esp && ah, out);
    assert.match(esp!, /^sadb_msg\{ version=2 type=6 errno=0 satype=3\n {2}len=\d+ reserved=0 seq=[1-9]\d* pid=0\n/m);
    assert.match(ah!, /satype=2\n/);
    for (const [b, dst] of [[esp!, '10.78.0.2'], [ah!, '10.78.0.3']] as const) {
      assert.match(b, new RegExp(`sadb_x_policy\\{ type=2 dir=2 id=${index(dst).toString(16)} priority=\\d+ \\}`));
      assert.ok(b.includes('sadb_prop{ replay=32\n'), b);
    }
    // ESP combinations pair an encryption with an authentication algorithm; AH ones name no encryption
    assert.ok(!/sadb_comb\{ auth=\d+ encrypt=0 /.test(esp!) && !/sadb_comb\{ auth=\d+ encrypt=[1-9]/.test(ah!), `${esp}\n${ah}`);
  } finally {
    mon.kill('SIGTERM');
    if (mon.exitCode === null) await new Promise((r) => mon.once('close', r));
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

test.run();
