-- vmd store, version 2: volumes, the disk images vmd owns, each a file in a
-- storage pool (a directory named by vmd's --pool NAME=DIR).  A linked clone
-- is a qcow2 overlay whose backing file is another volume, named here so
-- that vmd can open the whole chain itself and refuse to delete a base.

CREATE TABLE volumes (
	name     TEXT PRIMARY KEY,
	pool     TEXT NOT NULL,
	file     TEXT NOT NULL,             -- the file's name inside the pool
	format   TEXT NOT NULL CHECK (format IN ('raw', 'qcow2')),
	size     INTEGER NOT NULL,          -- virtual size in bytes
	backing  TEXT REFERENCES volumes(name),  -- NULL unless a linked clone
	readonly INTEGER NOT NULL DEFAULT 0,     -- a base (template disk)
	created  INTEGER,
	UNIQUE (pool, file)
);
CREATE INDEX volumes_by_backing ON volumes (backing);

-- A template cannot be started; its disks are read-only bases.
ALTER TABLE vms ADD COLUMN template INTEGER NOT NULL DEFAULT 0;
