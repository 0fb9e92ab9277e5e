-- 0003: end-user sign-in (OIDC authorization code, refresh rotation, browser sessions, logout),
-- login throttling, private_key_jwt replay cache, and the versioned policy (DESIGN §4, §5, §7).
--
-- Times in seconds since the epoch. Codes, refresh tokens and session cookies are never stored:
-- only their SHA-256 (32-byte BLOB). user_id/client_id columns reference users/clients with
-- ON DELETE CASCADE: deleting a user or a client deletes its codes, refresh tokens and sessions.

-- Clients of the authorization code flow. Existing rows: confidential, no URIs.
ALTER TABLE clients ADD COLUMN is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1));
ALTER TABLE clients ADD COLUMN redirect_uris TEXT;
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT;
ALTER TABLE clients ADD COLUMN jwks TEXT CHECK (jwks IS NULL OR json_valid(jwks));
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
-- (clients_gen_upd from 0001 fires on every column, the new ones included.)

-- RFC 6749 §4.1: single use. Used rows stay until expiry + 10 min so a replay is recognised and
-- the tokens issued from the code (family_id, access_jti) can be revoked (§4.1.2).
CREATE TABLE auth_codes (
    hash           BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL DEFAULT '',
    resource       TEXT,
    nonce          TEXT,
    code_challenge TEXT,
    session_id     TEXT,
    auth_time      INTEGER NOT NULL DEFAULT 0,
    amr            TEXT,
    user_epoch     INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER NOT NULL DEFAULT 0,
    family_id      TEXT,
    access_jti     TEXT,
    access_exp     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX auth_codes_client ON auth_codes (client_id);
CREATE INDEX auth_codes_user ON auth_codes (user_id);

-- DESIGN §5 / RFC 9700 §4.14: rotated on every use; a family is the chain of rotations.
CREATE TABLE refresh_tokens (
    hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL DEFAULT '',
    resource   TEXT,
    session_id TEXT,
    auth_time  INTEGER NOT NULL DEFAULT 0,
    amr        TEXT,
    nonce      TEXT,
    user_epoch INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Browser sessions: hash of the cookie value; sid is the public id (ID token "sid", OIDC
-- Back-Channel Logout 1.0 §2.4); clients lists the client_ids that got tokens in the session.
CREATE TABLE sessions (
    hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    sid        TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_epoch INTEGER NOT NULL DEFAULT 0,
    auth_time  INTEGER NOT NULL DEFAULT 0,
    amr        TEXT,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    clients    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed sign-ins per key ("user:<name>", "ip:<addr>", chosen by the caller) for back-off.
CREATE TABLE login_failures (
    key      TEXT PRIMARY KEY NOT NULL,
    fails    INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_failures_last ON login_failures (last_at);

-- RFC 7523 §3 (7): a client assertion's jti is accepted once per client.
CREATE TABLE assertion_jtis (
    client_id TEXT NOT NULL,
    jti       TEXT NOT NULL,
    exp       INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) WITHOUT ROWID;
CREATE INDEX assertion_jtis_exp ON assertion_jtis (exp);

-- DESIGN §7: every loaded policy document gets a version; AUTOINCREMENT never reuses a number.
-- The active version is the one of the latest activation (history kept for diff and rollback).
CREATE TABLE policy_versions (
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    actor      TEXT NOT NULL DEFAULT '',
    comment    TEXT
);
CREATE INDEX policy_versions_sha256 ON policy_versions (sha256);
CREATE TABLE policy_activations (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    version      INTEGER NOT NULL REFERENCES policy_versions (version),
    activated_at INTEGER NOT NULL
);
CREATE INDEX policy_activations_version ON policy_activations (version);

-- A running server reloads the policy when the generation moves (store_generation).
CREATE TRIGGER policy_versions_gen_ins AFTER INSERT ON policy_versions BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER policy_versions_gen_upd AFTER UPDATE ON policy_versions BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER policy_versions_gen_del AFTER DELETE ON policy_versions BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER policy_activations_gen_ins AFTER INSERT ON policy_activations BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER policy_activations_gen_upd AFTER UPDATE ON policy_activations BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER policy_activations_gen_del AFTER DELETE ON policy_activations BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;

PRAGMA user_version = 3;
