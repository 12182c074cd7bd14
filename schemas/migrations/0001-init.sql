-- vmd store, version 1: VM definitions, their runtime state, the audit log
-- and usage records.  Plain SQL that SQLite and dqlite both run; the store
-- applies each migration in one transaction and sets PRAGMA user_version
-- to the file's number itself.  Times are unix seconds.

-- One row per defined VM; config is the VmConfig JSON with defaults filled.
CREATE TABLE vms (
	uuid    TEXT PRIMARY KEY,
	name    TEXT UNIQUE NOT NULL,
	config  TEXT NOT NULL,
	created INTEGER,
	updated INTEGER
);

-- What vmd needs to find a VM's QEMU again after vmd restarts: the pid and
-- its process start time (from /proc, so a recycled pid is not mistaken for
-- QEMU) and the QMP socket.  Goes with its VM.
CREATE TABLE runtime (
	uuid      TEXT PRIMARY KEY REFERENCES vms(uuid) ON DELETE CASCADE,
	state     TEXT NOT NULL CHECK (state IN ('stopped', 'starting', 'running',
	                                         'paused', 'stopping', 'crashed')),
	pid       INTEGER,
	starttime INTEGER,
	qmp_path  TEXT,
	updated   INTEGER
);

-- Audit log of transitions and of who asked for what.  No foreign key: the
-- log must outlive the VM, so it keeps the name as it was.
CREATE TABLE events (
	id        INTEGER PRIMARY KEY,
	ts        INTEGER,
	uuid      TEXT,
	vm_name   TEXT,
	action    TEXT,
	old_state TEXT,
	new_state TEXT,
	reason    TEXT,
	who       TEXT
);
CREATE INDEX events_by_vm ON events (uuid, id);

-- Metering per VM per period, for billing; like the audit log it outlives
-- the VM.
CREATE TABLE usage (
	uuid             TEXT NOT NULL,
	period_start     INTEGER NOT NULL,
	vcpu_seconds     REAL NOT NULL DEFAULT 0,
	mib_seconds      REAL NOT NULL DEFAULT 0,
	cpu_time         REAL NOT NULL DEFAULT 0,
	disk_read_bytes  INTEGER NOT NULL DEFAULT 0,
	disk_write_bytes INTEGER NOT NULL DEFAULT 0,
	net_rx_bytes     INTEGER NOT NULL DEFAULT 0,
	net_tx_bytes     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (uuid, period_start)
);
