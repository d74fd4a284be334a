// src/index.ts — the package's public API (layer: package index). Re-exports what programs embed: the
// agent client library (src/client) and the agent server (src/agent). Nothing inside src/ imports this file.
export {
  AgentClient, AgentCallError, forEachAgent, tlsFiles, EntryKind, EventType, OperationStatus, IpsecProtocol, Mode, Direction,
  PolicyAction, ChangeAction,
  type ConnectOptions, type FleetResult, type ApplyOptions, type ApplyResponse, type Entry, type StatsResponse,
  type WatchRequest, type WatchEvent, type OperationResult, type Batch, type Operation, type PlanResponse, type SyncResponse,
  type AllocSpiResponse,
} from './client/index.js';
export { startAgent, type Agent, type AgentOptions } from './agent/server.js';
export { parseRoles, loadRoles, type Role, type RolesMap } from './agent/auth.js';
