// src/native/addon-types.ts — the raw surface of build/Release/keyfleet_native.node (layer: native), declared
// once. native/keyfleet-native.cc implements exactly this; src/native/index.ts is the only importer and
// validates every argument before it crosses, because the C++ side trusts them (beyond cheap type checks).

/** A system error as the addon throws it or passes to onError (Node's shape: errno is negative). */
export interface NativeError extends Error {
  /** Negative errno, like Node's and libuv's (e.g. -105 for ENOBUFS). */
  errno: number;
  /** Symbolic errno name: 'ENOBUFS', 'EAFNOSUPPORT', 'ENOENT', ... */
  code: string;
  /** The failing call: 'socket', 'open', 'setns', 'bind', 'setsockopt', 'sendmsg', 'sendmmsg', 'recvmsg', 'poll', ... */
  syscall: string;
  /** For syscall 'open': the netns file that could not be opened. */
  path?: string;
  /** For syscall 'sendmmsg': how many datagrams went out before the failure. */
  sent?: number;
}

/** The wrapped fd. Methods throw NativeError (EBADF once closed) or TypeError on wrong argument types. */
export interface RawNativeSocket {
  /** The fd, -1 once closed. */
  readonly fd: number;
  /** Netlink port id the kernel assigned at bind (0 for PF_KEY). */
  readonly portId: number;
  /** One sendmsg(2) of the whole buffer; bytes sent. */
  send(buf: Uint8Array): number;
  /** One datagram per buffer (sendmmsg(2)); count sent. */
  sendEach(bufs: readonly Uint8Array[]): number;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  /** NETLINK_LISTEN_ALL_NSID; afterwards every received Buffer carries `nsid` (-1: own netns). */
  listenAllNsid(): void;
  /** Negative leaves that size unchanged. */
  setBuffers(sndbuf: number, rcvbuf: number): void;
  getBuffers(): { sndbuf: number; rcvbuf: number };
  start(onData: (datagrams: Buffer[]) => void, onError: (err: NativeError) => void): void;
  stop(): void;
  /** timeoutMs < 0 waits forever. */
  recvSync(timeoutMs: number): Buffer[];
  /** Datagrams back to back in one buffer (lengths[i] bytes each); one sendmmsg(2) per 1024; count sent. */
  sendPacked(buf: Uint8Array, lengths: Uint32Array): number;
  /** Queued datagrams now (no wait), up to about maxBytes, in one buffer: [bytes, lengths]. */
  recvPacked(maxBytes: number): [Buffer, Uint32Array];
  ref(): void;
  unref(): void;
  close(): void;
}

export interface RawAddon {
  open(family: number, protocol: number, netns?: string): RawNativeSocket;
  /** The C library's strerror text for a positive errno. */
  strerror(errno: number): string;
  /** The header values the addon was compiled with, to cross-check the TypeScript constants. */
  readonly constants: {
    readonly AF_NETLINK: number;
    readonly NETLINK_XFRM: number;
    readonly PF_KEY: number;
    readonly PF_KEY_V2: number;
  };
}
