// src/agent/metrics.ts — the agent's Prometheus metrics (layer: agent). Owns the prom-client registry
// (requests by method and status, operations applied/failed, events, gaps, subscribers, process metrics)
// and the plain-HTTP /metrics endpoint on --metrics-listen.
import http from 'node:http';
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #requests: Histogram<'method' | 'code'>;
  readonly #ops: Counter<'result'>;
  readonly #subscribers: Gauge;

  constructor(hubStats: () => { events: bigint; gaps: bigint; subscribers: number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyfleet_agent_' });
    this.#requests = new Histogram({
      name: 'keyfleet_agent_request_seconds', help: 'Unary request latency by method and gRPC status',
      labelNames: ['method', 'code'], registers: [this.registry], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
    });
    this.#ops = new Counter({ name: 'keyfleet_agent_operations_total', help: 'Operations of Apply batches by result', labelNames: ['result'], registers: [this.registry] });
    this.#subscribers = new Gauge({ name: 'keyfleet_agent_watch_subscribers', help: 'Open Watch streams', registers: [this.registry],
      collect() { this.set(hubStats().subscribers); } });
    new Gauge({ name: 'keyfleet_agent_events_total', help: 'Kernel events received (a counter; a gauge here because it is read from the hub)', registers: [this.registry],
      collect() { this.set(Number(hubStats().events)); } });
    new Gauge({ name: 'keyfleet_agent_event_gaps_total', help: 'GAP events (kernel ENOBUFS or subscriber overflow)', registers: [this.registry],
      collect() { this.set(Number(hubStats().gaps)); } });
  }

  observe(method: string, code: string, t0: bigint): void {
    this.#requests.observe({ method, code }, Number(process.hrtime.bigint() - t0) / 1e9);
  }

  countOperations(applied: number, failed: number): void {
    if (applied) this.#ops.inc({ result: 'applied' }, applied);
    if (failed) this.#ops.inc({ result: 'failed' }, failed);
  }

  setSubscribers(n: number): void {
    this.#subscribers.set(n);
  }

  /** Serves GET /metrics on host:port; resolves with the bound port. */
  listen(host: string, port: number): Promise<{ server: http.Server; port: number }> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') { res.writeHead(404).end('not found\n'); return; }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e) => res.writeHead(500).end(`${(e as Error).message}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve({ server, port: (server.address() as { port: number }).port }));
    });
  }
}
