-- 0001: initial schema (DESIGN §4, the parts in use): meta, signing keys, clients, revoked jtis.
-- Applied in one transaction by store_sqlite.c; the last statement records the version.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Bumped by the triggers below on every change to signing_keys or clients, by any process, so a
-- running server notices changes made by the CLI (store_generation).
INSERT INTO meta (key, value) VALUES ('generation', '0');

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL,
    state        INTEGER NOT NULL CHECK (state IN (0, 1, 2)), -- next, current, retired
    created_at   INTEGER NOT NULL,
    activated_at INTEGER NOT NULL DEFAULT 0,
    retired_at   INTEGER NOT NULL DEFAULT 0,
    enc_private  BLOB NOT NULL,
    public_jwk   TEXT NOT NULL
);

CREATE TABLE clients (
    client_id         TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL DEFAULT '',
    secret_hash       BLOB CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    grant_types       TEXT NOT NULL DEFAULT '',
    scope             TEXT NOT NULL DEFAULT '',
    audiences         TEXT,
    token_alg         TEXT,
    token_ttl         INTEGER NOT NULL DEFAULT 0,
    auth_method       TEXT NOT NULL DEFAULT 'client_secret_basic',
    created_at        INTEGER NOT NULL,
    secret_rotated_at INTEGER NOT NULL DEFAULT 0
);

-- RFC 7009: access tokens deny-listed by jti until they expire.
CREATE TABLE revoked_jti (
    jti TEXT PRIMARY KEY NOT NULL,
    exp INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_jti_exp ON revoked_jti (exp);

CREATE TRIGGER signing_keys_gen_ins AFTER INSERT ON signing_keys BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER signing_keys_gen_upd AFTER UPDATE ON signing_keys BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER signing_keys_gen_del AFTER DELETE ON signing_keys BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER clients_gen_ins AFTER INSERT ON clients BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER clients_gen_upd AFTER UPDATE ON clients BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER clients_gen_del AFTER DELETE ON clients BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;

PRAGMA user_version = 1;
