-- 0004: end-user consent, per user and client: the scopes granted so far (issue "end-user
-- sign-in": consent listing the scopes in words, asked again only for new scopes).
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
CREATE INDEX consents_client ON consents (client_id);
PRAGMA user_version = 4;
