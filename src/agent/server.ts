// src/agent/server.ts — `keyfleet agent`'s server (layer: agent). Owns the listening policy (plaintext only
// on a unix socket or loopback with an explicit insecure flag; otherwise TLS with required, CA-verified
// client certificates), the gRPC server (AgentService, grpc.health.v1, server reflection), the kernel
// backend and event hub of the managed netns, the metrics endpoint and orderly shutdown.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type http from 'node:http';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { XfrmKernel } from '../kernel/xfrm.js';
import { AGENT_SERVICE_DEFINITION } from './watch-wire.js';
import { makeService, DEFAULT_LIMITS, type AgentLimits } from './service.js';
import { EventHub, type EventHubOptions } from './events.js';
import { fileAuditLog, nullAuditLog, type AuditLog } from './audit.js';
import { AgentMetrics } from './metrics.js';
import type { RolesMap } from './auth.js';

export interface AgentOptions {
  /** HOST:PORT (port 0: any free port) or unix:/path. */
  listen: string;
  /** Plaintext; refused unless `listen` is a unix socket or a loopback address. */
  insecure?: boolean;
  tls?: { cert: Buffer; key: Buffer; clientCa: Buffer };
  roles: RolesMap;
  netns?: string;
  auditLog?: string | AuditLog;
  /** HOST:PORT for Prometheus /metrics. */
  metricsListen?: string;
  limits?: Partial<AgentLimits>;
  /** Largest gRPC message accepted (bytes). */
  maxMessageBytes?: number;
  events?: Omit<EventHubOptions, 'netns'>;
}

export interface Agent {
  /** What the server is bound to: HOST:PORT with the real port, or unix:/path. */
  address: string;
  port: number;
  metricsPort: number | null;
  hub: EventHub;
  close(): Promise<void>;
}

export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../proto');

/** Splits HOST:PORT ([v6]:port accepted). */
export function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`'${s}': expected HOST:PORT`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`'${s}': port out of range`);
  return { host: m[1]!, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Checks the listening policy; throws a message for the user when it is not met. */
export function checkListenPolicy(o: Pick<AgentOptions, 'listen' | 'insecure' | 'tls'>): void {
  if (o.tls) return;
  if (!o.insecure) throw new Error('TLS is required: give --tls-cert, --tls-key and --client-ca (or --insecure on a unix socket or loopback)');
  if (o.listen.startsWith('unix:')) return;
  const { host } = splitHostPort(o.listen);
  if (!isLoopback(host)) throw new Error(`--insecure is allowed only on a unix socket or a loopback address, not ${host}`);
}

export async function startAgent(o: AgentOptions): Promise<Agent> {
  checkListenPolicy(o);
  const hub = new EventHub({ ...(o.netns ? { netns: o.netns } : {}), ...(o.events ?? {}) });
  hub.start();
  let kernel: XfrmKernel | null = null;
  const getKernel = (): XfrmKernel => (kernel ??= XfrmKernel.open(o.netns ? { netns: o.netns } : {}));
  const metrics = new AgentMetrics(() => ({ events: hub.events, gaps: hub.gaps, subscribers: hub.subscribers }));
  const audit = typeof o.auditLog === 'string' ? fileAuditLog(o.auditLog) : o.auditLog ?? nullAuditLog;
  const maxMsg = o.maxMessageBytes ?? 64 << 20;
  const server = new Server({ 'grpc.max_receive_message_length': maxMsg, 'grpc.max_send_message_length': maxMsg });
  server.addService(AGENT_SERVICE_DEFINITION, makeService({
    netns: o.netns ?? '', auth: { insecure: !o.tls, roles: o.roles }, kernel: getKernel, hub, audit,
    limits: { ...DEFAULT_LIMITS, ...(o.limits ?? {}) }, metrics,
  }));
  const health = new HealthImplementation({ '': 'SERVING', 'keyfleet.v1.AgentService': 'SERVING' });
  health.addToServer(server as unknown as Parameters<HealthImplementation['addToServer']>[0]);
  const pkg = loadSync(path.join(PROTO_DIR, 'keyfleet/v1/agent.proto'), { includeDirs: [PROTO_DIR] });
  new ReflectionService(pkg).addToServer(server);

  const creds = o.tls
    ? ServerCredentials.createSsl(o.tls.clientCa, [{ cert_chain: o.tls.cert, private_key: o.tls.key }], true)
    : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(o.listen, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  let address = o.listen;
  if (!o.listen.startsWith('unix:')) {
    const { host } = splitHostPort(o.listen);
    address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  let metricsServer: http.Server | null = null;
  let metricsPort: number | null = null;
  if (o.metricsListen) {
    const { host, port: mp } = splitHostPort(o.metricsListen);
    const m = await metrics.listen(host, mp);
    metricsServer = m.server;
    metricsPort = m.port;
  }
  return {
    address, port, metricsPort, hub,
    async close() {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
      hub.close();
      kernel?.close();
      if (metricsServer) await new Promise((r) => metricsServer!.close(r));
    },
  };
}

/** Reads the TLS files named on the command line. */
export function readTls(cert: string, key: string, clientCa: string): NonNullable<AgentOptions['tls']> {
  return { cert: readFileSync(cert), key: readFileSync(key), clientCa: readFileSync(clientCa) };
}
