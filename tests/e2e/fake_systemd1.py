"""A stand-in for systemd's manager on a private D-Bus bus, for
test_scope.py: owns org.freedesktop.systemd1, records every
StartTransientUnit call as one JSON line in RECORD, and answers with a job
path, or with the D-Bus error --error names, after --delay seconds.

    fake_systemd1.py ADDRESS RECORD [--error NAME] [--delay SECONDS]

Prints "ready" on stdout once it owns the name.  Each property is recorded
as [name, D-Bus signature of its value, value], so a test can tell "au"
from "u" or "as"."""

import argparse
import json
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

MANAGER = "org.freedesktop.systemd1.Manager"
# Checked in this order: Boolean is an int, ObjectPath a str.
SIGNATURES = ((dbus.Boolean, "b"), (dbus.ObjectPath, "o"), (dbus.String, "s"),
              (dbus.Byte, "y"), (dbus.Int16, "n"), (dbus.UInt16, "q"),
              (dbus.Int32, "i"), (dbus.UInt32, "u"), (dbus.Int64, "x"),
              (dbus.UInt64, "t"), (dbus.Double, "d"))


def signature(value):
    if isinstance(value, dbus.Array):
        return "a" + (value.signature or "?")
    if isinstance(value, dbus.Struct):
        return "(" + "".join(signature(v) for v in value) + ")"
    for cls, sig in SIGNATURES:
        if isinstance(value, cls):
            return sig
    return "?"


def plain(value):
    if isinstance(value, (dbus.Array, dbus.Struct)):
        return [plain(v) for v in value]
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.String, dbus.ObjectPath)):
        return str(value)
    if isinstance(value, dbus.Double):
        return float(value)
    return int(value)


class Manager(dbus.service.Object):
    def __init__(self, bus, record, error, delay):
        super().__init__(bus, "/org/freedesktop/systemd1")
        self.record = record
        self.error = error
        self.delay = delay
        self.jobs = 0

    @dbus.service.method(MANAGER, in_signature="ssa(sv)a(sa(sv))",
                         out_signature="o", sender_keyword="sender",
                         async_callbacks=("ok", "fail"))
    def StartTransientUnit(self, name, mode, props, aux, sender=None,
                           ok=None, fail=None):
        entry = {"name": str(name), "mode": str(mode), "sender": str(sender),
                 "properties": [[str(k), signature(v), plain(v)]
                                for k, v in props],
                 "aux": plain(aux)}
        self.record.write(json.dumps(entry) + "\n")
        self.record.flush()
        self.jobs += 1
        job = dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % self.jobs)

        def answer():
            if self.error:
                fail(dbus.exceptions.DBusException(
                    "fake manager refuses %s" % name, name=self.error))
            else:
                ok(job)
            return False
        GLib.timeout_add(int(self.delay * 1000), answer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("record")
    ap.add_argument("--error")
    ap.add_argument("--delay", type=float, default=0)
    args = ap.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(args.address)
    record = open(args.record, "a")
    manager = Manager(bus, record, args.error, args.delay)  # noqa: F841
    name = dbus.service.BusName("org.freedesktop.systemd1", bus)  # noqa: F841
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    sys.exit(main())
