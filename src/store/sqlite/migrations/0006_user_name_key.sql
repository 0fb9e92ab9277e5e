-- 0006: the comparison form of userName (scim/username.h: Unicode NFKC + case folding), so that
-- look-alike names ("alice", "ALICE", full-width "ａlice") cannot belong to two users. The key is
-- computed in C (SQLite has no NFKC); rows from before this migration get it when the store
-- opens (store_sqlite_open). The index is not UNIQUE so that a database holding look-alikes
-- created before this version still opens; new writes are checked against it inside the
-- writer's transaction (sqs_user_create/replace), which only one writer holds at a time.
ALTER TABLE users ADD COLUMN user_name_key TEXT;
CREATE INDEX users_user_name_key ON users (user_name_key);
PRAGMA user_version = 6;
