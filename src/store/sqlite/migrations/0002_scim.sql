-- 0002: SCIM users and groups, memberships, provisioning keys, the audit chain (DESIGN §4, §9).
--
-- Case-insensitive names: userName and displayName use COLLATE NOCASE, which folds ASCII letters
-- only ("ALICE" = "alice", but "Ä" <> "ä"). The filter translator (scim_sql.c) compares every
-- caseExact=false attribute with the same ASCII folding (COLLATE NOCASE / LIKE), so uniqueness
-- and filters agree. Full Unicode folding would need ICU; it is deliberately not used.
-- Times: *_at of users/groups in ms since the epoch; provisioning keys in seconds.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    user_name     TEXT NOT NULL COLLATE NOCASE,
    external_id   TEXT,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    doc           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(doc)),
    password_hash TEXT,
    token_epoch   INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL
);
-- `userName eq` (case-insensitive), uniqueness, and sortBy=userName.
CREATE UNIQUE INDEX users_user_name ON users (user_name COLLATE NOCASE);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_created ON users (created_at);
CREATE INDEX users_modified ON users (modified_at);

CREATE TABLE groups (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL COLLATE NOCASE,
    external_id  TEXT,
    doc          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(doc)),
    member_seq   INTEGER NOT NULL DEFAULT 0, -- last memberships.added_seq handed out
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL
);
CREATE INDEX groups_display_name ON groups (display_name COLLATE NOCASE);
CREATE INDEX groups_external_id ON groups (external_id);
CREATE INDEX groups_created ON groups (created_at);
CREATE INDEX groups_modified ON groups (modified_at);

-- One row per (group, user): a member change touches its own rows only.
CREATE TABLE memberships (
    group_id  TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_seq INTEGER NOT NULL, -- insertion order within the group
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_order ON memberships (group_id, added_seq);

CREATE TABLE provisioning_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    hash         BLOB NOT NULL CHECK (length(hash) = 32),
    scopes       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    replaced_by  TEXT
);

-- Hash-chained: hash = SHA-256 over prev_hash and the fields (store_audit_hash in store.c).
CREATE TABLE audit_events (
    seq            INTEGER PRIMARY KEY NOT NULL,
    time_ms        INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_type    TEXT,
    target_id      TEXT,
    before_version INTEGER NOT NULL DEFAULT 0,
    after_version  INTEGER NOT NULL DEFAULT 0,
    detail         TEXT,
    prev_hash      BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash           BLOB NOT NULL CHECK (length(hash) = 32)
);

-- A running server notices key creation/revocation/rotation through store_generation; the
-- frequent last_used_at updates deliberately do not count.
CREATE TRIGGER provisioning_keys_gen_ins AFTER INSERT ON provisioning_keys BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER provisioning_keys_gen_upd
AFTER UPDATE OF hash, scopes, expires_at, revoked_at, replaced_by ON provisioning_keys BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER provisioning_keys_gen_del AFTER DELETE ON provisioning_keys BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;

PRAGMA user_version = 2;
