-- vmd store, version 3: access tokens.  A token is "vmd_ID_SECRET"; only
-- SHA-256(SECRET) is kept, so the store alone never lets anyone in.  Rows
-- stay after revocation or expiry, for token-list and the audit trail.

CREATE TABLE tokens (
	id      TEXT PRIMARY KEY,          -- 16 hex digits, public
	label   TEXT NOT NULL,
	scope   TEXT NOT NULL,             -- JSON: "admin", "read" or [{vm, allow}]
	created INTEGER NOT NULL,          -- unix seconds
	expires INTEGER,                   -- unix seconds; NULL: never
	revoked INTEGER,                   -- unix seconds; NULL: not revoked
	hash    BLOB NOT NULL CHECK (length(hash) = 32)  -- SHA-256 of the secret
);
