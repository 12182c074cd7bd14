"""A bare qemu-system-x86_64 run with vmd's own options: the baseline
that bench.py measures vmd against."""

import os
import socket
import subprocess
import time

def vmd_qemu_argv(c, name):
    """The argv vmd gives QEMU for VM name (it must be running), with the
    descriptors vmd passes for host files turned back into their paths: a
    bare QEMU opens them itself, as a user's command line would."""
    show = c.command("vm-show", {"vm": name})
    cfg = show.get("running_config") or show["config"]
    with open("/proc/%d/cmdline" % show["pid"], "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    disks = {}   # fd set -> path, from -add-fd's opaque=diskN
    for i, a in enumerate(argv[:-1]):
        if a == "-add-fd":
            opts = dict(kv.split("=", 1) for kv in argv[i + 1].split(","))
            n = int(opts["opaque"][len("disk"):])
            disks[opts["set"]] = cfg["disks"][n]["path"].replace(",", ",,")
    boot = cfg.get("boot", {})
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a == "-add-fd":
            i += 2
            continue
        if a in ("-kernel", "-initrd") and argv[i + 1].startswith(
                "/proc/self/fd/"):
            out += [a, boot[a[1:]]]
            i += 2
            continue
        for k, path in disks.items():
            a = a.replace("file=/dev/fdset/%s," % k, "file=%s," % path)
        out.append(a)
        i += 1
    return out


def bare_argv(vmd_argv, serial_fd, qmp_fd=None):
    """vmd's QEMU options with its descriptors replaced by ours.  Without
    qmp_fd: no monitor and no -S (the guest runs at once, as a user's
    command line would); with it: the QMP socket is ours and -S stays."""
    out = []
    i = 0
    while i < len(vmd_argv):
        a = vmd_argv[i]
        nxt = vmd_argv[i + 1] if i + 1 < len(vmd_argv) else ""
        if a == "-S" and qmp_fd is None:
            i += 1
            continue
        if a == "-chardev" and nxt.startswith("socket,id=qmp,"):
            if qmp_fd is not None:
                out += [a, "socket,id=qmp,fd=%d,server=on,wait=off" % qmp_fd]
            i += 2
            continue
        if a == "-mon" and "chardev=qmp" in nxt:
            if qmp_fd is not None:
                out += [a, nxt]
            i += 2
            continue
        if a == "-chardev" and nxt.startswith("socket,id=serial0,"):
            out += [a, "socket,id=serial0,fd=%d,server=on,wait=off"
                    % serial_fd]
            i += 2
            continue
        if a == "-chardev" and nxt.startswith("socket,id=serial"):
            i += 2  # more console ports: the bench VM has one
            continue
        out.append(a)
        i += 1
    return out


def listening_pair(path):
    """A listening socket for QEMU and our connection already waiting in
    its backlog, as vmd does: nothing QEMU prints can be missed."""
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(4)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    return lsock, conn


def bare_boot_once(argv_template, tmp):
    path = os.path.join(tmp, "bare-serial.sock")
    if os.path.exists(path):
        os.unlink(path)
    lsock, conn = listening_pair(path)
    argv = bare_argv(argv_template, lsock.fileno())
    conn.settimeout(60)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, pass_fds=[lsock.fileno()],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        first = conn.recv(1)
        t1 = time.perf_counter()
        if not first:
            raise RuntimeError("bare QEMU closed its serial: %s"
                               % proc.stderr.read().decode(errors="replace"))
    finally:
        proc.kill()
        proc.wait(30)
        proc.stderr.close()
        conn.close()
        lsock.close()
    return t1 - t0
