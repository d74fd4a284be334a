#!/usr/bin/env node
// scripts/kernel-vm/run.mjs — the kernel VM tier's runner (layer: tooling). Boots Debian's stock kernel under qemu
// with the host's / shared read-only over 9p and runs one command inside it, in the host's cwd, as root.
//   node scripts/kernel-vm/run.mjs --check          can this machine run the VM? (exit 0, or 1 with one reason line)
//   node scripts/kernel-vm/run.mjs --prepare        fetch the kernel (apt), depmod it, build the initramfs (cached)
//   node scripts/kernel-vm/run.mjs [--] CMD ARGS... boot, run CMD, stream its stdout/stderr, exit with its status
// Env: KEYFLEET_VM_TIMEOUT (s, default 1500), KEYFLEET_VM_KVM=1 (try KVM, falls back to TCG), KEYFLEET_VM_TCG
// (qemu -accel value, default tcg,thread=single),
// KEYFLEET_VM_KERNEL (pin a cached/apt kernel version), KEYFLEET_VM_VERBOSE=1 (console + stage timings to stderr),
// KEYFLEET_VM_KEEP=1 (keep the scratch dir). Cache: .cache/kernel-vm/<kernel version>/ (git-ignored).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, renameSync,
  rmSync, statSync, writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const cacheRoot = path.join(repo, '.cache/kernel-vm');
const tty = process.stderr.isTTY;
const verbose = process.env.KEYFLEET_VM_VERBOSE === '1';

/** Modules the initramfs itself needs (plus their dependencies from modules.dep): 9p over virtio-pci, overlayfs. */
const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];
/** Loaded by init before the command: XFRM/PF_KEY and the transforms and algorithms states name (see
 *  net/xfrm/xfrm_algo.c for the algorithm list af_key probes; mip6: the hao/route2 types of Mobile IPv6 states). Missing
 *  or built-in ones are dropped at prepare time. */
const IPSEC_MODULES = [
  'xfrm_user', 'af_key', 'xfrm_algo', 'esp4', 'esp6', 'ah4', 'ah6', 'ipcomp', 'ipcomp6', 'xfrm_ipcomp',
  'xfrm4_tunnel', 'xfrm6_tunnel', 'tunnel4', 'tunnel6', 'xfrm_interface', 'mip6',
  'authenc', 'authencesn', 'echainiv', 'seqiv', 'gcm', 'ccm', 'ctr', 'cbc', 'hmac', 'sha1_generic', 'sha256_generic',
  'sha512_generic', 'md5', 'rmd160', 'des_generic', 'deflate', 'xcbc', 'cmac', 'aes_generic', 'aesni_intel',
  'ghash_generic', 'chacha20poly1305', 'chacha_generic', 'poly1305_generic', 'blowfish_generic', 'cast5_generic',
  'camellia_generic', 'twofish_generic', 'serpent_generic', 'crypto_null',
];
// Bump when the initramfs layout changes (the cache key also hashes init.sh and the module lists).
const INITRAMFS_FORMAT = 1;

const say = (msg) => { if (tty || verbose) process.stderr.write(`kernel-vm: ${msg}\n`); };
const fail = (msg, code = 1) => { process.stderr.write(`kernel-vm: ${msg}\n`); process.exit(code); };

function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try { if (statSync(p).isFile()) return p; } catch { /* not here */ }
  }
  return null;
}

/** A static ELF has no PT_INTERP program header (elf(5)); a dynamic busybox would not run inside the initramfs. */
function isStaticElf(file) {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false; // ELF, 64-bit
  const phoff = Number(b.readBigUInt64LE(0x20)), phentsize = b.readUInt16LE(0x36), phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

function findBusybox() {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', which('busybox')]) {
    if (p && existsSync(p) && isStaticElf(p)) return p;
  }
  return null;
}

/** Why this machine cannot run the VM tier, or null. Cheap: no boot, no apt. */
function whyNot() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs linux/x64 (this is ${process.platform}/${process.arch})`;
  if (process.getuid?.() !== 0) return 'needs root (9p passthrough of / and dpkg -x of the kernel)';
  if (!which('qemu-system-x86_64')) return 'qemu-system-x86_64 not found (apt-get install qemu-system-x86)';
  if (!findBusybox()) return 'no static busybox (apt-get install busybox-static)';
  if (!which('depmod') || !which('modprobe')) return 'depmod/modprobe not found (apt-get install kmod)';
  if (os.totalmem() < 4 * 2 ** 30) return 'needs at least 4 GiB of memory (the VM gets 3 GiB)';
  if (!cachedVersions().length && !(which('apt-get') && which('apt-cache') && which('dpkg'))) {
    return 'no cached kernel and no apt-get/dpkg to fetch one';
  }
  return null;
}

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });

function cachedVersions() {
  try {
    return readdirSync(cacheRoot).filter((v) => existsSync(path.join(cacheRoot, v, 'ready'))).sort();
  } catch { return []; }
}

/** The linux-image-<version> package that Debian's linux-image-amd64 metapackage depends on, or null. */
function aptKernelPackage() {
  const r = run('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends:\s+(linux-image-(\d\S*-amd64))\s*$/m.exec(r.stdout || '');
  return m ? { pkg: m[1], version: m[2] } : null;
}

/** Resolves which kernel to use: pinned, else the metapackage's, else the newest cached one (offline re-runs). */
function resolveKernel() {
  const pinned = process.env.KEYFLEET_VM_KERNEL;
  if (pinned) return { pkg: `linux-image-${pinned}`, version: pinned };
  let k = aptKernelPackage();
  if (k) return k;
  const cached = cachedVersions();
  if (cached.length) return { pkg: `linux-image-${cached.at(-1)}`, version: cached.at(-1) };
  say('apt lists are empty: apt-get update…');
  const u = run('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (u.status !== 0) fail(`apt-get update failed: ${(u.stderr || '').trim().split('\n').pop()}`);
  k = aptKernelPackage();
  if (!k) fail('apt-cache depends linux-image-amd64 names no linux-image-*-amd64 package');
  return k;
}

/** Downloads, unpacks and depmods the kernel into .cache/kernel-vm/<version>/ (atomically, via a temp dir). */
function fetchKernel({ pkg, version }) {
  const dir = path.join(cacheRoot, version);
  if (existsSync(path.join(dir, 'ready'))) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = mkdtempSync(path.join(cacheRoot, `.tmp-${version}-`));
  try {
    say(`preparing kernel ${version}: apt-get download ${pkg}…`);
    let d = run('apt-get', ['download', pkg], { cwd: tmp });
    if (d.status !== 0) {
      run('apt-get', ['update'], { stdio: 'ignore' });
      d = run('apt-get', ['download', pkg], { cwd: tmp });
      if (d.status !== 0) throw new Error(`apt-get download ${pkg} failed: ${(d.stderr || '').trim().split('\n').pop()}`);
    }
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
    say(`unpacking ${deb}…`);
    const x = run('dpkg', ['-x', path.join(tmp, deb), path.join(tmp, 'root')]);
    if (x.status !== 0) throw new Error(`dpkg -x failed: ${x.stderr.trim()}`);
    rmSync(path.join(tmp, deb));
    rmSync(path.join(tmp, 'root/usr'), { recursive: true, force: true }); // docs only
    // Debian ships modules under /lib/modules; merged-/usr packages may use /usr/lib/modules.
    const boot = path.join(tmp, 'root/boot');
    renameSync(path.join(boot, `vmlinuz-${version}`), path.join(tmp, 'vmlinuz'));
    renameSync(path.join(boot, `config-${version}`), path.join(tmp, 'config'));
    rmSync(boot, { recursive: true, force: true });
    if (!existsSync(path.join(tmp, 'root/lib/modules', version))) throw new Error(`the package has no lib/modules/${version}`);
    say('depmod…');
    const dm = run('depmod', ['-b', path.join(tmp, 'root'), version]);
    if (dm.status !== 0) throw new Error(`depmod failed: ${dm.stderr.trim()}`);
    writeFileSync(path.join(tmp, 'ready'), `${pkg}\n`);
    rmSync(dir, { recursive: true, force: true });
    try { renameSync(tmp, dir); } catch (e) {
      if (!existsSync(path.join(dir, 'ready'))) throw e;
      rmSync(tmp, { recursive: true, force: true }); // a concurrent --prepare won the race
    }
    return dir;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    fail(String(e.message || e));
  }
}

const modName = (file) => path.basename(file).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');

/** modules.dep as name → {path, deps}; modules.builtin as a set of names. */
function moduleIndex(modDir) {
  const mods = new Map();
  for (const line of readFileSync(path.join(modDir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) mods.set(modName(m[1]), { path: m[1], deps: m[2].split(/\s+/).filter(Boolean).map(modName) });
  }
  const builtin = new Set(readFileSync(path.join(modDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(modName));
  return { mods, builtin };
}

/** Dependency-first load order of `wanted` (modules built into the kernel need no loading). */
function loadOrder(index, wanted) {
  const order = [], seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const m = index.mods.get(name);
    if (!m) {
      if (index.builtin.has(name)) return;
      throw new Error(`module ${name} is neither a module nor built in`);
    }
    for (const d of m.deps) visit(d);
    order.push(name);
  };
  for (const w of wanted) visit(w);
  return order;
}

/** cpio "newc" archive (the format the kernel's initramfs unpacker reads: Documentation/driver-api/early-userspace/buffer-format.rst). */
function cpioNewc(entries) {
  const parts = [];
  let ino = 1;
  const pad4 = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const push = (name, mode, data = Buffer.alloc(0), rdev = [0, 0]) => {
    const hex = (n) => n.toString(16).padStart(8, '0');
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0];
    const head = Buffer.from(`070701${fields.map(hex).join('')}`);
    parts.push(head, nameBuf, pad4(head.length + nameBuf.length), data, pad4(data.length));
  };
  for (const e of entries) push(e.name, e.mode, e.data, e.rdev);
  push('TRAILER!!!', 0);
  return Buffer.concat(parts);
}

/** Builds (or reuses) <cache>/<version>/initramfs-<key>.gz: busybox, /init, the boot modules, the module lists. */
function buildInitramfs(kdir, version) {
  const modDir = path.join(kdir, 'root/lib/modules', version);
  const index = moduleIndex(modDir);
  const boot = loadOrder(index, BOOT_MODULES);
  const ipsec = IPSEC_MODULES.filter((m) => index.mods.has(m)); // the rest are built in or absent from this kernel
  const busybox = findBusybox();
  if (!busybox) fail('no static busybox (apt-get install busybox-static)');
  const init = readFileSync(path.join(here, 'init.sh'));
  // The kernel's usermode helper runs /sbin/modprobe in the initramfs root (kthreadd never chroots): hand the
  // request to kmod's modprobe inside /host, where the cached modules of this kernel are bound at /lib/modules.
  const modprobe = Buffer.from('#!/bin/busybox sh\nexec /bin/busybox chroot /host /sbin/modprobe "$@"\n');
  const bb = readFileSync(busybox);
  const key = createHash('sha256')
    .update(JSON.stringify({ INITRAMFS_FORMAT, boot, ipsec })).update(init).update(modprobe).update(bb)
    .digest('hex').slice(0, 16);
  const out = path.join(kdir, `initramfs-${key}.gz`);
  if (existsSync(out)) return out;
  say('building the initramfs…');
  const dir = (name) => ({ name, mode: 0o40755 });
  const file = (name, data, perm = 0o644) => ({ name, mode: 0o100000 | perm, data });
  const entries = [
    ...['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'mnt', 'etc', 'etc/kernel-vm', 'lib', 'lib/kernel-vm', 'root']
      .map(dir),
    { name: 'dev/console', mode: 0o20600, rdev: [5, 1] },
    file('bin/busybox', bb, 0o755),
    file('init', init, 0o755),
    file('sbin/modprobe', modprobe, 0o755),
    file('etc/kernel-vm/boot-modules', Buffer.from(`${boot.join('\n')}\n`)),
    file('etc/kernel-vm/ipsec-modules', Buffer.from(`${ipsec.join('\n')}\n`)),
    ...boot.map((m) => file(`lib/kernel-vm/${m}.ko`, readFileSync(path.join(modDir, index.mods.get(m).path)))),
  ];
  for (const f of readdirSync(kdir)) if (/^initramfs-.*\.gz$/.test(f)) rmSync(path.join(kdir, f));
  writeFileSync(`${out}.tmp`, gzipSync(cpioNewc(entries), { level: 6 }));
  renameSync(`${out}.tmp`, out);
  return out;
}

function prepare() {
  const k = resolveKernel();
  const kdir = fetchKernel(k);
  const initrd = buildInitramfs(kdir, k.version);
  return { version: k.version, kernel: path.join(kdir, 'vmlinuz'), initrd, modDir: path.join(kdir, 'root/lib/modules', k.version) };
}

/** KVM only when asked and when a short probe shows that vCPUs really start (some hosts expose a /dev/kvm that
 *  fails on MSR writes and aborts qemu). */
async function kvmWorks() {
  if (process.env.KEYFLEET_VM_KVM !== '1') return false;
  try { closeSync(openSync('/dev/kvm', 'r+')); } catch { return false; }
  return new Promise((resolve) => {
    const q = spawn('qemu-system-x86_64', ['-accel', 'kvm', '-cpu', 'host', '-m', '64', '-nodefaults', '-display', 'none', '-no-reboot'], { stdio: 'ignore' });
    const t = setTimeout(() => { q.kill('SIGKILL'); resolve(true); }, 2000); // still running: the vCPU executes firmware
    q.on('exit', () => { clearTimeout(t); resolve(false); });
  });
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Copies whole lines of a growing file to a stream (the VM writes it through the 9p scratch share). */
class Tail {
  constructor(file, out) { this.file = file; this.out = out; this.fd = -1; this.pos = 0; this.rest = ''; }
  poll(final = false) {
    if (this.fd < 0) { try { this.fd = openSync(this.file, 'r'); } catch { return; } }
    const size = fstatSync(this.fd).size;
    while (this.pos < size) {
      const buf = Buffer.alloc(Math.min(size - this.pos, 1 << 20));
      const n = readSync(this.fd, buf, 0, buf.length, this.pos);
      if (n <= 0) break;
      this.pos += n;
      this.rest += buf.subarray(0, n).toString('utf8');
    }
    const cut = final ? this.rest.length : this.rest.lastIndexOf('\n') + 1;
    if (cut > 0) { this.out.write(this.rest.slice(0, cut)); this.rest = this.rest.slice(cut); }
    if (final && this.fd >= 0) { closeSync(this.fd); this.fd = -1; }
  }
}

/** Environment the command sees: a clean one (the VM is not the host's session), plus CI and our own switches. */
function commandEnv() {
  const env = {
    PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/tmp', KEYFLEET_IN_VM: '1', KEYFLEET_VM_SCRATCH: '/run/kernel-vm', LANG: 'C.UTF-8', TERM: 'dumb',
  };
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CI|GITHUB_ACTIONS|FORCE_COLOR|NO_COLOR|NODE_OPTIONS|UVU_.*|KEYFLEET_(?!VM_KVM|IN_VM).*)$/.test(k) && v !== undefined) env[k] = v;
  }
  return env;
}

async function runInVm(argv) {
  const t0 = Date.now();
  const vm = prepare();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'kernel-vm-'));
  const env = commandEnv();
  writeFileSync(path.join(scratch, 'boot.env'), `KVER=${shq(vm.version)}\nMODDIR=${shq(vm.modDir)}\n`);
  writeFileSync(path.join(scratch, 'cmd.sh'), [
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shq(v)}`),
    `cd ${shq(process.cwd())} || exit 125`,
    `exec ${argv.map(shq).join(' ')}`, '',
  ].join('\n'));

  const kvm = await kvmWorks();
  const timeoutS = Number(process.env.KEYFLEET_VM_TIMEOUT || 1500);
  const append = [
    'console=ttyS0', 'quiet', 'loglevel=3', 'panic=-1', 'oops=panic', 'mitigations=off', 'tsc=reliable',
    'no_timer_check', 'i8042.noaux', 'i8042.nokbd', 'i8042.nopnp', 'random.trust_cpu=on',
    // The crypto self-tests run again for every algorithm instance PF_KEY's REGISTER probes; under TCG they
    // cost minutes and prove nothing about our code.
    'cryptomgr.notests',
  ].join(' ');
  // TCG with one host thread for both vCPUs: with thread=multi (MTTCG), V8 crashes at random when it swaps
  // Liftoff code for TurboFan code while another vCPU runs it (cross-modifying code; asc's binaryen failed 3 runs
  // in 4 with RuntimeError: unreachable / memory access out of bounds, never with thread=single, --liftoff-only,
  // --no-liftoff or --single-threaded). It costs ~20 % here. KEYFLEET_VM_TCG=tcg,thread=multi to compare.
  const args = [
    ...(kvm ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', process.env.KEYFLEET_VM_TCG || 'tcg,thread=single', '-cpu', 'max']),
    '-smp', '2', '-m', '3G', '-nographic', '-no-reboot', '-nic', 'none', '-vga', 'none',
    '-kernel', vm.kernel, '-initrd', vm.initrd, '-append', append,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${scratch},mount_tag=scratch,security_model=passthrough,multidevs=remap`,
  ];
  say(`booting ${vm.version} (${kvm ? 'KVM' : 'TCG'})…`);
  const tBoot = Date.now();
  const q = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleLog = '';
  const keepConsole = (d) => {
    consoleLog += d; if (consoleLog.length > 200_000) consoleLog = consoleLog.slice(-100_000);
    if (verbose) process.stderr.write(d);
  };
  q.stdout.on('data', keepConsole);
  q.stderr.on('data', keepConsole);
  const out = new Tail(path.join(scratch, 'stdout'), process.stdout);
  const err = new Tail(path.join(scratch, 'stderr'), process.stderr);
  let started = 0, timedOut = false;
  const onSignal = (sig) => { q.kill('SIGKILL'); rmSync(scratch, { recursive: true, force: true }); process.exit(128 + os.constants.signals[sig]); };
  process.on('SIGINT', onSignal); process.on('SIGTERM', onSignal);
  const tick = setInterval(() => {
    if (!started && existsSync(path.join(scratch, 'stdout'))) { started = Date.now(); say('running…'); }
    out.poll(); err.poll();
  }, 100);
  const timer = setTimeout(() => { timedOut = true; q.kill('SIGKILL'); }, timeoutS * 1000);
  const exit = await new Promise((resolve) => q.on('close', (code, signal) => resolve({ code, signal })));
  clearInterval(tick); clearTimeout(timer);
  out.poll(true); err.poll(true);

  const read = (f) => { try { return readFileSync(path.join(scratch, f), 'utf8'); } catch { return null; } };
  const stamps = Object.fromEntries((read('timings') || '').trim().split('\n').filter(Boolean).map((l) => l.split(' ').reverse()));
  const status = read('status');
  const tEnd = Date.now();
  if (stamps['command-start']) {
    process.stderr.write(`kernel-vm: ${vm.version} booted in ${stamps['command-start']} s (kernel start → command start; ` +
      `${((started || tEnd) - tBoot) / 1000} s wall from qemu start), command ran ` +
      `${((tEnd - (started || tEnd)) / 1000).toFixed(1)} s, total ${((tEnd - t0) / 1000).toFixed(1)} s\n`);
  }
  if (verbose) process.stderr.write(`kernel-vm: stage uptimes ${JSON.stringify(stamps)}\n`);
  // SeaBIOS draws with terminal escapes; keep the console readable in CI logs.
  const tailOfConsole = () => consoleLog.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r/g, '').trim().split('\n').slice(-40).join('\n');
  let code;
  if (timedOut) {
    process.stderr.write(`kernel-vm: timed out after ${timeoutS} s (KEYFLEET_VM_TIMEOUT)${started ? '' : ', the command never started'}; console:\n${tailOfConsole()}\n`);
    code = 124;
  } else if (status === null || !/^\d+\s*$/.test(status)) {
    const why = read('init-error')?.trim() || (started ? 'the command started but no exit status was written'
      : `the VM did not boot to the command (qemu exit ${exit.code ?? exit.signal})`);
    process.stderr.write(`kernel-vm: ${why}; console:\n${tailOfConsole()}\n`);
    code = 125;
  } else {
    code = Number(status);
  }
  if (process.env.KEYFLEET_VM_KEEP === '1') process.stderr.write(`kernel-vm: scratch kept at ${scratch}\n`);
  else rmSync(scratch, { recursive: true, force: true });
  return code;
}

const argv = process.argv.slice(2);
if (argv[0] === '--check') {
  const why = whyNot();
  if (why) { console.log(why); process.exit(1); }
  process.exit(0);
} else if (argv[0] === '--prepare') {
  const why = whyNot();
  if (why) fail(why);
  const vm = prepare();
  process.stderr.write(`kernel-vm: ready: ${vm.version} (${path.relative(repo, vm.kernel)}, ${path.relative(repo, vm.initrd)})\n`);
} else {
  const cmd = argv[0] === '--' ? argv.slice(1) : argv;
  if (!cmd.length) fail('usage: run.mjs --check | --prepare | [--] CMD ARGS...', 2);
  const why = whyNot();
  if (why) fail(`cannot run the VM here: ${why}`);
  process.exit(await runInVm(cmd));
}
