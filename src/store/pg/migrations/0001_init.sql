-- 0001: the whole schema of the SQLite backend after its 0008, in PostgreSQL types (text, bigint,
-- bytea, boolean), for store_pg*.c (issue 13). Applied in one transaction by store_pg.c, which
-- records the version in store_schema; no value is ever part of this text.
--
-- Differences from SQLite, each with the same observable behaviour:
--  - ASCII-only case folding (SQLite's COLLATE NOCASE) is store_fold(), an IMMUTABLE translate
--    of A-Z only, used by the unique userName index and by pg_sql.c's case-insensitive filters.
--  - json_valid() CHECKs are store_json_valid() (a jsonb cast that does not raise).
--  - The change counter is the row store_generation (id = 1), bumped by row triggers on the same
--    tables and columns as SQLite's triggers; meta holds settings only.
--  - store_writer (id = 1) is the writers' lock row: tx_begin locks and bumps it (store_pg.c).
--  - No user_emails trigram side table: pg_sql.c filters emails from the document directly.

CREATE FUNCTION store_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

CREATE FUNCTION store_json_valid(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN PERFORM t::jsonb; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;

CREATE FUNCTION store_json_type(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN RETURN jsonb_typeof(t::jsonb); EXCEPTION WHEN others THEN RETURN NULL; END $$;

-- jsonb values as SQLite's json_extract gives them to comparisons (pg_sql.c): numbers, booleans
-- as 1/0, and the elements of an array (nothing for anything else, as a missing attribute).
CREATE FUNCTION store_jnum(j jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN jsonb_typeof(j) = 'number' THEN (j #>> '{}')::numeric END $$;
CREATE FUNCTION store_jbool(j jsonb) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN j = 'true'::jsonb THEN 1 WHEN j = 'false'::jsonb THEN 0 END $$;
CREATE FUNCTION store_jarr(j jsonb) RETURNS SETOF jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT jsonb_array_elements(CASE WHEN jsonb_typeof(j) = 'array' THEN j
                                           ELSE '[]'::jsonb END) $$;
CREATE FUNCTION store_jarr_ord(j jsonb, OUT value jsonb, OUT ord bigint) RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(j) = 'array' THEN j
                                                  ELSE '[]'::jsonb END) WITH ORDINALITY $$;

CREATE TABLE store_generation (
    id integer PRIMARY KEY CHECK (id = 1),
    n  bigint NOT NULL
);
INSERT INTO store_generation (id, n) VALUES (1, 0);

CREATE TABLE store_writer (
    id integer PRIMARY KEY CHECK (id = 1),
    n  bigint NOT NULL
);
INSERT INTO store_writer (id, n) VALUES (1, 0);

CREATE FUNCTION store_gen_bump() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; RETURN NULL; END $$;

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    alg          text NOT NULL,
    state        bigint NOT NULL CHECK (state IN (0, 1, 2)),
    created_at   bigint NOT NULL,
    activated_at bigint NOT NULL DEFAULT 0,
    retired_at   bigint NOT NULL DEFAULT 0,
    enc_private  bytea NOT NULL,
    public_jwk   text NOT NULL
);
CREATE TRIGGER signing_keys_gen AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION store_gen_bump();

CREATE TABLE clients (
    client_id         text PRIMARY KEY,
    name              text NOT NULL DEFAULT '',
    secret_hash       bytea CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    grant_types       text NOT NULL DEFAULT '',
    scope             text NOT NULL DEFAULT '',
    audiences         text,
    token_alg         text,
    token_ttl         bigint NOT NULL DEFAULT 0,
    auth_method       text NOT NULL DEFAULT 'client_secret_basic',
    created_at        bigint NOT NULL,
    secret_rotated_at bigint NOT NULL DEFAULT 0,
    is_public         boolean NOT NULL DEFAULT false,
    redirect_uris     text,
    post_logout_redirect_uris text,
    jwks              text CHECK (jwks IS NULL OR store_json_valid(jwks)),
    backchannel_logout_uri text,
    introspect        text CHECK (introspect IS NULL OR introspect IN ('audience', 'any'))
);
CREATE TRIGGER clients_gen AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION store_gen_bump();

CREATE TABLE revoked_jti (
    jti text PRIMARY KEY,
    exp bigint NOT NULL
);
CREATE INDEX revoked_jti_exp ON revoked_jti (exp);

CREATE TABLE users (
    id            text PRIMARY KEY,
    user_name     text NOT NULL,
    external_id   text,
    active        boolean NOT NULL DEFAULT true,
    doc           text NOT NULL DEFAULT '{}' CHECK (store_json_valid(doc)),
    password_hash text,
    token_epoch   bigint NOT NULL DEFAULT 0,
    version       bigint NOT NULL DEFAULT 1,
    created_at    bigint NOT NULL,
    modified_at   bigint NOT NULL,
    user_name_key text,
    rid           bigint GENERATED ALWAYS AS IDENTITY -- insertion order (SQLite's rowid)
);
CREATE UNIQUE INDEX users_user_name ON users (store_fold(user_name));
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_created ON users (created_at);
CREATE INDEX users_modified ON users (modified_at);
CREATE INDEX users_user_name_key ON users (user_name_key);

CREATE TABLE groups (
    id           text PRIMARY KEY,
    display_name text NOT NULL,
    external_id  text,
    doc          text NOT NULL DEFAULT '{}' CHECK (store_json_valid(doc)),
    member_seq   bigint NOT NULL DEFAULT 0,
    version      bigint NOT NULL DEFAULT 1,
    created_at   bigint NOT NULL,
    modified_at  bigint NOT NULL,
    rid          bigint GENERATED ALWAYS AS IDENTITY -- insertion order (SQLite's rowid)
);
CREATE INDEX groups_display_name ON groups (store_fold(display_name));
CREATE INDEX groups_external_id ON groups (external_id);
CREATE INDEX groups_created ON groups (created_at);
CREATE INDEX groups_modified ON groups (modified_at);

CREATE TABLE memberships (
    group_id  text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_seq bigint NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_order ON memberships (group_id, added_seq);

CREATE TABLE provisioning_keys (
    id           text PRIMARY KEY,
    name         text NOT NULL DEFAULT '',
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    scopes       text NOT NULL DEFAULT '',
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL DEFAULT 0,
    revoked_at   bigint NOT NULL DEFAULT 0,
    last_used_at bigint NOT NULL DEFAULT 0,
    replaced_by  text
);
CREATE TRIGGER provisioning_keys_gen_ins AFTER INSERT OR DELETE ON provisioning_keys
    FOR EACH ROW EXECUTE FUNCTION store_gen_bump();
CREATE TRIGGER provisioning_keys_gen_upd
    AFTER UPDATE OF hash, scopes, expires_at, revoked_at, replaced_by ON provisioning_keys
    FOR EACH ROW EXECUTE FUNCTION store_gen_bump();

CREATE TABLE audit_events (
    seq            bigint PRIMARY KEY,
    time_ms        bigint NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    target_type    text,
    target_id      text,
    before_version bigint NOT NULL DEFAULT 0,
    after_version  bigint NOT NULL DEFAULT 0,
    detail         text,
    prev_hash      bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash           bytea NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE auth_codes (
    hash           bytea PRIMARY KEY CHECK (length(hash) = 32),
    client_id      text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   text NOT NULL,
    scope          text NOT NULL DEFAULT '',
    resource       text,
    nonce          text,
    code_challenge text,
    session_id     text,
    auth_time      bigint NOT NULL DEFAULT 0,
    amr            text,
    user_epoch     bigint NOT NULL DEFAULT 0,
    created_at     bigint NOT NULL,
    expires_at     bigint NOT NULL,
    used_at        bigint NOT NULL DEFAULT 0,
    family_id      text,
    access_jti     text,
    access_exp     bigint NOT NULL DEFAULT 0
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX auth_codes_client ON auth_codes (client_id);
CREATE INDEX auth_codes_user ON auth_codes (user_id);

CREATE TABLE refresh_tokens (
    hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
    family_id  text NOT NULL,
    client_id  text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope      text NOT NULL DEFAULT '',
    resource   text,
    session_id text,
    auth_time  bigint NOT NULL DEFAULT 0,
    amr        text,
    nonce      text,
    user_epoch bigint NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    rotated_at bigint NOT NULL DEFAULT 0,
    revoked_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE sessions (
    hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
    sid        text NOT NULL UNIQUE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_epoch bigint NOT NULL DEFAULT 0,
    auth_time  bigint NOT NULL DEFAULT 0,
    amr        text,
    created_at bigint NOT NULL,
    last_seen  bigint NOT NULL,
    expires_at bigint NOT NULL,
    clients    text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_failures (
    key      text PRIMARY KEY,
    fails    bigint NOT NULL,
    first_at bigint NOT NULL,
    last_at  bigint NOT NULL
);
CREATE INDEX login_failures_last ON login_failures (last_at);

CREATE TABLE assertion_jtis (
    client_id text NOT NULL,
    jti       text NOT NULL,
    exp       bigint NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_exp ON assertion_jtis (exp);

CREATE TABLE policy_versions (
    version    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256     text NOT NULL CHECK (length(sha256) = 64),
    document   text NOT NULL,
    created_at bigint NOT NULL,
    actor      text NOT NULL DEFAULT '',
    comment    text
);
CREATE INDEX policy_versions_sha256 ON policy_versions (sha256);
CREATE TABLE policy_activations (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      bigint NOT NULL REFERENCES policy_versions (version),
    activated_at bigint NOT NULL
);
CREATE INDEX policy_activations_version ON policy_activations (version);
CREATE TRIGGER policy_versions_gen AFTER INSERT OR UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION store_gen_bump();
CREATE TRIGGER policy_activations_gen AFTER INSERT OR UPDATE OR DELETE ON policy_activations
    FOR EACH ROW EXECUTE FUNCTION store_gen_bump();

CREATE TABLE consents (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      text NOT NULL,
    granted_at bigint NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);

CREATE TABLE upstream_identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX upstream_identities_user ON upstream_identities (user_id);

CREATE TABLE fed_jti (
    issuer text NOT NULL,
    jti    text NOT NULL,
    exp    bigint NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX fed_jti_exp ON fed_jti (exp);
CREATE TABLE fed_jti_count (
    id integer PRIMARY KEY CHECK (id = 1),
    n  bigint NOT NULL
);
INSERT INTO fed_jti_count (id, n) VALUES (1, 0);
CREATE FUNCTION fed_jti_count_bump() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN
        IF TG_OP = 'INSERT' THEN UPDATE fed_jti_count SET n = n + 1 WHERE id = 1;
        ELSE UPDATE fed_jti_count SET n = n - 1 WHERE id = 1; END IF;
        RETURN NULL;
    END $$;
CREATE TRIGGER fed_jti_count_trg AFTER INSERT OR DELETE ON fed_jti
    FOR EACH ROW EXECUTE FUNCTION fed_jti_count_bump();

CREATE TABLE fed_jwks (
    issuer     text PRIMARY KEY,
    body       text NOT NULL CHECK (store_json_valid(body)),
    fetched_at bigint NOT NULL,
    max_age    bigint NOT NULL DEFAULT 0
);

CREATE TABLE fed_status (
    issuer       text PRIMARY KEY,
    name         text NOT NULL,
    state        text NOT NULL CHECK (state IN ('unfetched', 'ok', 'stale', 'failing')),
    last_success bigint NOT NULL DEFAULT 0,
    last_attempt bigint NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT '' CHECK (octet_length(last_error) <= 240),
    next_refresh bigint NOT NULL DEFAULT 0,
    kids         text NOT NULL DEFAULT '[]' CHECK (store_json_type(kids) = 'array'),
    source       text NOT NULL DEFAULT 'server' CHECK (source IN ('server', 'cli'))
);
CREATE TRIGGER fed_status_cli AFTER INSERT OR UPDATE ON fed_status
    FOR EACH ROW WHEN (NEW.source = 'cli') EXECUTE FUNCTION store_gen_bump();
