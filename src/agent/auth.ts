// src/agent/auth.ts — who is calling and what they may do (layer: agent). Owns the roles file (JSON:
// certificate identity → roles), the identity of a gRPC caller (client certificate CN and SAN DNS names
// under mTLS; "insecure" on a unix socket or loopback with --insecure) and the role checks that answer
// PERMISSION_DENIED.
import { readFileSync } from 'node:fs';
import { status, type ServerUnaryCall } from '@grpc/grpc-js';

/** What every grpc-js server call offers (its ServerSurfaceCall type is not exported). */
export type ServerSurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

export type Role = 'read' | 'write' | 'keys';
export const ROLES: readonly Role[] = ['read', 'write', 'keys'];

/** identity → roles */
export type RolesMap = ReadonlyMap<string, ReadonlySet<Role>>;

export interface Caller {
  /** The identity the roles were found under (or the certificate's CN when none matched). */
  identity: string;
  roles: ReadonlySet<Role>;
}

/** A gRPC error with a status code, as grpc-js handlers pass to their callback / emit on streams. */
export class RpcError extends Error {
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
  }
}

/** Parses the roles file text: `{"controller.example": ["read","write","keys"], ...}`. Throws with what is wrong. */
export function parseRoles(text: string, file = 'roles file'): RolesMap {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${file}: expected an object from certificate identity to a list of roles`);
  const out = new Map<string, Set<Role>>();
  for (const [id, roles] of Object.entries(doc as Record<string, unknown>)) {
    if (!Array.isArray(roles)) throw new Error(`${file}: "${id}": expected a list of roles (${ROLES.join(', ')})`);
    const set = new Set<Role>();
    for (const r of roles) {
      if (!ROLES.includes(r as Role)) throw new Error(`${file}: "${id}": unknown role ${JSON.stringify(r)} (expected ${ROLES.join(', ')})`);
      set.add(r as Role);
    }
    out.set(id, set);
  }
  return out;
}

export function loadRoles(file: string): RolesMap {
  return parseRoles(readFileSync(file, 'utf8'), file);
}

/** Names a certificate presents: SAN DNS names first, then the subject CN. */
export function certificateNames(cert: { subject?: { CN?: string | string[] }; subjectaltname?: string } | undefined): string[] {
  if (!cert) return [];
  const names: string[] = [];
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.+?)\s*$/.exec(part);
    if (m) names.push(m[1]!);
  }
  const cn = cert.subject?.CN;
  if (Array.isArray(cn)) names.push(...cn);
  else if (cn) names.push(cn);
  return names;
}

export interface AuthPolicy {
  /** No TLS (unix socket or loopback with --insecure): every caller is "insecure". */
  insecure: boolean;
  roles: RolesMap;
}

/**
 * The caller of a call. mTLS: the union of the roles of every certificate name found in the roles file.
 * Insecure: the roles file's "insecure" entry if there is one, else every role (a local, trusted socket).
 */
export function callerOf(call: ServerSurfaceCall, policy: AuthPolicy): Caller {
  if (policy.insecure) {
    return { identity: 'insecure', roles: policy.roles.get('insecure') ?? new Set(ROLES) };
  }
  const cert = call.getAuthContext().sslPeerCertificate;
  const names = certificateNames(cert);
  const roles = new Set<Role>();
  let identity = '';
  for (const n of names) {
    const r = policy.roles.get(n);
    if (!r) continue;
    if (!identity) identity = n;
    for (const x of r) roles.add(x);
  }
  return { identity: identity || names[names.length - 1] || 'anonymous', roles };
}

/** Throws PERMISSION_DENIED unless the caller holds `role`. */
export function requireRole(caller: Caller, role: Role, what: string): void {
  if (!caller.roles.has(role)) {
    throw new RpcError(status.PERMISSION_DENIED, `${what} needs the '${role}' role; identity '${caller.identity}' has ${caller.roles.size ? [...caller.roles].join(', ') : 'no roles'}`);
  }
}
