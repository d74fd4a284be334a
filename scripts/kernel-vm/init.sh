#!/bin/busybox sh
# scripts/kernel-vm/init.sh — /init of the kernel VM's initramfs (layer: tooling, runs as PID 1 inside qemu).
# Mounts the host's root read-only over 9p (virtio) under a tmpfs overlay at /host, loads the IPsec modules, chroots
# into /host to run the command that run.mjs wrote to the scratch share, writes its exit status there and powers off.
# Everything here is busybox; the only host tools used inside are the chroot's own (kmod's modprobe, the command).

/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# --install -s skips names that exist, so our /sbin/modprobe (a chroot wrapper, see run.mjs) stays.

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

stamp() { read -r up _ < /proc/uptime; echo "$up $1" >> /scratch/timings 2>/dev/null; }
die() { echo "kernel-vm init: $*" > /dev/console; [ -d /scratch ] && echo "$*" > /scratch/init-error; sync; poweroff -f; }

# The 9p transport and overlayfs: loaded in dependency order (computed by run.mjs from modules.dep).
for m in $(cat /etc/kernel-vm/boot-modules); do
  insmod "/lib/kernel-vm/$m.ko" || echo "kernel-vm init: insmod $m failed" > /dev/console
done

mkdir -p /scratch /mnt/lower /mnt/rw /host
# The scratch share is the only writable one: no client cache, so the host sees stdout/stderr as they are written.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none scratch /scratch || die "cannot mount the scratch share"
stamp 9p-ready
. /scratch/boot.env || die "no boot.env in the scratch share"

# The host's / is read-only and does not change during a run, so the client may cache it (cache=loose: node loads
# hundreds of files; uncached 9p round trips dominate under TCG).
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /mnt/lower || die "cannot mount the host root"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
# Writes inside the VM (/tmp, HOME, /var, npm caches, ...) land in this tmpfs; the host's files are never changed.
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /host || die "cannot mount the overlay"

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
# A fresh /run: `ip netns add` keeps its bind mounts in /run/netns; the host's /run would only show stale entries.
mount -t tmpfs -o mode=0755 tmpfs /host/run
mkdir -p /host/run/kernel-vm
mount --bind /scratch /host/run/kernel-vm
# The host has no modules for this kernel: bind the cached, depmod-ed tree (visible through 9p) into place so that
# modprobe works in the chroot; our /sbin/modprobe (the kernel's usermode helper) chroots into /host to use it.
mkdir -p "/host/lib/modules/$KVER"
mount --bind "/host$MODDIR" "/host/lib/modules/$KVER" || die "cannot bind the modules of $KVER"
stamp mounted

# IPsec, PF_KEY and the crypto that XFRM states name; the list holds only modules this kernel has (run.mjs checks).
chroot /host /sbin/modprobe -a $(cat /etc/kernel-vm/ipsec-modules) 2>/dev/console || echo "kernel-vm init: some IPsec modules did not load" > /dev/console
stamp modules

# No PF_KEY warm-up here: with cryptomgr.notests (see run.mjs) the first REGISTER's algorithm probe costs ~3 s.
stamp command-start
cd /
chroot /host /bin/sh /run/kernel-vm/cmd.sh > /scratch/stdout 2> /scratch/stderr < /dev/null
echo $? > /scratch/status
stamp command-end
sync
poweroff -f
