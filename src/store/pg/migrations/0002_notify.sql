-- 0002: LISTEN/NOTIFY on generation changes (issue 13). The generation trigger function also
-- sends NOTIFY idpd_generation; notifications are delivered at commit and folded per
-- transaction (same channel, same payload), so a transaction that bumps the generation many
-- times wakes each listener once. Servers wait on the channel (store.h wait_change) to reload
-- at once; polling store_generation every poll_interval_ms stays the correctness path.
CREATE OR REPLACE FUNCTION store_gen_bump() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1;
                PERFORM pg_notify('idpd_generation', ''); RETURN NULL; END $$;
