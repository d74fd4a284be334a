// Unit tests for src/kernel/channel.ts against a scripted fake kernel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetlinkChannel, NLMSG_ERROR, NLMSG_DONE, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_ACK_TLVS, NLM_F_CAPPED, parseError, splitMessages, type Transport } from '../../src/kernel/channel.js';
import { KernelError } from '../../src/kernel/errors.js';
import { setAckOnLast } from '../../src/kernel/xfrm.js';

const PORT = 4242;

function msg(type: number, flags: number, seq: number, payload: Buffer = Buffer.alloc(0), pid = PORT): Buffer {
  const len = 16 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt32LE(len, 0); b.writeUInt16LE(type, 4); b.writeUInt16LE(flags, 6); b.writeUInt32LE(seq, 8); b.writeUInt32LE(pid, 12);
  payload.copy(b, 16);
  return b;
}

function errMsg(seq: number, errno: number, extack?: string): Buffer {
  const orig = msg(19, 0, seq).subarray(0, 16);
  const head = Buffer.alloc(4); head.writeInt32LE(-errno, 0);
  let tlv = Buffer.alloc(0);
  if (extack) {
    const s = Buffer.from(extack + '\0');
    tlv = Buffer.alloc((4 + s.length + 3) & ~3);
    tlv.writeUInt16LE(4 + s.length, 0); tlv.writeUInt16LE(1, 2); s.copy(tlv, 4);
  }
  return msg(NLMSG_ERROR, extack ? NLM_F_ACK_TLVS | NLM_F_CAPPED : NLM_F_CAPPED, seq, Buffer.concat([head, orig, tlv]));
}

/** A fake kernel: answers each sent buffer with what `script` returns for it. */
class FakeTransport implements Transport {
  readonly portId = PORT;
  sent: Buffer[] = [];
  #onData: ((d: Buffer[]) => void) | null = null;
  #onError: ((e: Error) => void) | null = null;
  constructor(private script: (sent: Buffer) => Buffer[] | Error) {}
  send(buf: Buffer): number {
    this.sent.push(Buffer.from(buf));
    const r = this.script(buf);
    setImmediate(() => (r instanceof Error ? this.#onError?.(r) : this.#onData?.(r)));
    return buf.length;
  }
  start(onData: (d: Buffer[]) => void, onError: (e: Error) => void): void { this.#onData = onData; this.#onError = onError; }
  stop(): void { this.#onData = null; }
  close(): void { /* nothing */ }
  emit(d: Buffer[]): void { this.#onData?.(d); }
}

test('transact resolves with the failures of a batch, keyed by sequence number', async () => {
  const t = new FakeTransport((sent) => {
    const seqs = splitMessages(sent).map((m) => m.seq);
    return [Buffer.concat([errMsg(seqs[1]!, 17, 'policy exists'), errMsg(seqs[2]!, 0)])];
  });
  const ch = new NetlinkChannel(t);
  const first = ch.allocSeq(3);
  const batch = Buffer.concat([msg(19, 1, first), msg(19, 1, first + 1), msg(19, 1 | NLM_F_ACK, first + 2)]);
  const failures = await ch.transact(batch, first, 3, 'spdadd');
  assert.is(failures.size, 1);
  const e = failures.get(first + 1)!;
  assert.ok(e instanceof KernelError);
  assert.is(e.code, 'EEXIST');
  assert.is(e.extack, 'policy exists');
  assert.is(e.message, 'spdadd: File exists (policy exists)');
  ch.close();
});

test('request gathers a multipart dump until NLMSG_DONE without copying messages apart', async () => {
  const t = new FakeTransport((sent) => {
    const seq = splitMessages(sent)[0]!.seq;
    return [
      Buffer.concat([msg(19, NLM_F_MULTI, seq, Buffer.alloc(8, 1)), msg(19, NLM_F_MULTI, seq, Buffer.alloc(8, 2))]),
      Buffer.concat([msg(19, NLM_F_MULTI, seq, Buffer.alloc(8, 3)), msg(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4))]),
    ];
  });
  const ch = new NetlinkChannel(t);
  const seq = ch.allocSeq();
  const r = await ch.request(msg(21, 0x301, seq), seq);
  assert.is(r.count, 3);
  assert.is(r.chunks.length, 2);
  assert.is(r.chunks[0]!.length, 48);
  assert.is(r.interrupted, false);
  ch.close();
});

test('request reports an interrupted dump', async () => {
  const t = new FakeTransport((sent) => {
    const seq = splitMessages(sent)[0]!.seq;
    return [Buffer.concat([msg(19, NLM_F_MULTI | NLM_F_DUMP_INTR, seq), msg(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4))])];
  });
  const ch = new NetlinkChannel(t);
  const seq = ch.allocSeq();
  const r = await ch.request(msg(21, 0x301, seq), seq);
  assert.is(r.interrupted, true);
  ch.close();
});

test('request rejects with a KernelError when the kernel answers NLMSG_ERROR', async () => {
  const t = new FakeTransport((sent) => [errMsg(splitMessages(sent)[0]!.seq, 3)]);
  const ch = new NetlinkChannel(t);
  const seq = ch.allocSeq();
  try {
    await ch.request(msg(18, 1, seq), seq, 'get');
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.ok(e instanceof KernelError);
    assert.is((e as KernelError).code, 'ESRCH');
  }
  ch.close();
});

test('an overrun (ENOBUFS) fails pending requests instead of hanging', async () => {
  const enobufs = Object.assign(new Error('recvmsg: No buffer space available'), { code: 'ENOBUFS' });
  let overruns = 0;
  const t = new FakeTransport(() => enobufs);
  const ch = new NetlinkChannel(t, { onOverrun: () => { overruns++; } });
  const seq = ch.allocSeq();
  try {
    await ch.transact(msg(19, 1 | NLM_F_ACK, seq), seq, 1);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.is((e as NodeJS.ErrnoException).code, 'ENOBUFS');
  }
  assert.is(overruns, 1);
  ch.close();
});

test('messages that answer no request go to onEvent', async () => {
  const events: number[] = [];
  const t = new FakeTransport(() => []);
  const ch = new NetlinkChannel(t, { onEvent: (m) => events.push(m.type) });
  const seq = ch.allocSeq();
  const p = ch.transact(msg(19, 1 | NLM_F_ACK, seq), seq, 1);
  t.emit([Buffer.concat([msg(19, 0, 0, Buffer.alloc(4), 0), errMsg(seq, 0)])]);
  await p;
  assert.equal(events, [19]);
  ch.close();
});

test('a silent kernel makes pending requests fail with ETIMEDOUT', async () => {
  const t = new FakeTransport(() => []);
  const ch = new NetlinkChannel(t, { timeoutMs: 50 });
  const seq = ch.allocSeq();
  try {
    await ch.request(msg(21, 0x301, seq), seq);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.is((e as KernelError).code, 'ETIMEDOUT');
  }
  ch.close();
});

test('parseError reads the errno and the extack message of an uncapped error', () => {
  const orig = msg(19, 1, 7, Buffer.alloc(12));
  const head = Buffer.alloc(4); head.writeInt32LE(-22, 0);
  const s = Buffer.from('Invalid prefix\0');
  const tlv = Buffer.alloc((4 + s.length + 3) & ~3); tlv.writeUInt16LE(4 + s.length, 0); tlv.writeUInt16LE(1, 2); s.copy(tlv, 4);
  const m = splitMessages(msg(NLMSG_ERROR, NLM_F_ACK_TLVS, 7, Buffer.concat([head, orig, tlv])))[0]!;
  assert.equal(parseError(m), { errno: 22, extack: 'Invalid prefix' });
});

test('setAckOnLast sets NLM_F_ACK on the last message only', () => {
  const b = Buffer.concat([msg(19, 1, 1, Buffer.alloc(5)), msg(19, 1, 2), msg(19, 1, 3, Buffer.alloc(2))]);
  setAckOnLast(b);
  assert.equal(splitMessages(b).map((m) => m.flags), [1, 1, 1 | NLM_F_ACK]);
});

test.run();
