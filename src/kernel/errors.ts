// src/kernel/errors.ts — the one error family (layer: kernel). Owns KernelError (a kernel refused an
// operation: errno, code, op, seq, extack) and ConfigError (input rejected before anything was sent:
// diagnostics with file:line:col). Errno names come from os.constants.errno, never a hand table.
import { constants } from 'node:os';

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

/** The symbolic name of a positive errno value ('EEXIST'), or `E<n>` when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

let strerrorImpl: ((errno: number) => string) | null = null;

/** Installs the C library's strerror (from the native addon) so messages match setkey/ip byte for byte. */
export function setStrerror(fn: (errno: number) => string): void {
  strerrorImpl = fn;
}

/** glibc's text for an errno ("File exists"), as setkey and ip print it. */
export function strerror(errno: number): string {
  const e = Math.abs(errno);
  if (strerrorImpl) return strerrorImpl(e);
  return FALLBACK_TEXT[errnoName(e)] ?? `Unknown error ${e}`;
}

// Used only when the native addon is not loaded (pure unit tests): the few glibc texts tests meet.
const FALLBACK_TEXT: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', ESRCH: 'No such process',
  EINVAL: 'Invalid argument', EEXIST: 'File exists', ENOBUFS: 'No buffer space available',
  ENOSYS: 'Function not implemented', EAFNOSUPPORT: 'Address family not supported by protocol',
  EPROTONOSUPPORT: 'Protocol not supported', ENOMEM: 'Cannot allocate memory', EMSGSIZE: 'Message too long',
  EOPNOTSUPP: 'Operation not supported', EBUSY: 'Device or resource busy', EAGAIN: 'Resource temporarily unavailable',
  EINTR: 'Interrupted system call',
};

export class KernelError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly op: string;
  readonly seq: number;
  readonly extack: string | undefined;
  constructor(errno: number, op: string, seq = 0, extack?: string) {
    const e = Math.abs(errno);
    super(`${op}: ${strerror(e)}${extack ? ` (${extack})` : ''}`);
    this.name = 'KernelError';
    this.errno = e;
    this.code = errnoName(e);
    this.op = op;
    this.seq = seq;
    this.extack = extack;
  }
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  line: number;
  column: number;
  message: string;
  expected?: string;
  excerpt?: string;
}

export class ConfigError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    const first = diagnostics[0];
    super(first ? `${first.file}:${first.line}:${first.column}: ${first.message}${first.expected ? ` (expected ${first.expected})` : ''}` : 'invalid input');
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}
