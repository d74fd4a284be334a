// src/engine/sync.ts — desired state → the minimal diff against the kernel, and its atomic application (layer:
// engine). Owns the identity of an entry (what the kernel looks an SA or policy up by), the comparison of a
// desired record with the kernel's (only fields the kernel keeps as given), the plan (add / update / delete)
// and its order, and Sync: the plan's records applied through applyAtomic (src/engine/atomic.ts), so it is
// all or nothing and gets every safety applyAtomic has. Used by the agent (Plan, Sync) and usable by the CLI.
import { wasm } from '../wasm/index.js';
import { readRecord, type XfrmRecord, type XfrmAlg, type XfrmLifetimeCfg } from '../wasm/records.js';
import { XfrmKernel, type RecordFailure } from '../kernel/xfrm.js';
import type { KernelError } from '../kernel/errors.js';
import { applyAtomic } from './atomic.js';
import {
  REGION_RECORDS, REC_SIZE, R_KIND, R_LINE, R_INDEX, OP_SA_ADD, OP_SA_UPDATE, OP_SA_DELETE, OP_SP_ADD, OP_SP_UPDATE, OP_SP_DELETE,
} from '../../asm/shared/layout.js';

export type ChangeAction = 'add' | 'update' | 'delete';

export interface PlanChange {
  action: ChangeAction;
  kind: 'sa' | 'policy';
  /** The desired record (add, update), or -1. */
  desired: number;
  /** The kernel's record (update, delete), or -1. */
  current: number;
  /** Update: the fields that differ (e.g. ["enc.key", "reqid"]). */
  differs: string[];
  /** Line of the desired statement (0 if none). */
  line: number;
}

export interface SyncPlan {
  changes: PlanChange[];
  unchanged: number;
  adds: number;
  updates: number;
  deletes: number;
}

export interface SyncScope { sa: boolean; policy: boolean }

/** Raised for desired states that are not a list of entries (e.g. a delete or flush in it). */
export class DesiredStateError extends Error {
  constructor(readonly record: number, readonly line: number, message: string) {
    super(message);
    this.name = 'DesiredStateError';
  }
}

const isPolicy = (r: XfrmRecord): boolean => r.kind >= 16;
const kindAt = (i: number): number => wasm().dv.getUint8(wasm().regionPtr(REGION_RECORDS) + i * REC_SIZE + R_KIND);

/** What the kernel finds an entry by: (dst, proto, spi, mark) for SAs; (selector, dir, type, mark) for policies. */
export function identityOf(r: XfrmRecord): string {
  const mark = r.mark ? `${(r.mark.value & r.mark.mask) >>> 0}/${r.mark.mask >>> 0}` : '0/0';
  if (!isPolicy(r)) return `sa ${r.daddr} ${r.proto} ${r.spi >>> 0} ${mark}`;
  const s = r.sel;
  return `sp ${r.dir} ${r.ptype} ${mark} ${s.saddr}/${s.prefixlenS} ${s.daddr}/${s.prefixlenD} ${s.proto} ${s.sport} ${s.dport} ${s.ifindex} ${r.ifId ?? 0}`;
}

function algDiff(name: string, want: XfrmAlg | null, have: XfrmAlg | null, out: string[]): void {
  if (!want && !have) return;
  if (!want || !have || want.name !== have.name) { out.push(`${name}.name`); return; }
  if (!want.key.equals(have.key) || want.bits !== have.bits) out.push(`${name}.key`);
  // Without an explicit truncation/ICV length the kernel applies its default; any value it reports is fine.
  if (want.param && want.param !== have.param) out.push(`${name}.param`);
}

function lftDiff(want: XfrmLifetimeCfg, have: XfrmLifetimeCfg, out: string[]): void {
  for (const k of Object.keys(want) as (keyof XfrmLifetimeCfg)[]) if (want[k] !== have[k]) { out.push('lifetime'); return; }
}

/** The fields in which the kernel's entry differs from the desired one (empty: the same). */
export function differences(want: XfrmRecord, have: XfrmRecord): string[] {
  const out: string[] = [];
  const ne = (name: string, a: unknown, b: unknown): void => { if (a !== b) out.push(name); };
  const sw = want.sel, sh = have.sel;
  if (!isPolicy(want)) {
    ne('src', want.saddr, have.saddr);
    ne('mode', want.mode, have.mode);
    ne('reqid', want.reqid, have.reqid);
    ne('replay_window', want.replay, have.replay);
    ne('flags', want.saFlags, have.saFlags);
    // An SA added without a selector gets one filled in by the kernel: compare only what was asked for.
    if (sw.family !== 0 || sw.prefixlenS || sw.prefixlenD) {
      if (sw.saddr !== sh.saddr || sw.daddr !== sh.daddr || sw.prefixlenS !== sh.prefixlenS || sw.prefixlenD !== sh.prefixlenD
        || sw.proto !== sh.proto || sw.sport !== sh.sport || sw.dport !== sh.dport) out.push('selector');
    }
    algDiff('auth', want.auth, have.auth, out);
    algDiff('enc', want.enc, have.enc, out);
    algDiff('aead', want.aead, have.aead, out);
    if ((want.comp?.name ?? '') !== (have.comp?.name ?? '')) out.push('comp');
    const ew = want.encap, eh = have.encap;
    if (Boolean(ew) !== Boolean(eh) || (ew && eh && (ew.type !== eh.type || ew.sport !== eh.sport || ew.dport !== eh.dport))) out.push('encap');
  } else {
    ne('action', want.action, have.action);
    ne('priority', want.priority, have.priority);
    ne('flags', want.polFlags, have.polFlags);
    const tw = want.templates, th = have.templates;
    if (tw.length !== th.length) out.push('templates');
    else {
      for (let i = 0; i < tw.length; i++) {
        const a = tw[i]!, b = th[i]!;
        if (a.proto !== b.proto || a.mode !== b.mode || a.reqid !== b.reqid || a.spi !== b.spi || a.optional !== b.optional
          || a.share !== b.share || a.aalgos !== b.aalgos || a.ealgos !== b.ealgos || a.calgos !== b.calgos
          || (a.mode !== 0 && (a.saddr !== b.saddr || a.daddr !== b.daddr))) { out.push(`templates[${i}]`); }
      }
    }
    const cw = want.ctx?.str.toString('latin1') ?? '', ch = have.ctx?.str.toString('latin1') ?? '';
    ne('ctx', cw, ch);
  }
  lftDiff(want.lft, have.lft, out);
  return out;
}

function inScope(r: XfrmRecord, scope: SyncScope): boolean {
  if (isPolicy(r)) return scope.policy && r.ptype === 0 && r.dir <= 2; // main-type in/out/fwd; socket policies are not ours
  return scope.sa && (r.proto === 50 || r.proto === 51 || r.proto === 108);
}

/**
 * Plans the changes from the kernel's tables (records [sas.first, sas.end) and [sps.first, sps.end), as
 * XfrmKernel.dump appends them) to the desired records [first, end). Desired records must be adds or updates;
 * a desired entry listed twice is an error. Entries outside `scope` are neither added nor deleted.
 */
export function planChanges(first: number, end: number, current: { first: number; end: number }[], scope: SyncScope): SyncPlan {
  const have = new Map<string, { i: number; r: XfrmRecord }>();
  for (const { first: a, end: b } of current) {
    for (let i = a; i < b; i++) {
      const r = readRecord(i);
      if (inScope(r, scope)) have.set(identityOf(r), { i, r });
    }
  }
  const changes: PlanChange[] = [];
  const seen = new Map<string, number>();
  let unchanged = 0;
  for (let i = first; i < end; i++) {
    const k = kindAt(i);
    const line = wasm().dv.getUint32(wasm().regionPtr(REGION_RECORDS) + i * REC_SIZE + R_LINE, true);
    if (k !== OP_SA_ADD && k !== OP_SA_UPDATE && k !== OP_SP_ADD && k !== OP_SP_UPDATE) {
      throw new DesiredStateError(i, line, 'a desired state lists entries (SA or policy adds); deletes, flushes and reads do not belong in it');
    }
    const r = readRecord(i);
    if (!inScope(r, scope)) {
      throw new DesiredStateError(i, line, `this ${isPolicy(r) ? 'policy' : 'SA'} is outside the scope of the sync (${scope.sa ? 'SAs' : 'policies'} only${isPolicy(r) ? '; only main-type in/out/fwd policies are synced' : ''})`);
    }
    const id = identityOf(r);
    const dup = seen.get(id);
    if (dup !== undefined) throw new DesiredStateError(i, line, `the same ${isPolicy(r) ? 'policy' : 'SA'} is listed twice (first at line ${dup})`);
    seen.set(id, line);
    const cur = have.get(id);
    const kind = isPolicy(r) ? 'policy' : 'sa';
    if (!cur) { changes.push({ action: 'add', kind, desired: i, current: -1, differs: [], line }); continue; }
    have.delete(id);
    const differs = differences(r, cur.r);
    if (differs.length === 0) unchanged++;
    else changes.push({ action: 'update', kind, desired: i, current: cur.i, differs, line });
  }
  for (const { i, r } of have.values()) changes.push({ action: 'delete', kind: isPolicy(r) ? 'policy' : 'sa', desired: -1, current: i, differs: [], line: 0 });
  // Order of application: SAs first (so policies never point at missing SAs), then policy adds and updates,
  // then policy deletes, then SA deletes (traffic stays protected while the old entries go).
  const rank = (c: PlanChange): number => (c.kind === 'sa' && c.action !== 'delete' ? 0 : c.kind === 'policy' && c.action !== 'delete' ? 1 : c.kind === 'policy' ? 2 : 3);
  changes.sort((a, b) => rank(a) - rank(b));
  let adds = 0, updates = 0, deletes = 0;
  for (const c of changes) { if (c.action === 'add') adds++; else if (c.action === 'update') updates++; else deletes++; }
  return { changes, unchanged, adds, updates, deletes };
}

/** Appends a copy of record `src` as `kind` (policy index kept for updates, cleared for adds). */
function cloneAs(src: number, kind: number, keepIndex: boolean): number {
  const w = wasm();
  const off = w.fns<{ appendRegion(r: number, n: number): number }>().appendRegion(REGION_RECORDS, REC_SIZE) >>> 0;
  const p = w.regionPtr(REGION_RECORDS);
  w.u8.copyWithin(p + off, p + src * REC_SIZE, p + src * REC_SIZE + REC_SIZE);
  w.u8[p + off + R_KIND] = kind;
  if (!keepIndex) w.dv.setUint32(p + off + R_INDEX, 0, true);
  return off / REC_SIZE;
}

/** The records that carry out a plan: [first, end) and, per record, the change it belongs to. */
export function planRecords(plan: SyncPlan): { first: number; end: number; changeOf: number[] } {
  const changeOf: number[] = [];
  let first = -1;
  const push = (rec: number, c: number): void => { if (first < 0) first = rec; changeOf.push(c); };
  plan.changes.forEach((c, ci) => {
    if (c.action === 'add') push(cloneAs(c.desired, c.kind === 'sa' ? OP_SA_ADD : OP_SP_ADD, false), ci);
    else if (c.action === 'delete') push(cloneAs(c.current, c.kind === 'sa' ? OP_SA_DELETE : OP_SP_DELETE, true), ci);
    else if (c.kind === 'policy') push(cloneAs(c.desired, OP_SP_UPDATE, false), ci);
    else {
      // XFRM_MSG_UPDSA keeps an SA's algorithms and keys (xfrm_state_update): replace it instead.
      push(cloneAs(c.current, OP_SA_DELETE, true), ci);
      push(cloneAs(c.desired, OP_SA_ADD, false), ci);
    }
  });
  return first < 0 ? { first: 0, end: 0, changeOf } : { first, end: first + changeOf.length, changeOf };
}

export interface SyncResult {
  ok: boolean;
  /** Failures by change index. */
  failures: { change: number; error: KernelError }[];
  undone: number;
  rollbackFailures: { change: number; error: KernelError }[];
}

/** Applies a plan all or nothing (applyAtomic). The plan's records stay valid until the caller restores. */
export async function applyPlan(kernel: XfrmKernel, plan: SyncPlan): Promise<SyncResult> {
  if (plan.changes.length === 0) return { ok: true, failures: [], undone: 0, rollbackFailures: [] };
  const { first, end, changeOf } = planRecords(plan);
  const r = await applyAtomic(kernel, first, end);
  const byChange = (f: { record: number; error: KernelError }): { change: number; error: KernelError } => ({ change: changeOf[f.record - first] ?? -1, error: f.error });
  return {
    ok: r.failures.length === 0,
    failures: r.failures.map((f: RecordFailure) => byChange(f)),
    undone: r.undone,
    rollbackFailures: r.rollbackFailures.map(byChange),
  };
}

/** Dumps what the scope needs and plans against it (records appended; the caller marks and restores). */
export async function planAgainstKernel(kernel: XfrmKernel, first: number, end: number, scope: SyncScope): Promise<SyncPlan> {
  const current: { first: number; end: number }[] = [];
  if (scope.sa) current.push(await kernel.dump('sa'));
  if (scope.policy) current.push(await kernel.dump('policy'));
  return planChanges(first, end, current, scope);
}
