// test/kernel/pfkey-acquire.test.ts — kernel tier (inside the qemu VM): `keyfleet setkey -x`, on the XFRM backend
// (acquires composed from XFRM_MSG_ACQUIRE) and on the PF_KEY backend, prints the SADB_ACQUIREs af_key broadcasts
// exactly as the real setkey 0.8.2 -x prints them. One namespace with a dummy link (10.9.0.1/24, fd00:9::1/64);
// `require` policies without SAs: three added by the real setkey (af_key leaves their algorithm masks 0, so its
// proposals are empty) and three by ip (masks ~0: af_key offers every available combination); ESP and AH, IPv4
// and IPv6, transport and tunnel; three monitors at once, one UDP datagram per destination, compared block by block.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETKEY, sh } from './lib/compat.js';
import { PfkeyKernel } from '../../src/kernel/pfkey.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ns = `kfa-${process.pid}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function monitor(cmd: string, args: string[]): { p: ChildProcess; out: () => string } {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  p.stdout!.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  p.stderr!.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  return { p, out: () => text };
}
/** -x blocks start with printdate()'s line (local time): dropped, it is the only thing that may differ. */
const blocks = (t: string): string[] => t.split(/^\d\d:\d\d:\d\d\.\d{6} \n/m).filter((b) => b !== '');
const acquires = (t: string): string[] => blocks(t).filter((b) => /^sadb_msg\{ version=2 type=6 /m.test(b));

test('setkey -x on the xfrm backend prints the SADB_ACQUIRE af_key sends, as setkey 0.8.2 -x does (ESP, AH, IPv6; PF_KEY and netlink policies)', async () => {
  sh('modprobe', ['dummy']);
  sh('ip', ['netns', 'add', ns]);
  // ip applies -n to every line of its batch (a line's own -n would be an unknown object: ip -b stops there)
  const up = sh('ip', ['-n', ns, '-b', '-'], ['link set lo up', 'link add d0 type dummy', 'link set d0 up',
    'addr add 10.9.0.1/24 dev d0', 'addr add fd00:9::1/64 dev d0 nodad',
    // an SA naming cbc(aes)/hmac(sha256) makes sure those are instantiated whatever ran before in this boot
    'xfrm state add src 10.9.9.1 dst 10.9.9.2 proto esp spi 0x9001 enc cbc(aes) 0x00112233445566778899aabbccddeeff auth hmac(sha256) 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
    ''].join('\n'));
  assert.is(up.status, 0, up.out + up.err);
  // the REGISTER below probes every algorithm af_key knows; under TCG each modprobe of a missing one costs
  // seconds, and what is missing stays missing for af_key and /proc/crypto alike: skip them
  const modprobe = readFileSync('/proc/sys/kernel/modprobe', 'latin1');
  writeFileSync('/proc/sys/kernel/modprobe', '/bin/true\n');
  const mons: ChildProcess[] = [];
  let km: PfkeyKernel | undefined;
  try {
    // af_key sends SADB_ACQUIRE to registered sockets (a key manager): one stays registered, as racoon would
    km = PfkeyKernel.open({ netns: ns });
    for (const satype of [2, 3]) await km.register(satype);
    const theirs = monitor('ip', ['netns', 'exec', ns, SETKEY, '-x']);
    const ours = monitor(process.execPath, [path.join(root, 'bin/keyfleet'), 'setkey', '--netns', ns, '-x']);
    const viaPfkey = monitor(process.execPath, [path.join(root, 'bin/keyfleet'), 'setkey', '--backend', 'pfkey', '--netns', ns, '-x']);
    mons.push(theirs.p, ours.p, viaPfkey.p);
    // both are listening once a policy change shows in both (keyfleet prints nothing before an event)
    for (let i = 0; i < 100 && !(/version=2 type=13 /.test(theirs.out()) && /version=2 type=13 /.test(ours.out()) && /version=2 type=13 /.test(viaPfkey.out())); i++) {
      sh('ip', ['-n', ns, 'xfrm', 'policy', 'update', 'src', '10.99.0.1', 'dst', '10.99.0.2', 'dir', 'fwd']);
      await sleep(300);
    }
    assert.ok(/version=2 type=13 /.test(ours.out()), `keyfleet -x printed:\n${ours.out()}`);
    // af_key leaves a PF_KEY policy's algorithm masks at 0 (allalgs set instead): its acquires offer nothing;
    // a policy from netlink keeps ip's ~0 masks, so af_key offers every available combination
    const conf = 'spdadd 10.9.0.1 10.9.0.2 any -P out ipsec esp/transport//require;\n'
      + 'spdadd 10.9.0.1 10.9.0.3 any -P out ipsec ah/transport//require;\n'
      + 'spdadd fd00:9::1 fd00:9::2 any -P out ipsec esp/transport//require;\n';
    const r = sh('ip', ['netns', 'exec', ns, SETKEY, '-c'], conf);
    assert.is(r.status, 0, r.out + r.err);
    const pol = sh('ip', ['-n', ns, '-b', '-'], [
      'xfrm policy add src 10.9.0.1 dst 10.9.0.4 dir out tmpl proto esp mode transport',
      'xfrm policy add src 10.9.0.1 dst 10.9.0.5 dir out tmpl proto ah mode transport',
      'xfrm policy add src fd00:9::1 dst fd00:9::4 dir out tmpl src fd00:9::1 dst fd00:9::4 proto esp mode tunnel', ''].join('\n'));
    assert.is(pol.status, 0, pol.out + pol.err);
    const dsts = ['10.9.0.2', '10.9.0.3', 'fd00:9::2', '10.9.0.4', '10.9.0.5', 'fd00:9::4'];
    // one datagram per destination, one at a time (the larval SA then holds back further acquires for it)
    for (const d of dsts) {
      const before = acquires(theirs.out()).length;
      sh('ip', ['netns', 'exec', ns, 'bash', '-c', `echo x 2>/dev/null >/dev/udp/${d}/9; true`]);
      for (let i = 0; i < 100 && (acquires(theirs.out()).length <= before || acquires(ours.out()).length <= before || acquires(viaPfkey.out()).length <= before); i++) await sleep(100);
    }
    await sleep(300);
    const t = acquires(theirs.out()), o = acquires(ours.out());
    assert.is(t.length, dsts.length, `setkey -x printed:\n${theirs.out().slice(-4000)}\nip xfrm state:\n${sh('ip', ['-n', ns, 'xfrm', 'state']).out}`);
    assert.equal(o, t);
    // the comparison means something: both families, both protocols, empty and full proposals
    assert.ok(/satype=3\n/.test(o[0]!) && !/sadb_comb/.test(o[0]!), o[0]);
    assert.ok(/satype=2\n/.test(o[1]!) && /family=10 /.test(o[2]!), o[1]! + o[2]!);
    assert.ok(/sadb_comb\{ auth=5 encrypt=12 /.test(o[3]!), o[3]);
    assert.ok(/satype=2\n/.test(o[4]!) && /sadb_comb\{ auth=5 encrypt=0 /.test(o[4]!), o[4]);
    assert.ok(/family=10 /.test(o[5]!) && /sadb_comb/.test(o[5]!), o[5]);
    assert.equal(acquires(viaPfkey.out()), t, 'keyfleet setkey --backend pfkey -x');
    console.log(`\n-x acquires: ${o.length} SADB_ACQUIRE printed identically (${o.map((b) => (b.match(/sadb_comb/g) ?? []).length).join('/')} combinations)`);
  } finally {
    km?.close();
    for (const p of mons) p.kill('SIGTERM');
    await Promise.all(mons.map((p) => (p.exitCode === null ? new Promise((r) => p.once('close', r)) : null)));
    writeFileSync('/proc/sys/kernel/modprobe', modprobe);
    sh('ip', ['netns', 'del', ns]);
  }
});

test.run();
