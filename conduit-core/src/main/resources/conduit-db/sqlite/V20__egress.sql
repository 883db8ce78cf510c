-- conduit egress server, schema 20 (SQLite): allowlist entries, the addresses their names resolve to, and the
-- egress audit log. Times are epoch milliseconds.
CREATE TABLE egress_entries (
  id VARCHAR(32) PRIMARY KEY,
  entry_value VARCHAR(260) NOT NULL UNIQUE,
  kind VARCHAR(16) NOT NULL,
  ports VARCHAR(400) NOT NULL,
  non_deletable BOOLEAN NOT NULL,
  note VARCHAR(500) NOT NULL,
  created_at BIGINT NOT NULL,
  created_by VARCHAR(255) NOT NULL,
  last_resolved_at BIGINT,
  last_error VARCHAR(500)
);

CREATE TABLE egress_addresses (
  entry_id VARCHAR(32) NOT NULL REFERENCES egress_entries (id) ON DELETE CASCADE,
  address VARCHAR(45) NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  grace_until BIGINT,
  PRIMARY KEY (entry_id, address)
);

CREATE TABLE egress_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at BIGINT NOT NULL,
  actor VARCHAR(255) NOT NULL,
  action VARCHAR(32) NOT NULL,
  subject VARCHAR(300),
  detail TEXT
);
