-- vmd store, version 6: the transfer quotas vmd is enforcing (daemon/quota.c),
-- so that a restarted vmd lifts what it did before it stopped, and only
-- that, and does not announce again a quota it announced already.
CREATE TABLE quota_enforced (
	uuid   TEXT PRIMARY KEY REFERENCES vms(uuid) ON DELETE CASCADE,
	month  INTEGER NOT NULL,    -- unix seconds of the month's start (UTC)
	action TEXT NOT NULL,       -- "event", "throttle" or "pause"
	paused INTEGER NOT NULL DEFAULT 0,  -- 1: vmd paused the guest for it
	since  INTEGER NOT NULL     -- unix seconds: when it was reached
) WITHOUT ROWID;
