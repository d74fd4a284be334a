// src/agent/audit.ts — the agent's audit log (layer: agent). Owns one JSON line per mutation: who, when,
// what, result. Key material never reaches it: callers pass summaries (counts, lines, errno codes), not
// request text.
import { appendFileSync } from 'node:fs';

export interface AuditEntry {
  who: string;
  peer: string;
  method: string;
  what: Record<string, unknown>;
  result: Record<string, unknown>;
}

export interface AuditLog {
  write(e: AuditEntry): void;
}

/** Appends JSON lines to `file` (synchronously, so an entry is on disk before the call answers). */
export function fileAuditLog(file: string): AuditLog {
  return {
    write(e) {
      appendFileSync(file, `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`, { mode: 0o600 });
    },
  };
}

export const nullAuditLog: AuditLog = { write() { /* audit disabled */ } };
