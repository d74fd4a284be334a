// test/kernel/report-event.test.ts — a real XFRM_MSG_REPORT (kernel tier, inside the qemu VM), seen at once by
// iproute2's `ip xfrm monitor report`, by `keyfleet ip xfrm monitor report` (text byte-identical, -j with the fields)
// and by an in-process agent's Watch (EVENT_TYPE_REPORT with proto, selector and care-of address).
// How the kernel makes one (6.1): a packet carrying a Home Address destination option is handed by exthdrs.c
// ipv6_dest_hao() to xfrm6_input_addr(), which finds the receiver's `proto hao mode ro` state (src = home address,
// dst = receiver, coa = the packet's source) and puts it on the secpath. The UDP layer's xfrm6_policy_check then
// finds no inbound policy but a secpath entry that is not transport mode (xfrm_policy.c __xfrm_policy_check: !pol
// → secpath_has_nontransport → xfrm_secpath_reject), or a policy whose template that entry does not satisfy
// (xfrm_policy_ok → xerr_idx → reject), so the state type's reject hook runs: mip6.c
// mip6_destopt_reject() → km_report(net, IPPROTO_DSTOPTS, &sel, &hao->addr) → xfrm_user.c xfrm_send_report() on
// XFRMNLGRP_REPORT. The packet comes from a raw socket in a second netns joined by a veth (test/kernel/lib/send-hao.py).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentClient, EntryKind, EventType } from '../../src/client/index.js';
import { XFRMNLGRP_REPORT } from '../../asm/shared/xfrm.js';
import { Certs, run, withAgent, take, newNetns, delNetns, watch, type Watcher } from '../netns/agent-lib.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/keyfleet');
if (process.env.KEYFLEET_IN_VM === '1') run('ip', ['link', 'set', 'lo', 'up']); // the agent listens on 127.0.0.1
const certs = new Certs();

const COA = '2001:db8:71::1';  // the sender's (mobile node's) address on the link
const CN = '2001:db8:71::2';   // the receiver (correspondent node, the agent's netns)
const SPORT = 5555, DPORT = 9;
const SEND_HAO = path.join(root, 'test/kernel/lib/send-hao.py');

/**
 * One datagram per home address, each with its own `proto hao mode ro` state (and a home address of its own, as
 * mip6_report_rl_allow() lets one report per packet timestamp, iif, home address and destination through):
 * no inbound policy → REPORT (XfrmInNoPols); a policy whose template the hao state does not satisfy → REPORT
 * (xfrm_policy_ok() returns -2 - index of the ro entry: XfrmInTmplMismatch); a template it does satisfy → the
 * datagram is accepted and reaches UDP (no socket on DPORT: Udp6NoPorts), no REPORT.
 */
const CASES = [
  { hoa: '2001:db8:72::1', policy: null, counter: 'XfrmInNoPols', reported: true },
  { hoa: '2001:db8:72::2', policy: ['tmpl', 'proto', 'esp', 'mode', 'transport'], counter: 'XfrmInTmplMismatch', reported: true },
  { hoa: '2001:db8:72::3', policy: ['tmpl', 'src', '2001:db8:72::3', 'dst', CN, 'proto', 'hao', 'mode', 'ro'], counter: 'Udp6NoPorts', reported: false },
] as const;

const text = (w: Watcher): string => Buffer.concat(w.out).toString('latin1');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Counter `name` of /proc/net/xfrm_stat or /proc/net/snmp6 in netns ns. */
const counter = (ns: string, name: string): number => {
  const file = name.startsWith('Xfrm') ? '/proc/net/xfrm_stat' : '/proc/net/snmp6';
  return Number(new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(run('ip', ['netns', 'exec', ns, 'cat', file]))?.[1] ?? NaN);
};

test('Home Address options the policy check rejects: ip, keyfleet ip and the agent\'s Watch all see the kernel\'s REPORTs', async () => {
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
      for (const k of CASES) {
        run('ip', ['-n', ns, 'xfrm', 'state', 'add', 'src', k.hoa, 'dst', CN, 'proto', 'hao', 'mode', 'ro', 'coa', COA]);
        if (k.policy) run('ip', ['-n', ns, 'xfrm', 'policy', 'add', 'src', `${k.hoa}/128`, 'dst', `${CN}/128`, 'dir', 'in', ...k.policy]);
      }
      const watchEv = c.watch({ types: [EventType.EVENT_TYPE_REPORT] }, ac.signal);
      // ip's xfrm_report_print() never fflush()es (its SA/policy printers do): line-buffer it, or a pipe sees nothing.
      const ipW = watch(['stdbuf', '-oL', 'ip', '-n', ns, 'xfrm', 'monitor', 'report']);
      const kfW = watch([process.execPath, bin, 'ip', '-n', ns, 'xfrm', 'monitor', 'report']);
      const kfJ = watch([process.execPath, bin, 'ip', '-j', '-n', ns, 'xfrm', 'monitor', 'report']);
      const ipO = watch(['stdbuf', '-oL', 'ip', '-o', '-n', ns, 'xfrm', 'monitor', 'report']);
      const kfO = watch([process.execPath, bin, 'ip', '-o', '-n', ns, 'xfrm', 'monitor', 'report']);
      ws.push(ipW, kfW, kfJ, ipO, kfO);
      const events = watchEv.events[Symbol.asyncIterator]();
      await watchEv.ready;
      // every monitor and the agent subscribed to XFRMNLGRP_REPORT (group 6: bit 5 of /proc/net/netlink's Groups,
      // protocol 6 = NETLINK_XFRM) before anything is sent; node starts in 2-4 s under TCG
      const subscribed = (): number => run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netlink']).split('\n').slice(1)
        .map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === '6' && (parseInt(f[3] ?? '0', 16) & (1 << (XFRMNLGRP_REPORT - 1))) !== 0).length;
      for (let t = 0; t < 300 && subscribed() < ws.length + 1; t++) await sleep(200);
      assert.ok(subscribed() >= ws.length + 1, `only ${subscribed()} report subscribers in ${ns}`);
      let head = Buffer.alloc(0);
      const got: Awaited<ReturnType<typeof take>> = [];
      for (const k of CASES) {
        const before = counter(ns, k.counter);
        head = Buffer.from(run('ip', ['netns', 'exec', peer, 'python3', SEND_HAO, COA, k.hoa, CN, String(SPORT), String(DPORT)]).trim(), 'hex');
        if (k.reported) got.push(...await take({ [Symbol.asyncIterator]: () => events }, 1, 60_000));
        else await sleep(2000);
        assert.ok(counter(ns, k.counter) > before, `${k.hoa}: ${k.counter} did not grow`);
      }
      const want = CASES.filter((k) => k.reported).length;
      const deadline = Date.now() + 30_000;
      const count = (t: string, what: string): number => t.split(what).length - 1;
      while (Date.now() < deadline && !(count(text(ipW), 'coa') >= want && count(text(kfW), 'coa') >= want && count(text(kfJ), '\n') >= want
        && count(text(ipO), '\n') >= want && count(text(kfO), '\n') >= want)) await sleep(200);
      await sleep(1000); // anything more (there should be nothing) arrives too
      for (const w of ws) w.child.kill();
      await Promise.all(ws.map((w) => w.done));

      // Every datagram went through its hao state (one packet each).
      assert.is(run('ip', ['-n', ns, '-s', 'xfrm', 'state']).match(/\b1\(packets\)/g)?.length, CASES.length);
      // 6.1's _decode_session6 starts at IP6CB(skb)->nhoff's next header but reads "ports" right after the IPv6
      // header: the destination options header's first four bytes (next header 17, hdrlen, PadN type and length),
      // never the datagram's SPORT/DPORT.
      const sport = (17 << 8) | head[0]!, dport = (head[1]! << 8) | head[2]!;
      const reported = CASES.filter((k) => k.reported);
      const ipText = text(ipW);
      assert.is(ipText, reported.map((k) => `report proto hao \n  sel src ${k.hoa}/128 dst ${CN}/128 proto udp sport ${sport} dport ${dport} dev lo \n  coa ${COA}\n`).join(''),
        `ip printed:\n${ipText}\nstderr: ${Buffer.concat(ipW.err).toString()}`);
      assert.fixture(text(kfW), ipText, 'keyfleet ip xfrm monitor report');
      // -o: one line per event, ip's `\` for each newline inside it
      assert.is(text(ipO), ipText.replace(/\n/g, '\\').replace(/\\report /g, '\\\nreport ') + '\n', 'ip -o');
      assert.fixture(text(kfO), text(ipO), 'keyfleet ip -o xfrm monitor report');
      const ifindex = Number(/^(\d+):/.exec(run('ip', ['-n', ns, '-o', 'link', 'show', 'lo']))![1]);
      const reports = reported.map((k) => ({ proto: 'hao', selector: { src: `${k.hoa}/128`, dst: `${CN}/128`, proto: 17, sport, dport, ifindex }, coa: COA }));
      assert.equal(text(kfJ).trim().split('\n').map((l) => JSON.parse(l)), reports.map((report) => ({ event: 'report', report })));

      assert.equal(got.map((e) => [e.type, e.messageType]), reported.map(() => [EventType.EVENT_TYPE_REPORT, 32]));
      assert.equal(got.map((e) => [e.entry!.kind, e.entry!.proto, e.entry!.src, e.entry!.dst, e.entry!.spi]),
        reported.map((k) => [EntryKind.ENTRY_KIND_UNSPECIFIED, 'hao', `${k.hoa}/128`, `${CN}/128`, 0]));
      assert.equal(got.map((e) => JSON.parse(e.entry!.json)), reports);
      assert.ok(got[1]!.sequence > got[0]!.sequence);
      // and nothing for the accepted datagram
      const extra = await Promise.race([events.next(), sleep(1500).then(() => 'none' as const)]);
      assert.is(extra, 'none', 'a REPORT for the accepted datagram');
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
