-- vmd store, version 5: plans, the plan each VM had when, and usage per
-- plan segment (daemon/plan.c, daemon/cmd_invoice.c).  Amounts are
-- integers: prices in the currency's minor units, usage in the base units
-- of metering (0004).
CREATE TABLE plan (
	name TEXT PRIMARY KEY,
	def  TEXT NOT NULL          -- JSON: plan-define's arguments
);

-- The plan and customer of each VM since a second: a row each time they
-- (or the plan's definition) change.  def is the plan as it was, so an
-- invoice of a past month stays the same after the plan changes or goes.
CREATE TABLE plan_history (
	uuid     TEXT NOT NULL,
	since    INTEGER NOT NULL,  -- unix seconds
	plan     TEXT,              -- NULL: no plan from then on
	customer TEXT,              -- the VM's label "customer"
	def      TEXT,
	PRIMARY KEY (uuid, since)
) WITHOUT ROWID;
CREATE INDEX plan_history_by_customer ON plan_history (customer);

-- usage_rollup's months again, split by plan segment (the plan_history row whose
-- since is the last at or before the sample's start): the same samples
-- add to both in the same transaction.
CREATE TABLE usage_plan (
	uuid    TEXT NOT NULL,
	month   INTEGER NOT NULL,
	since   INTEGER NOT NULL,   -- the segment's plan_history.since, 0: none
	counter TEXT NOT NULL,
	value   INTEGER NOT NULL,
	PRIMARY KEY (uuid, month, since, counter)
) WITHOUT ROWID;
