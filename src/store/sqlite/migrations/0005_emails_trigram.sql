-- 0005: a trigram index over the users' email addresses, so the filters `emails co "..."`,
-- `emails sw` and `emails ew` (what provisioning clients and admins search by) are answered from
-- an index instead of reading every user's document (issue "provisioning", item 6).
--
-- user_emails holds one row per email value, kept in step with users.doc by triggers; the FTS5
-- table (trigram tokenizer, SQLite >= 3.34) indexes it as external content. The filter
-- translator (scim_sql.c) uses it only as a prefilter (a superset of the matches: trigram folding
-- covers ASCII folding) and still checks the exact SCIM comparison on each candidate.
CREATE TABLE user_emails (
    id      INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    value   TEXT NOT NULL
);
CREATE INDEX user_emails_user ON user_emails (user_id);
CREATE VIRTUAL TABLE user_emails_trgm USING fts5 (
    value, content = 'user_emails', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER user_emails_ai AFTER INSERT ON user_emails BEGIN
    INSERT INTO user_emails_trgm (rowid, value) VALUES (NEW.id, NEW.value);
END;
CREATE TRIGGER user_emails_ad AFTER DELETE ON user_emails BEGIN
    INSERT INTO user_emails_trgm (user_emails_trgm, rowid, value) VALUES ('delete', OLD.id, OLD.value);
END;
CREATE TRIGGER users_emails_ai AFTER INSERT ON users BEGIN
    INSERT INTO user_emails (user_id, value)
        SELECT NEW.id, json_extract(e.value, '$.value') FROM json_each(NEW.doc, '$.emails') AS e
        WHERE json_type(e.value, '$.value') = 'text';
END;
CREATE TRIGGER users_emails_au AFTER UPDATE OF doc ON users BEGIN
    DELETE FROM user_emails WHERE user_id = OLD.id;
    INSERT INTO user_emails (user_id, value)
        SELECT NEW.id, json_extract(e.value, '$.value') FROM json_each(NEW.doc, '$.emails') AS e
        WHERE json_type(e.value, '$.value') = 'text';
END;
CREATE TRIGGER users_emails_ad AFTER DELETE ON users BEGIN
    DELETE FROM user_emails WHERE user_id = OLD.id;
END;
INSERT INTO user_emails (user_id, value)
    SELECT u.id, json_extract(e.value, '$.value') FROM users AS u, json_each(u.doc, '$.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
PRAGMA user_version = 5;
