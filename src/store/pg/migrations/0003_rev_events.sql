-- 0003: the revocation feed's events (issue 14), as SQLite's 0009 (read its header for the
-- columns and rev_bound). Differences, each for the same observable behaviour:
--  - seq comes from the counter row rev_bound.seq, bumped by the trigger (UPDATE ... RETURNING),
--    not from a sequence: PostgreSQL sequences are not commit-ordered (a transaction can take
--    seq 7, another 8 and commit first, and a reader that saw 8 would skip 7 for good). The row
--    lock serialises every writer of an event until its commit, so seq order is commit order
--    and every snapshot sees a gapless prefix; a rolled-back transaction gives its number back.
--    Writers through the store already hold the store_writer lock, so this adds no waiting.
--  - the time is clock_timestamp() (not the transaction's start), in whole seconds.
--  - each event also sends NOTIFY idpd_generation (folded per transaction), so the servers'
--    background threads (wait_change) read new events at once; the generation itself does not
--    move (no snapshot reloads).
CREATE TABLE rev_bound (
    id      integer PRIMARY KEY CHECK (id = 1),
    seq     bigint NOT NULL,
    max_ttl bigint,
    leeway  bigint
);
INSERT INTO rev_bound (id, seq) VALUES (1, 0);

CREATE TABLE rev_events (
    seq      bigint PRIMARY KEY,
    kind     integer NOT NULL CHECK (kind IN (1, 2, 3, 4)),
    subject  text NOT NULL,
    epoch    bigint NOT NULL DEFAULT 0,
    event_at bigint NOT NULL,
    until_at bigint NOT NULL
);
CREATE INDEX rev_events_until ON rev_events (until_at);

CREATE FUNCTION rev_event_add(k integer, subj text, ep bigint, tok_exp bigint) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE s bigint; mt bigint; lw bigint; t bigint;
    BEGIN
        UPDATE rev_bound SET seq = seq + 1 WHERE id = 1 RETURNING seq, max_ttl, leeway
            INTO s, mt, lw;
        t := floor(extract(epoch FROM clock_timestamp()))::bigint;
        lw := COALESCE(lw, 3600);
        INSERT INTO rev_events (seq, kind, subject, epoch, event_at, until_at)
            VALUES (s, k, subj, ep, t, CASE WHEN k = 1 THEN GREATEST(t, tok_exp + lw)
                                            ELSE t + COALESCE(mt, 2592000) + lw END);
        PERFORM pg_notify('idpd_generation', '');
    END $$;

CREATE FUNCTION rev_jti_ins() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM rev_event_add(1, NEW.jti, 0, NEW.exp); RETURN NULL; END $$;
CREATE TRIGGER revoked_jti_rev AFTER INSERT ON revoked_jti
    FOR EACH ROW EXECUTE FUNCTION rev_jti_ins();

CREATE FUNCTION rev_user_upd() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM rev_event_add(CASE WHEN OLD.active AND NOT NEW.active THEN 2 ELSE 4 END,
                                      NEW.id, NEW.token_epoch, 0);
                RETURN NULL; END $$;
CREATE TRIGGER users_rev_upd AFTER UPDATE OF token_epoch ON users
    FOR EACH ROW WHEN (NEW.token_epoch IS DISTINCT FROM OLD.token_epoch)
    EXECUTE FUNCTION rev_user_upd();

CREATE FUNCTION rev_user_del() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM rev_event_add(3, OLD.id, OLD.token_epoch + 1, 0); RETURN NULL; END $$;
CREATE TRIGGER users_rev_del AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION rev_user_del();
