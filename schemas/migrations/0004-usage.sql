-- vmd store, version 4: usage metering (daemon/meter.c).  It replaces the
-- `usage` table of version 1, which nothing ever wrote: its REAL columns
-- could not hold exact amounts and it had no place for disks or NICs.
-- Amounts are integers (seconds, microseconds, bytes, operations); a
-- counter's name is "cpu_us", "running_s", ... or "DEVICE.counter"
-- ("disk0.rd_bytes", "nic1.tx_packets", "serial0.bytes").  Usage rows
-- have no foreign key: like the audit log they outlive the VM.
DROP TABLE usage;

-- The meter of each VM, rewritten in the same transaction as the usage it
-- adds: how far time is counted, and the last raw reading of the counters
-- (those of QEMU named by epoch; a new QEMU's start again at 0).  A vmd
-- that restarts continues from here, so nothing is lost or counted twice.
CREATE TABLE usage_meter (
	uuid  TEXT PRIMARY KEY,
	t     INTEGER NOT NULL,     -- unix seconds: time is counted up to here
	state TEXT NOT NULL,        -- the VM's state since t
	epoch TEXT NOT NULL,        -- "PID:STARTTIME" of the QEMU read last
	traw  INTEGER NOT NULL,     -- unix seconds of the last raw reading
	raw   TEXT NOT NULL         -- JSON {"counter": last raw value}
);

-- What each sample added, kept --meter-retention days.
CREATE TABLE usage_sample (
	uuid  TEXT NOT NULL,
	t0    INTEGER NOT NULL,     -- [t0, t1): the span it covers
	t1    INTEGER NOT NULL,
	delta TEXT NOT NULL         -- JSON {"counter": amount}, non-zero only
);
CREATE INDEX usage_sample_by_vm ON usage_sample (uuid, t1);
CREATE INDEX usage_sample_by_t1 ON usage_sample (t1);

-- Roll-ups, kept for ever: per VM, hour or month (`period`) starting at
-- `start` (unix seconds, UTC), counter.  A sample spanning a boundary is
-- split (meter_calc.h); a month's row is the sum of its hours'.
CREATE TABLE usage_rollup (
	uuid    TEXT NOT NULL,
	period  TEXT NOT NULL CHECK (period IN ('hour', 'month')),
	start   INTEGER NOT NULL,
	counter TEXT NOT NULL,
	value   INTEGER NOT NULL,
	-- in the order usage-report reads them: no sort, no second lookup
	PRIMARY KEY (period, uuid, start, counter)
) WITHOUT ROWID;
