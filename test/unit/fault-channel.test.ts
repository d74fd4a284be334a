// test/unit/fault-channel.test.ts — netlink faults the real kernel cannot be made to produce on demand, against
// a scripted fake kernel: a batch the socket refuses as too large (EMSGSIZE) is split and resent; one message
// that cannot fit is reported; an overrun (ENOBUFS) fails sent batches as "outcome unknown", resends dumps
// under a new sequence number and holds new sends until the receive queue has drained; XfrmKernel.dump
// retries a dump flagged NLM_F_DUMP_INTR and gives up with EINTR when it stays inconsistent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetlinkChannel, NLMSG_ERROR, NLMSG_DONE, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP_INTR, splitMessages, type Transport } from '../../src/kernel/channel.js';
import { KernelError } from '../../src/kernel/errors.js';
import { XfrmKernel, setAckOnLast } from '../../src/kernel/xfrm.js';
import { parseSetkey } from '../../src/wasm/setkey-parse.js';
import { encodeXfrm } from '../../src/wasm/xfrm-codec.js';

const PID = 777;

/** One netlink message: header fields, then payload. */
function nl(type: number, flags: number, seq: number, payload = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(16 + ((payload.length + 3) & ~3));
  out.writeUInt32LE(16 + payload.length, 0);
  out.writeUInt16LE(type, 4); out.writeUInt16LE(flags, 6); out.writeUInt32LE(seq, 8); out.writeUInt32LE(PID, 12);
  payload.copy(out, 16);
  return out;
}
/** NLMSG_ERROR for `seq` (errno 0: the ack). */
function ack(seq: number, errno = 0): Buffer {
  const p = Buffer.alloc(20);
  p.writeInt32LE(-errno, 0);
  return nl(NLMSG_ERROR, 0x100 /* capped */, seq, p);
}

type Step = Buffer[] | Error | 'throw-emsgsize';
/** Each send is answered by script(sent, n) (n counts sends); errors arrive as the socket's error callback. */
class ScriptedKernel implements Transport {
  readonly portId = PID;
  sends: Buffer[] = [];
  #data: ((d: Buffer[]) => void) | null = null;
  #err: ((e: Error) => void) | null = null;
  constructor(private readonly script: (sent: Buffer, n: number) => Step) {}
  send(buf: Buffer): number {
    const step = this.script(buf, this.sends.length);
    if (step === 'throw-emsgsize') throw Object.assign(new Error('sendmsg: Message too long'), { code: 'EMSGSIZE', syscall: 'sendmsg' });
    this.sends.push(Buffer.from(buf));
    setImmediate(() => (step instanceof Error ? this.#err?.(step) : this.#data?.(step)));
    return buf.length;
  }
  start(d: (d: Buffer[]) => void, e: (e: Error) => void): void { this.#data = d; this.#err = e; }
  stop(): void { this.#data = null; }
  close(): void {}
}
const enobufs = (): Error => Object.assign(new Error('recvmsg: No buffer space available'), { code: 'ENOBUFS' });

/** A batch of n dummy messages with seqs first.., ack on the last. */
function batch(first: number, n: number): Buffer {
  const b = Buffer.concat(Array.from({ length: n }, (_, i) => nl(19, 1, first + i, Buffer.alloc(100))));
  setAckOnLast(b);
  return b;
}
/** Acks every message that asks for one; errno 17 for the seqs in `fail`. */
const answer = (sent: Buffer, fail: Set<number>): Buffer[] =>
  [Buffer.concat(splitMessages(sent).filter((m) => fail.has(m.seq) || m.flags & NLM_F_ACK).map((m) => ack(m.seq, fail.has(m.seq) ? 17 : 0)))];

test('EMSGSIZE: a batch larger than the socket accepts is sent in halves, each ending in an ack; failures of every part are kept', async () => {
  const k = new ScriptedKernel((sent) => (sent.length > 600 ? 'throw-emsgsize' : answer(sent, new Set([1003, 1015]))));
  const ch = new NetlinkChannel(k);
  const failures = await ch.transact(batch(1000, 20), 1000, 20, 'spdadd');
  assert.equal([...failures.keys()].sort(), [1003, 1015]);
  assert.ok(k.sends.length >= 4 && k.sends.every((s) => s.length <= 600), `${k.sends.length} parts`);
  assert.equal(k.sends.flatMap((s) => splitMessages(s).map((m) => m.seq)), Array.from({ length: 20 }, (_, i) => 1000 + i), 'every message once, in order');
  for (const s of k.sends) { const m = splitMessages(s); assert.ok(m[m.length - 1]!.flags & NLM_F_ACK, 'each part ends in an ack'); }
  ch.close();
});

test('EMSGSIZE: one message that cannot fit is reported as a KernelError, nothing sent', async () => {
  const k = new ScriptedKernel(() => 'throw-emsgsize');
  const ch = new NetlinkChannel(k);
  try {
    await ch.transact(batch(5, 1), 5, 1, 'spdadd');
    assert.unreachable('must reject');
  } catch (e) {
    assert.instance(e, KernelError);
    assert.is((e as KernelError).code, 'EMSGSIZE');
    assert.match((e as KernelError).message, 'one message of 116 bytes');
  }
  assert.is(k.sends.length, 0);
  ch.close();
});

test('ENOBUFS: a sent batch fails as "outcome unknown"; the next request waits until the socket is quiet, then goes out', async () => {
  const k = new ScriptedKernel((sent, n) => (n === 0 ? enobufs() : answer(sent, new Set())));
  const ch = new NetlinkChannel(k);
  try {
    await ch.transact(batch(100, 3), 100, 3, 'spdadd');
    assert.unreachable('must reject');
  } catch (e) {
    assert.is((e as KernelError).code, 'ENOBUFS');
    assert.match((e as KernelError).message, 'the outcome of the 3 operation(s) of this batch is unknown');
  }
  const t = Date.now();
  const r = await ch.transact(batch(200, 2), 200, 2, 'spdadd');
  assert.is(r.size, 0);
  assert.ok(Date.now() - t >= 15, 'held back until the queue drained');
  ch.close();
});

test('ENOBUFS: a dump is sent again under a new sequence number and stale parts of the first answer are ignored', async () => {
  let firstSeq = 0;
  const k = new ScriptedKernel((sent, n) => {
    const seq = splitMessages(sent)[0]!.seq;
    if (n === 0) { firstSeq = seq; return enobufs(); }
    // The stale tail of the first dump arrives with the new answer.
    return [Buffer.concat([nl(19, NLM_F_MULTI, firstSeq, Buffer.alloc(8)), nl(19, NLM_F_MULTI, seq, Buffer.alloc(8)), nl(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4))])];
  });
  const ch = new NetlinkChannel(k);
  const seq = ch.allocSeq(1);
  const r = await ch.request(nl(21, 0x301, seq), seq, 'dump');
  assert.is(k.sends.length, 2);
  assert.is.not(splitMessages(k.sends[1]!)[0]!.seq, firstSeq);
  assert.is(r.count, 1, 'only the new answer');
  ch.close();
});

test('ENOBUFS on every attempt: the dump fails after three resends instead of looping', async () => {
  const k = new ScriptedKernel(() => enobufs());
  const ch = new NetlinkChannel(k);
  const seq = ch.allocSeq(1);
  try {
    await ch.request(nl(21, 0x301, seq), seq, 'dump');
    assert.unreachable('must reject');
  } catch (e) {
    assert.is((e as KernelError).code, 'ENOBUFS');
  }
  assert.is(k.sends.length, 4);
  ch.close();
});

// Real NEWPOLICY payloads for the dump tests: three policies encoded by the wasm codec.
function policyMessages(seq: number, flags: number): Buffer {
  const p = parseSetkey(Buffer.from('spdadd 10.0.0.1 10.0.0.2 any -P out none;\nspdadd 10.0.0.3 10.0.0.4 any -P out none;\nspdadd 10.0.0.5 10.0.0.6 any -P fwd discard;\n'), { file: 't', rfc: false });
  const enc = encodeXfrm(0, p.records, { seqBase: seq });
  const msgs = splitMessages(enc.bytes).map((m) => { const b = Buffer.from(m.bytes); b.writeUInt16LE(flags, 6); b.writeUInt32LE(seq, 8); b.writeUInt32LE(PID, 12); return b; });
  return Buffer.concat(msgs);
}

test('XfrmKernel.dump retries a dump flagged NLM_F_DUMP_INTR and returns the consistent one', async () => {
  const k = new ScriptedKernel((sent, n) => {
    const seq = splitMessages(sent)[0]!.seq;
    // First answer: one policy, flagged inconsistent (the table changed under the dump); then all three.
    const flags = NLM_F_MULTI | (n === 0 ? NLM_F_DUMP_INTR : 0);
    const body = n === 0 ? splitMessages(policyMessages(seq, flags))[0]!.bytes : policyMessages(seq, flags);
    return [Buffer.concat([body, nl(NLMSG_DONE, flags, seq, Buffer.alloc(4))])];
  });
  const x = new XfrmKernel(new NetlinkChannel(k));
  const d = await x.dump('policy');
  assert.is(k.sends.length, 2);
  assert.is(d.end - d.first, 3);
  x.close();
});

test('XfrmKernel.dump gives up with EINTR when every attempt is interrupted', async () => {
  const k = new ScriptedKernel((sent) => {
    const seq = splitMessages(sent)[0]!.seq;
    return [Buffer.concat([policyMessages(seq, NLM_F_MULTI | NLM_F_DUMP_INTR), nl(NLMSG_DONE, NLM_F_MULTI | NLM_F_DUMP_INTR, seq, Buffer.alloc(4))])];
  });
  const x = new XfrmKernel(new NetlinkChannel(k));
  try {
    await x.dump('policy');
    assert.unreachable('must reject');
  } catch (e) {
    assert.is((e as KernelError).code, 'EINTR');
    assert.match((e as KernelError).message, 'NLM_F_DUMP_INTR');
  }
  assert.is(k.sends.length, 4);
  x.close();
});

test.run();
