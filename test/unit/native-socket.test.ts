// test/unit/native-socket.test.ts — the native socket addon without privileges (tier unit). Loads it, checks
// its errors (PF_KEY absent, missing netns, closed socket, wrong argument types) and round-trips netlink
// control messages (NLMSG_NOOP acks need no CAP_NET_ADMIN and touch no XFRM table) through send, sendEach,
// recvSync and the uv_poll loop, including a receive-buffer overrun reported as ENOBUFS.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AF_NETLINK, NETLINK_XFRM, PF_KEY, PF_KEY_V2, isNativeError, loadNative, nativeAddonPath, openNetlinkXfrm, openPfKey, strerror,
  type NativeError, type RawSocket,
} from '../../src/native/index.js';

const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;

/** struct nlmsghdr (<linux/netlink.h>) with no payload: len 16, type, flags, seq, pid 0. */
function nlmsg(type: number, flags: number, seq: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(16, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  return b;
}

interface Ack { seq: number; pid: number; error: number }

/** Splits datagrams into nlmsgs and keeps the NLMSG_ERROR ones (struct nlmsgerr: int error, then the header). */
function acks(datagrams: Buffer[]): Ack[] {
  const out: Ack[] = [];
  for (const d of datagrams) {
    for (let off = 0; off + 16 <= d.length;) {
      const len = d.readUInt32LE(off);
      if (d.readUInt16LE(off + 4) === NLMSG_ERROR) {
        out.push({ seq: d.readUInt32LE(off + 8), pid: d.readUInt32LE(off + 12), error: d.readInt32LE(off + 16) });
      }
      off += Math.max(16, (len + 3) & ~3);
    }
  }
  return out;
}

function caught(fn: () => unknown): NativeError {
  try { fn(); } catch (e) { if (isNativeError(e)) return e; throw e; }
  throw new Error('expected a native error');
}

/** Collects acks with recvSync until `n` arrived or a receive came back empty. */
function recvAcks(s: RawSocket, n: number): Ack[] {
  const got: Ack[] = [];
  while (got.length < n) {
    const batch = s.recvSync(2000);
    if (batch.length === 0) break;
    got.push(...acks(batch));
  }
  return got;
}

test('the addon loads from build/Release and was compiled with the same constants as the TypeScript side', () => {
  assert.match(nativeAddonPath(), /build\/Release\/keyfleet_native\.node$/);
  assert.equal(loadNative().constants, { AF_NETLINK, NETLINK_XFRM, PF_KEY, PF_KEY_V2 });
});

test('strerror gives the C library texts that setkey and ip print', () => {
  assert.is(strerror(17), 'File exists');
  assert.is(strerror(-105), 'No buffer space available');
  assert.is(strerror(2), 'No such file or directory');
});

test('opening PF_KEY on a kernel without af_key throws EAFNOSUPPORT from socket', () => {
  let s: RawSocket | undefined;
  try {
    s = openPfKey();
  } catch (e) {
    assert.ok(isNativeError(e), 'a Node-shaped error');
    const err = e as NativeError;
    assert.is(err.code, 'EAFNOSUPPORT');
    assert.is(err.syscall, 'socket');
    assert.is(err.errno, -97);
    assert.is(err.message, 'socket: Address family not supported by protocol (EAFNOSUPPORT)');
    return;
  }
  console.log('  (this kernel has af_key: PF_KEY opened, EAFNOSUPPORT not checked)');
  assert.is(s.portId, 0);
  s.close();
});

test('opening a socket in a netns that does not exist throws ENOENT from open with the path', () => {
  const err = caught(() => openNetlinkXfrm({ netns: `kf-missing-${process.pid}` }));
  assert.is(err.code, 'ENOENT');
  assert.is(err.syscall, 'open');
  assert.is(err.errno, -2);
  assert.is(err.path, `/run/netns/kf-missing-${process.pid}`);
  assert.match(err.message, /^open '\/run\/netns\/kf-missing-\d+': No such file or directory \(ENOENT\)$/);
  assert.is(caught(() => openNetlinkXfrm({ netns: '/nonexistent/ns/net' })).path, '/nonexistent/ns/net');
});

test('netns names that would leave /run/netns and bad option types are rejected before any system call', () => {
  assert.throws(() => openNetlinkXfrm({ netns: '../etc' }), RangeError);
  assert.throws(() => openNetlinkXfrm({ netns: '' }), TypeError);
  assert.throws(() => openNetlinkXfrm({ groups: [0] }), RangeError);
  assert.throws(() => openNetlinkXfrm({ rcvbuf: 1.5 }), TypeError);
});

test('a bound XFRM socket has an fd and a kernel-assigned port id, and NLMSG_NOOP with NLM_F_ACK is acked', () => {
  const s = openNetlinkXfrm();
  try {
    assert.ok(s.fd >= 0);
    assert.ok(s.portId > 0, 'nl_pid assigned by the kernel');
    assert.is(s.kind, 'netlink-xfrm');
    assert.is(s.send(nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 77)), 16);
    const got = recvAcks(s, 1);
    assert.equal(got, [{ seq: 77, pid: s.portId, error: 0 }]);
  } finally {
    s.close();
  }
});

test('one send of many concatenated messages is processed whole: one ack per message, in order', () => {
  const s = openNetlinkXfrm();
  try {
    const buf = Buffer.concat([1, 2, 3, 4, 5].map((seq) => nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, seq)));
    assert.is(s.send(buf), 80);
    assert.equal(recvAcks(s, 5).map((a) => [a.seq, a.error]), [[1, 0], [2, 0], [3, 0], [4, 0], [5, 0]]);
  } finally {
    s.close();
  }
});

test('sendEach sends one datagram per buffer and returns the count', () => {
  const s = openNetlinkXfrm();
  try {
    assert.is(s.sendEach([nlmsg(NLMSG_NOOP, 5, 10), nlmsg(NLMSG_NOOP, 5, 11), nlmsg(NLMSG_NOOP, 5, 12)]), 3);
    assert.is(s.sendEach([]), 0);
    assert.equal(recvAcks(s, 3).map((a) => a.seq), [10, 11, 12]);
  } finally {
    s.close();
  }
});

test('sendPacked sends the datagrams of one buffer by their lengths; recvPacked returns the queued replies in one buffer', () => {
  const s = openNetlinkXfrm();
  try {
    assert.equal(s.recvPacked().lengths.length, 0, 'nothing queued: empty, without waiting');
    const bytes = Buffer.concat([nlmsg(NLMSG_NOOP, 5, 20), nlmsg(NLMSG_NOOP, 5, 21), nlmsg(NLMSG_NOOP, 5, 22)]);
    assert.is(s.sendPacked(bytes, new Uint32Array([16, 16, 16])), 3);
    assert.is(s.sendPacked(bytes, new Uint32Array(0)), 0);
    // netlink acks a control message inside sendmsg: all three replies are queued when it returns
    const r = s.recvPacked();
    assert.is(r.lengths.length, 3);
    const parts: Buffer[] = [];
    for (let k = 0, off = 0; k < r.lengths.length; off += r.lengths[k++]!) parts.push(r.bytes.subarray(off, off + r.lengths[k]!));
    assert.is(r.bytes.length, parts.reduce((a, p) => a + p.length, 0));
    assert.equal(acks(parts).map((a) => [a.seq, a.error]), [[20, 0], [21, 0], [22, 0]]);
    assert.throws(() => s.sendPacked(bytes, new Uint32Array([16, 16, 17])), RangeError);
    assert.throws(() => s.sendPacked(bytes, [16] as unknown as Uint32Array), TypeError);
  } finally {
    s.close();
  }
});

test('recvSync returns an empty batch when nothing arrives before the timeout', () => {
  const s = openNetlinkXfrm();
  try {
    const t0 = Date.now();
    assert.equal(s.recvSync(50), []);
    assert.ok(Date.now() - t0 >= 45);
    assert.equal(s.recvSync(0), []);
  } finally {
    s.close();
  }
});

test('setBuffers sets both sizes (the kernel reports them doubled) and getBuffers reads them back', () => {
  const s = openNetlinkXfrm({ sndbuf: 65536 });
  try {
    assert.is(s.getBuffers().sndbuf, 131072);
    s.setBuffers(undefined, 98304);
    assert.equal(s.getBuffers(), { sndbuf: 131072, rcvbuf: 196608 });
  } finally {
    s.close();
  }
});

test('a netlink send larger than the send buffer fails with EMSGSIZE from sendmsg', () => {
  const s = openNetlinkXfrm({ sndbuf: 4096 });
  try {
    const err = caught(() => s.send(Buffer.alloc(64 * 1024)));
    assert.is(err.code, 'EMSGSIZE');
    assert.is(err.syscall, 'sendmsg');
  } finally {
    s.close();
  }
});

test('start delivers datagrams as exactly-sized Buffers, and close inside onData is safe and idempotent', async () => {
  const s = openNetlinkXfrm();
  const batches = await new Promise<Buffer[]>((resolve, reject) => {
    s.start((d) => { s.close(); s.close(); resolve(d); }, reject);
    s.send(nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 5));
  });
  assert.is(batches.length, 1);
  assert.is(batches[0].length, batches[0].readUInt32LE(0), 'Buffer length equals nlmsg_len');
  assert.equal(acks(batches), [{ seq: 5, pid: acks(batches)[0].pid, error: 0 }]);
  assert.ok(s.closed);
  assert.is(s.fd, -1);
});

test('a closed socket throws EBADF with the syscall of the attempted operation', () => {
  const s = openNetlinkXfrm();
  s.close();
  const err = caught(() => s.send(nlmsg(NLMSG_NOOP, 1, 1)));
  assert.is(err.code, 'EBADF');
  assert.is(err.syscall, 'sendmsg');
  assert.is(caught(() => s.recvSync(0)).syscall, 'recvmsg');
  assert.is(caught(() => s.start(() => {}, () => {})).code, 'EBADF');
  s.stop();
  s.close();
});

test('an overrun receive buffer is reported once through onError as ENOBUFS and polling goes on', async () => {
  const s = openNetlinkXfrm({ rcvbuf: 1024 });
  const msgs = Buffer.concat(Array.from({ length: 2000 }, (_, i) => nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, i + 1)));
  const errors: NativeError[] = [];
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ack after the ENOBUFS error')), 5000);
    s.start((d) => {
      const got = acks(d);
      received += got.length;
      // Polling continues after the error: an ack sent once the queue has drained still arrives.
      if (got.some((a) => a.seq === 9999)) { clearTimeout(timer); resolve(); }
    }, (e) => {
      errors.push(e);
      // Until the queue drains below half of rcvbuf the socket stays congested and drops silently
      // (net/netlink/af_netlink.c netlink_overrun / netlink_rcv_wake), so send a little later.
      setTimeout(() => s.send(nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 9999)), 50);
    });
    s.send(msgs);
  });
  s.close();
  assert.is(errors.length, 1);
  assert.is(errors[0].code, 'ENOBUFS');
  assert.is(errors[0].errno, -105);
  assert.is(errors[0].syscall, 'recvmsg');
  assert.ok(received > 1 && received < 2001, `some acks arrived, the rest were dropped (${received})`);
});

test('an exception thrown by onData reaches uncaughtException instead of crashing in native code', async () => {
  const s = openNetlinkXfrm();
  const seen = await new Promise<unknown>((resolve) => {
    process.once('uncaughtException', resolve);
    s.start(() => { throw new Error('thrown from onData'); }, () => {});
    s.send(nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 1));
  });
  s.close();
  assert.instance(seen, Error);
  assert.is((seen as Error).message, 'thrown from onData');
});

test('wrong argument types reach the raw addon as TypeErrors, not crashes', () => {
  const raw = loadNative();
  const open = raw.open as unknown as (...a: unknown[]) => unknown;
  assert.throws(() => open('16', 6), TypeError);
  assert.throws(() => open(AF_NETLINK, NETLINK_XFRM, 42), TypeError);
  const s = raw.open(AF_NETLINK, NETLINK_XFRM);
  const loose = s as unknown as Record<string, (...a: unknown[]) => unknown>;
  try {
    assert.throws(() => loose.send.call(s, 'text'), TypeError);
    assert.throws(() => loose.sendEach.call(s, [Buffer.alloc(16), 'x']), TypeError);
    assert.throws(() => loose.start.call(s, 1, 2), TypeError);
    assert.throws(() => loose.recvSync.call(s, 'soon'), TypeError);
    assert.throws(() => loose.setBuffers.call(s), TypeError);
    const Ctor = (s as unknown as { constructor: new () => unknown }).constructor;
    assert.throws(() => new Ctor(), /use open\(\)/);
  } finally {
    s.close();
  }
});

test('a started but unref()ed socket does not keep the process alive; a ref()ed one does', () => {
  const mod = fileURLToPath(new URL('../../src/native/index.js', import.meta.url));
  const script = (ref: boolean) => `import { openNetlinkXfrm } from ${JSON.stringify(mod)};
    const s = openNetlinkXfrm(); s.start(() => {}, () => {}); s${ref ? '' : '.unref()'};
    ${ref ? 'setTimeout(() => { console.log("alive"); s.close(); }, 300).unref();' : ''}`;
  const run = (ref: boolean) => spawnSync(process.execPath, ['--input-type=module', '-e', script(ref)], { encoding: 'utf8', timeout: 10000 });
  const unrefd = run(false);
  assert.is(unrefd.status, 0, unrefd.stderr);
  const refd = run(true);
  assert.is(refd.status, 0, refd.stderr);
  assert.is(refd.stdout.trim(), 'alive');
});

test.run();
