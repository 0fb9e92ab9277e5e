-- 0009: the revocation feed's events (issue 14; verify/rev_event.h, docs/ARCHITECTURE.md
-- "Revocation feed"). Rows are written by the triggers below in the same transaction as the
-- change, so no code path can forget one, and a rolled-back change leaves none.
--  - seq: INTEGER PRIMARY KEY AUTOINCREMENT, never reused (not even after the newest rows were
--    pruned); SQLite has one writer at a time, so seq order is commit order and a rolled-back
--    insert gives its number back (no gaps).
--  - kind: rev_kind (1 token revoked, 2 user disabled, 3 user deleted, 4 user changed).
--  - event_at: seconds; until_at: no token the event concerns is valid after it: for a revoked
--    jti its exp + leeway, for a user event event_at + max_ttl + leeway.
--  - rev_bound (one row) holds max_ttl and leeway: the largest max_token_ttl and leeway any
--    server on this store ran with (raised at server start, never lowered: every access token
--    ever minted lives at most max_token_ttl, token_mint_ttl). NULL = no server recorded one
--    yet: the configuration's caps (30 days, 3600 s) stand in, a true bound for any config.
CREATE TABLE rev_bound (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    max_ttl INTEGER,
    leeway  INTEGER
);
INSERT INTO rev_bound (id) VALUES (1);

CREATE TABLE rev_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     INTEGER NOT NULL CHECK (kind IN (1, 2, 3, 4)),
    subject  TEXT NOT NULL,
    epoch    INTEGER NOT NULL DEFAULT 0,
    event_at INTEGER NOT NULL,
    until_at INTEGER NOT NULL
);
CREATE INDEX rev_events_until ON rev_events (until_at);

CREATE TRIGGER revoked_jti_rev AFTER INSERT ON revoked_jti BEGIN
    INSERT INTO rev_events (kind, subject, epoch, event_at, until_at)
    SELECT 1, NEW.jti, 0, t.now,
           max(t.now, NEW.exp + COALESCE((SELECT leeway FROM rev_bound WHERE id = 1), 3600))
    FROM (SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now) AS t;
END;

CREATE TRIGGER users_rev_upd AFTER UPDATE OF token_epoch ON users
WHEN NEW.token_epoch <> OLD.token_epoch BEGIN
    INSERT INTO rev_events (kind, subject, epoch, event_at, until_at)
    SELECT CASE WHEN OLD.active AND NOT NEW.active THEN 2 ELSE 4 END, NEW.id, NEW.token_epoch,
           t.now, t.now + COALESCE((SELECT max_ttl FROM rev_bound WHERE id = 1), 2592000)
                        + COALESCE((SELECT leeway FROM rev_bound WHERE id = 1), 3600)
    FROM (SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now) AS t;
END;

CREATE TRIGGER users_rev_del AFTER DELETE ON users BEGIN
    INSERT INTO rev_events (kind, subject, epoch, event_at, until_at)
    SELECT 3, OLD.id, OLD.token_epoch + 1,
           t.now, t.now + COALESCE((SELECT max_ttl FROM rev_bound WHERE id = 1), 2592000)
                        + COALESCE((SELECT leeway FROM rev_bound WHERE id = 1), 3600)
    FROM (SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now) AS t;
END;

PRAGMA user_version = 9;
