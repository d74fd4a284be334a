// test/netns/native-socket.test.ts — the native socket addon against the real XFRM netlink of this kernel,
// each test in its own fresh network namespace (tier netns: root). Covers dumps, multicast events via the
// uv_poll loop, 1000 acked policy adds in ONE send, ENOBUFS on an overrun receive buffer, and namespace
// isolation (the host's SPD is never touched). Messages are hand-built from what `ip xfrm` sends (strace -xx).
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XFRMNLGRP_POLICY, openNetlinkXfrm, type NativeError, type RawSocket } from '../../src/native/index.js';

// <linux/netlink.h>, <linux/xfrm.h>
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const XFRM_MSG_NEWPOLICY = 19;
const XFRM_MSG_GETPOLICY = 21;

let nsCount = 0;

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs fn with a fresh netns name (kf-<pid>-<n>), always deleting the namespace afterwards. */
async function withNetns(fn: (ns: string) => void | Promise<void>): Promise<void> {
  const ns = `kf-${process.pid}-${++nsCount}`;
  ip('netns', 'add', ns);
  try {
    await fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** The dump request `ip xfrm policy list` sends: a bare nlmsghdr, XFRM_MSG_GETPOLICY, REQUEST|DUMP. */
function getPolicyDump(seq: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(16, 0);
  b.writeUInt16LE(XFRM_MSG_GETPOLICY, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(seq, 8);
  return b;
}

/**
 * The 184-byte message of `ip xfrm policy add src 10.1.0.1/32 dst 10.2.0.1/32 dir out` (strace -e write=4):
 * nlmsghdr + struct xfrm_userpolicy_info { xfrm_selector sel (daddr@16, saddr@32, family@56, prefixlen_d@58,
 * prefixlen_s@59); xfrm_lifetime_cfg lft (4 byte/packet limits = XFRM_INF @72..103); curlft; priority;
 * index; dir@176 ...}, with dst 10.2.<hi>.<lo> varied by n.
 */
function newPolicy(seq: number, n: number, flags = NLM_F_REQUEST | NLM_F_ACK): Buffer {
  const b = Buffer.alloc(184);
  b.writeUInt32LE(184, 0);
  b.writeUInt16LE(XFRM_MSG_NEWPOLICY, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.set([10, 2, (n >> 8) & 0xff, n & 0xff], 16); // sel.daddr
  b.set([10, 1, 0, 1], 32); // sel.saddr
  b.writeUInt16LE(2, 56); // sel.family = AF_INET
  b[58] = 32; // sel.prefixlen_d
  b[59] = 32; // sel.prefixlen_s
  b.fill(0xff, 72, 104); // lft.{soft,hard}_{byte,packet}_limit = XFRM_INF
  b[176] = 1; // dir = XFRM_POLICY_OUT
  return b;
}

interface Msg { type: number; flags: number; seq: number; pid: number; error?: number }

function messages(datagrams: Buffer[]): Msg[] {
  const out: Msg[] = [];
  for (const d of datagrams) {
    for (let off = 0; off + 16 <= d.length;) {
      const len = d.readUInt32LE(off);
      const m: Msg = { type: d.readUInt16LE(off + 4), flags: d.readUInt16LE(off + 6), seq: d.readUInt32LE(off + 8), pid: d.readUInt32LE(off + 12) };
      if (m.type === NLMSG_ERROR) m.error = d.readInt32LE(off + 16);
      out.push(m);
      off += Math.max(16, (len + 3) & ~3);
    }
  }
  return out;
}

/** Receives with recvSync until a message satisfies `done` (or 5 s pass without data). */
function recvUntil(s: RawSocket, done: (all: Msg[]) => boolean): Msg[] {
  const all: Msg[] = [];
  while (!done(all)) {
    const batch = s.recvSync(5000);
    if (batch.length === 0) throw new Error(`timed out after ${all.length} messages`);
    all.push(...messages(batch));
  }
  return all;
}

function dumpPolicies(s: RawSocket, seq: number): Msg[] {
  s.send(getPolicyDump(seq));
  const all = recvUntil(s, (m) => m.some((x) => x.type === NLMSG_DONE && x.seq === seq));
  return all.filter((m) => m.seq === seq);
}

function policyCount(ns: string): number {
  // "SPD IN  0 OUT 1000 FWD 0 (Sock: IN 0 OUT 0 FWD 0)"
  const out = ip('-n', ns, 'xfrm', 'policy', 'count');
  const m = /OUT\s+(\d+)/.exec(out);
  if (!m) throw new Error(`unexpected ip xfrm policy count output: ${out}`);
  return Number(m[1]);
}

const hostPolicies = ip('xfrm', 'policy', 'list');

test('a policy dump in a fresh netns returns only NLMSG_DONE, addressed to our port id', async () => {
  await withNetns((ns) => {
    const s = openNetlinkXfrm({ netns: ns });
    try {
      const got = dumpPolicies(s, 42);
      assert.equal(got.map((m) => [m.type, m.seq, m.pid]), [[NLMSG_DONE, 42, s.portId]]);
    } finally {
      s.close();
    }
  });
});

test('a policy added with ip -n is dumped as one XFRM_MSG_NEWPOLICY, also when the netns is given as a path', async () => {
  await withNetns((ns) => {
    ip('-n', ns, 'xfrm', 'policy', 'add', 'src', '10.0.0.0/24', 'dst', '10.0.1.0/24', 'dir', 'out');
    const s = openNetlinkXfrm({ netns: `/run/netns/${ns}` });
    try {
      const got = dumpPolicies(s, 7);
      assert.equal(got.map((m) => m.type), [XFRM_MSG_NEWPOLICY, NLMSG_DONE]);
    } finally {
      s.close();
    }
  });
});

test('a socket in one netns does not see another netns\'s policies', async () => {
  await withNetns(async (a) => {
    await withNetns((b) => {
      ip('-n', a, 'xfrm', 'policy', 'add', 'src', '10.9.0.0/24', 'dst', '10.9.1.0/24', 'dir', 'in');
      const s = openNetlinkXfrm({ netns: b });
      try {
        assert.equal(dumpPolicies(s, 1).map((m) => m.type), [NLMSG_DONE]);
      } finally {
        s.close();
      }
    });
  });
});

test('a member of XFRMNLGRP_POLICY receives the event of an ip -n policy add through start()', async () => {
  await withNetns(async (ns) => {
    const s = openNetlinkXfrm({ netns: ns, groups: [XFRMNLGRP_POLICY] });
    try {
      const event = new Promise<Msg[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no event within 5 s')), 5000);
        s.start((d) => { clearTimeout(timer); resolve(messages(d)); }, reject);
      });
      ip('-n', ns, 'xfrm', 'policy', 'add', 'src', '10.0.2.0/24', 'dst', '10.0.3.0/24', 'dir', 'fwd');
      const got = await event;
      assert.is(got[0].type, XFRM_MSG_NEWPOLICY);
      assert.is(got[0].pid, 0, 'not a reply to us');
    } finally {
      s.close();
    }
  });
});

test('1000 NEWPOLICY messages in ONE send are all applied and each is acked with error 0', async () => {
  await withNetns((ns) => {
    const s = openNetlinkXfrm({ netns: ns, sndbuf: 1 << 20, rcvbuf: 4 << 20 });
    try {
      const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => newPolicy(i + 1, i)));
      assert.is(s.send(batch), 184 * 1000);
      const acks = recvUntil(s, (m) => m.length >= 1000).filter((m) => m.type === NLMSG_ERROR);
      assert.is(acks.length, 1000);
      assert.ok(acks.every((m, i) => m.seq === i + 1 && m.error === 0 && m.pid === s.portId));
      assert.is(policyCount(ns), 1000);
      const list = ip('-n', ns, 'xfrm', 'policy', 'list');
      assert.match(list, 'src 10.1.0.1/32 dst 10.2.3.231/32 \n\tdir out priority 0');
    } finally {
      s.close();
    }
  });
});

test('acks overrunning a tiny receive buffer surface as ENOBUFS in onError; the kernel still applies every message', async () => {
  await withNetns(async (ns) => {
    const s = openNetlinkXfrm({ netns: ns, sndbuf: 1 << 20 });
    try {
      s.setBuffers(undefined, 1024);
      const errors: NativeError[] = [];
      let acked = 0;
      const settled = new Promise<void>((resolve) => {
        s.start((d) => { acked += messages(d).filter((m) => m.type === NLMSG_ERROR).length; }, (e) => {
          errors.push(e);
          setTimeout(resolve, 100);
        });
      });
      s.send(Buffer.concat(Array.from({ length: 2000 }, (_, i) => newPolicy(i + 1, i))));
      await settled;
      assert.is(errors.length, 1);
      assert.is(errors[0].code, 'ENOBUFS');
      assert.is(errors[0].syscall, 'recvmsg');
      assert.ok(acked < 2000, `acks were dropped (${acked} arrived)`);
      assert.is(policyCount(ns), 2000);
    } finally {
      s.close();
    }
  });
});

test('the host\'s own policy table is untouched by all of the above', () => {
  assert.is(ip('xfrm', 'policy', 'list'), hostPolicies);
});

test.run();
