-- conduit control plane, schema 1 (MySQL 8 / MariaDB 10.5 and later). Times are epoch milliseconds.
-- utf8mb4_bin: names compare exactly, as on PostgreSQL and SQLite (MySQL's default collation ignores case).
CREATE TABLE state_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO state_version (id, version) VALUES (1, 0);

CREATE TABLE nodes (
  name VARCHAR(63) PRIMARY KEY,
  identity VARCHAR(255) NOT NULL,
  role VARCHAR(16) NOT NULL,
  state VARCHAR(16) NOT NULL,
  addresses TEXT NOT NULL,
  server_address VARCHAR(300),
  public_key_pin VARCHAR(80) NOT NULL,
  pending_csr TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_seen BIGINT,
  cert_serial VARCHAR(64),
  cert_not_after BIGINT,
  applied_version BIGINT,
  applied_hash VARCHAR(128),
  changed_version BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE join_tokens (
  id VARCHAR(32) PRIMARY KEY,
  secret_hash VARCHAR(64) NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used BOOLEAN NOT NULL DEFAULT false,
  used_by VARCHAR(63),
  used_at BIGINT,
  created_by VARCHAR(255) NOT NULL,
  description VARCHAR(255)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE certificates (
  serial VARCHAR(64) PRIMARY KEY,
  node_name VARCHAR(63) NOT NULL,
  issued_at BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  revoked_at BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX certificates_node ON certificates (node_name);

CREATE TABLE ca_material (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  certificate_pem TEXT NOT NULL,
  encrypted_key BLOB NOT NULL,
  key_fingerprint VARCHAR(80) NOT NULL,
  created_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE audit_log (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor VARCHAR(255) NOT NULL,
  action VARCHAR(64) NOT NULL,
  subject VARCHAR(255),
  detail TEXT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
