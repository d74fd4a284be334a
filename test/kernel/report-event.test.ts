// test/kernel/report-event.test.ts — a real XFRM_MSG_REPORT (kernel tier, inside the qemu VM), seen at once by
// iproute2's `ip xfrm monitor report`, by `keyfleet ip xfrm monitor report` (text byte-identical, -j with the fields)
// and by an in-process agent's Watch (EVENT_TYPE_REPORT with proto, selector and care-of address).
// How the kernel makes one (6.1): a packet carrying a Home Address destination option is handed by exthdrs.c
// ipv6_dest_hao() to xfrm6_input_addr(), which finds the receiver's `proto hao mode ro` state (src = home address,
// dst = receiver, coa = the packet's source) and puts it on the secpath. The UDP layer's xfrm6_policy_check then
// finds no inbound policy, but a secpath entry that is not transport mode (xfrm_policy.c __xfrm_policy_check: !pol
// → secpath_has_nontransport → xfrm_secpath_reject), so the state type's reject hook runs: mip6.c
// mip6_destopt_reject() → km_report(net, IPPROTO_DSTOPTS, &sel, &hao->addr) → xfrm_user.c xfrm_send_report() on
// XFRMNLGRP_REPORT. The packet comes from a raw socket in a second netns joined by a veth (test/kernel/lib/send-hao.py).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentClient, EntryKind, EventType } from '../../src/client/index.js';
import { Certs, run, withAgent, take, newNetns, delNetns, watch, type Watcher } from '../netns/agent-lib.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
if (process.env.KEYFLEET_IN_VM === '1') run('ip', ['link', 'set', 'lo', 'up']); // the agent listens on 127.0.0.1
const certs = new Certs();

const COA = '2001:db8:71::1';  // the sender's (mobile node's) address on the link
const CN = '2001:db8:71::2';   // the receiver (correspondent node, the agent's netns)
const HOA = '2001:db8:72::1';  // the home address the option names
const SPORT = 5555, DPORT = 9;
const SEND_HAO = path.join(root, 'test/kernel/lib/send-hao.py');

const text = (w: Watcher): string => Buffer.concat(w.out).toString('latin1');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Counter `name` of /proc/net/xfrm_stat in netns ns. */
const xfrmStat = (ns: string, name: string): number =>
  Number(new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/xfrm_stat']))?.[1] ?? NaN);

test('a Home Address option without an inbound policy: ip, keyfleet ip and the agent\'s Watch all see the kernel\'s REPORT', async () => {
  assert.is(process.env.KEYFLEET_IN_VM, '1', 'run this tier with `node scripts/test.mjs kernel` (it boots the VM)');
  run('modprobe', ['mip6']); // also loaded at boot (scripts/kernel-vm/run.mjs IPSEC_MODULES)
  run('modprobe', ['veth']);
  await withAgent(certs, async (agent, ns) => {
    const peer = newNetns();
    const c = new AgentClient(agent.address, { ...certs.as('dashboard'), deadlineMs: 240_000 });
    const ac = new AbortController();
    const ws: Watcher[] = [];
    try {
      run('ip', ['link', 'add', 'kfr-a', 'netns', peer, 'type', 'veth', 'peer', 'name', 'kfr-b', 'netns', ns]);
      for (const [n, dev, addr] of [[peer, 'kfr-a', `${COA}/64`], [ns, 'kfr-b', `${CN}/64`]] as const) {
        run('ip', ['-n', n, 'addr', 'add', addr, 'dev', dev, 'nodad']);
        run('ip', ['-n', n, 'link', 'set', dev, 'up']);
        run('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
      }
      run('ip', ['-n', ns, 'xfrm', 'state', 'add', 'src', HOA, 'dst', CN, 'proto', 'hao', 'mode', 'ro', 'coa', COA]);
      const watchEv = c.watch({ types: [EventType.EVENT_TYPE_REPORT] }, ac.signal);
      // ip's xfrm_report_print() never fflush()es (its SA/policy printers do): line-buffer it, or a pipe sees nothing.
      const ipW = watch(['stdbuf', '-oL', 'ip', '-n', ns, 'xfrm', 'monitor', 'report']);
      const kfW = watch([process.execPath, bin, 'ip', '-n', ns, 'xfrm', 'monitor', 'report']);
      const kfJ = watch([process.execPath, bin, 'ip', '-j', '-n', ns, 'xfrm', 'monitor', 'report']);
      ws.push(ipW, kfW, kfJ);
      await watchEv.ready;
      await sleep(8000); // node starts in 2-4 s under TCG: let every monitor subscribe first
      const noPolsBefore = xfrmStat(ns, 'XfrmInNoPols');
      // One datagram (mip6_report_rl_allow() lets one report per packet timestamp/iif/addresses through).
      const head = Buffer.from(run('ip', ['netns', 'exec', peer, 'python3', SEND_HAO, COA, HOA, CN, String(SPORT), String(DPORT)]).trim(), 'hex');
      const [ev] = await take(watchEv.events, 1, 60_000);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(text(ipW).includes('coa') && text(kfW).includes('coa') && text(kfJ).includes('\n'))) await sleep(200);
      await sleep(1000); // anything more (there should be nothing) arrives too
      for (const w of ws) w.child.kill();
      await Promise.all(ws.map((w) => w.done));

      // The packet went through the HAO state and was dropped for want of a policy (XfrmInNoPols).
      assert.ok(xfrmStat(ns, 'XfrmInNoPols') > noPolsBefore, 'XfrmInNoPols did not grow');
      assert.match(run('ip', ['-n', ns, '-s', 'xfrm', 'state']), /\b1\(packets\)/);
      // 6.1's _decode_session6 starts at IP6CB(skb)->nhoff's next header but reads "ports" right after the IPv6
      // header: the destination options header's first four bytes (next header 17, hdrlen, PadN type and length),
      // never the datagram's SPORT/DPORT.
      const sport = (17 << 8) | head[0]!, dport = (head[1]! << 8) | head[2]!;
      const ipText = text(ipW);
      assert.is(ipText, `report proto hao \n  sel src ${HOA}/128 dst ${CN}/128 proto udp sport ${sport} dport ${dport} dev lo \n  coa ${COA}\n`,
        `ip printed:\n${ipText}\nstderr: ${Buffer.concat(ipW.err).toString()}`);
      assert.fixture(text(kfW), ipText, 'keyfleet ip xfrm monitor report');
      const ifindex = Number(/^(\d+):/.exec(run('ip', ['-n', ns, '-o', 'link', 'show', 'lo']))![1]);
      const report = { proto: 'hao', selector: { src: `${HOA}/128`, dst: `${CN}/128`, proto: 17, sport, dport, ifindex }, coa: COA };
      assert.equal(text(kfJ).trim().split('\n').map((l) => JSON.parse(l)), [{ event: 'report', report }]);

      assert.is(ev!.type, EventType.EVENT_TYPE_REPORT);
      assert.is(ev!.messageType, 32);
      const e = ev!.entry!;
      assert.equal([e.kind, e.proto, e.src, e.dst, e.spi], [EntryKind.ENTRY_KIND_UNSPECIFIED, 'hao', `${HOA}/128`, `${CN}/128`, 0]);
      assert.equal(JSON.parse(e.json), report);
    } finally {
      for (const w of ws) w.child.kill();
      ac.abort();
      c.close();
      delNetns(peer);
    }
  });
});

test.after(() => certs.remove());

test.run();
