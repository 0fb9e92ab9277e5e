-- 0007: which other clients' access tokens a client may introspect (RFC 7662 §4: the server
-- decides per caller). NULL = only the tokens issued to it; 'audience' = also tokens whose aud
-- names one of its registered audiences (a resource server); 'any' = every token.
ALTER TABLE clients ADD COLUMN introspect TEXT CHECK (introspect IS NULL OR introspect IN ('audience', 'any'));
-- (clients_gen_upd from 0001 fires on every column, this one included.)
PRAGMA user_version = 7;
