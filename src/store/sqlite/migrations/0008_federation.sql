-- 0008: federation with upstream identity providers (issue 12). Times: upstream_identities in
-- seconds, fed_jwks.fetched_at in ms, fed_jti.exp in seconds (the assertion's exp).
--
-- Finding a user by SCIM externalId (user_get_by_external_id) uses users_external_id from 0002
-- (exact, BINARY collation, not UNIQUE: SCIM does not make externalId unique, so the store
-- reports two holders as a conflict); no new index is needed.

-- (issuer, subject) -> the local user it signs in as; goes with the user.
CREATE TABLE upstream_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) WITHOUT ROWID;
CREATE INDEX upstream_identities_user ON upstream_identities (user_id);

-- Single-use upstream assertion ids (RFC 7523 §3 item 7), bounded (STORE_FED_JTI_MAX): the row
-- count is kept by triggers so the bound costs one row read, not a count of the table.
CREATE TABLE fed_jti (
    issuer TEXT NOT NULL,
    jti    TEXT NOT NULL,
    exp    INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) WITHOUT ROWID;
CREATE INDEX fed_jti_exp ON fed_jti (exp);
CREATE TABLE fed_jti_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO fed_jti_count (id, n) VALUES (1, 0);
CREATE TRIGGER fed_jti_count_ins AFTER INSERT ON fed_jti BEGIN
    UPDATE fed_jti_count SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER fed_jti_count_del AFTER DELETE ON fed_jti BEGIN
    UPDATE fed_jti_count SET n = n - 1 WHERE id = 1;
END;

-- The last good JWKS per upstream issuer.
CREATE TABLE fed_jwks (
    issuer     TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL CHECK (json_valid(body)),
    fetched_at INTEGER NOT NULL,
    max_age    INTEGER NOT NULL DEFAULT 0
);

-- What each server (or `idpd federation refresh`) last saw of an upstream issuer's keys, for
-- `idpd federation status` in another process. Times in ms; last_error never holds key material.
-- A row written by the CLI (source 'cli') bumps the generation, so running servers re-read the
-- stored JWKS (fed_registry_reseed); the servers' own rows do not (they would reload every
-- snapshot on each refresh).
CREATE TABLE fed_status (
    issuer       TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('unfetched', 'ok', 'stale', 'failing')),
    last_success INTEGER NOT NULL DEFAULT 0,
    last_attempt INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '' CHECK (length(CAST(last_error AS BLOB)) <= 240),
    next_refresh INTEGER NOT NULL DEFAULT 0,
    kids         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(kids) AND json_type(kids) = 'array'),
    source       TEXT NOT NULL DEFAULT 'server' CHECK (source IN ('server', 'cli'))
);
CREATE TRIGGER fed_status_cli_ins AFTER INSERT ON fed_status WHEN NEW.source = 'cli' BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER fed_status_cli_upd AFTER UPDATE ON fed_status WHEN NEW.source = 'cli' BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;

PRAGMA user_version = 8;
