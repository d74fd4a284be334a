// src/engine/journal.ts — the write-ahead intent journal of atomic batches (layer: engine). Owns the
// durable file: where it lives (one root-only directory per network namespace), its format (a header that
// says which batch, which boot, which namespace and which process; the netlink messages that restore the
// pre-image; a commit mark), fsync of file and directory, and whether the process that wrote it is still
// alive. What the messages mean and how an interrupted batch is undone is src/engine/atomic.ts's business.
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync,
  writeSync, chmodSync,
} from 'node:fs';
import path from 'node:path';

/** Where journals live unless KEYFLEET_JOURNAL_DIR says otherwise (tests point it at a temporary directory). */
export const DEFAULT_JOURNAL_DIR = '/var/lib/keyfleet/journal';

const MAGIC = Buffer.from('KFJ1');
const END = Buffer.from('END1');
const DONE = Buffer.from('DONE');
const SUFFIX = '.kfj';

export interface JournalHeader {
  version: 1;
  /** /proc/sys/kernel/random/boot_id: XFRM state does not survive a reboot, nor does a journal's meaning. */
  bootId: string;
  /** The namespace name ("host" for the initial one) and its nsfs inode (a re-created namespace differs). */
  netns: string;
  netnsIno: number;
  pid: number;
  /** Start time of the writing process (field 22 of /proc/PID/stat), so a reused pid is not taken for it. */
  pidStart: string;
  created: string;
  /** What the batch was: for the user's benefit when it is recovered. */
  source: string;
  operations: number;
  /** How many undo messages restore a pre-image (present before) and how many delete what was absent. */
  restores: number;
  deletes: number;
}

export interface JournalEntry {
  file: string;
  header: JournalHeader;
  /** Netlink messages (XFRM_MSG_NEWSA / NEWPOLICY for pre-images, DELSA / DELPOLICY for what was absent). */
  undo: Buffer;
  committed: boolean;
}

/** The journal directory for a namespace (created on demand, mode 0700). */
export function journalDir(netns: string | undefined): string {
  const base = process.env.KEYFLEET_JOURNAL_DIR || DEFAULT_JOURNAL_DIR;
  return path.join(base, netns && netns.length > 0 ? netns : 'host');
}

/** The nsfs inode of a namespace: /run/netns/NAME, or our own for the host. */
export function netnsInode(netns: string | undefined): number {
  return statSync(netns ? path.join('/run/netns', netns) : '/proc/self/ns/net').ino;
}

export function bootId(): string {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { return 'unknown'; }
}

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The process that wrote the journal still runs (same pid, same start time): its batch is in flight. */
export function writerAlive(h: JournalHeader): boolean {
  return processStart(h.pid) === h.pidStart;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

function ensureDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key material goes in here: root only, whatever the umask made of it or its parents.
  chmodSync(dir, 0o700);
}

/** An open journal: written durably before the batch is sent, committed after its last ack, removed at the end. */
export class Journal {
  readonly file: string;
  #removed = false;

  private constructor(file: string) { this.file = file; }

  /** Writes header and undo messages to a temporary file, fsyncs it, renames it into place, fsyncs the directory. */
  static begin(netns: string | undefined, h: Omit<JournalHeader, 'version' | 'bootId' | 'netns' | 'netnsIno' | 'pid' | 'pidStart' | 'created'>, undo: Buffer): Journal {
    const dir = journalDir(netns);
    ensureDir(dir);
    const header: JournalHeader = {
      version: 1, bootId: bootId(), netns: netns ?? 'host', netnsIno: netnsInode(netns), pid: process.pid,
      pidStart: processStart(process.pid) ?? '', created: new Date().toISOString(), ...h,
    };
    const name = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const tmp = path.join(dir, `.${name}.tmp`);
    const file = path.join(dir, name + SUFFIX);
    const hb = Buffer.from(JSON.stringify(header));
    const len = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      for (const part of [MAGIC, len(hb.length), hb, len(undo.length), undo, END]) {
        let off = 0;
        while (off < part.length) off += writeSync(fd, part, off, part.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    fsyncDir(dir);
    return new Journal(file);
  }

  /** Every operation of the batch took effect: a recovery must keep them (roll forward), not undo them. */
  commit(): void {
    const fd = openSync(this.file, 'a');
    try { writeSync(fd, DONE); fsyncSync(fd); } finally { closeSync(fd); }
  }

  /** The batch is settled (applied, or rolled back in process): nothing is left to recover. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    removeJournal(this.file);
  }
}

export function removeJournal(file: string): void {
  try { unlinkSync(file); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  fsyncDir(path.dirname(file));
}

/** Reads one journal file; null when it is not a complete journal (never the case for a renamed one). */
export function readJournal(file: string): JournalEntry | null {
  const b = readFileSync(file);
  if (b.length < 12 || !b.subarray(0, 4).equals(MAGIC)) return null;
  const hl = b.readUInt32LE(4);
  if (8 + hl + 4 > b.length) return null;
  let header: JournalHeader;
  try { header = JSON.parse(b.toString('utf8', 8, 8 + hl)) as JournalHeader; } catch { return null; }
  const ul = b.readUInt32LE(8 + hl);
  const us = 12 + hl;
  if (us + ul + 4 > b.length || !b.subarray(us + ul, us + ul + 4).equals(END)) return null;
  const committed = b.subarray(us + ul + 4, us + ul + 8).equals(DONE);
  return { file, header, undo: b.subarray(us, us + ul), committed };
}

/** Journals of a namespace, oldest first; stray temporary files of writers that died are deleted. */
export function listJournals(netns: string | undefined): string[] {
  const dir = journalDir(netns);
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const out: string[] = [];
  for (const n of names) {
    if (n.endsWith(SUFFIX)) out.push(path.join(dir, n));
    else if (n.endsWith('.tmp')) {
      // Written but never renamed: the batch was not sent (sending waits for the rename).
      const pid = Number(n.split('-')[1]);
      if (!Number.isFinite(pid) || processStart(pid) === null) try { unlinkSync(path.join(dir, n)); } catch { /* raced */ }
    }
  }
  return out.sort((a, b) => Number(path.basename(a).split('-')[0]) - Number(path.basename(b).split('-')[0]));
}
