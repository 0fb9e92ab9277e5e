// `idpd store migrate` (issue 13): reports the schema version found and the one this binary
// knows, applies what is pending (one transaction per migration) and says what it applied, or
// "schema up to date at version N"; a schema newer than the binary is refused by `store migrate`
// and by `serve`, naming both versions, and nothing is written. `serve` still applies pending
// migrations itself (nothing new is required of a deployment). Runs on SQLite, and on PostgreSQL
// under IDPD_TEST_STORE=pg (tests/lib/idpd.mjs: a fresh database per data dir).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cli, cliAsync, getJson, initDataDir, removeDir, startServer, stopOk, storeKind, storeSql, tempDir }
  from '../lib/idpd.mjs';

const pg = storeKind === 'pg';

function schemaVersion(dir) {
  return Number(storeSql(dir, pg ? 'SELECT version FROM store_schema WHERE id = 1' : 'PRAGMA user_version'));
}

function setSchemaVersion(dir, v) {
  storeSql(dir, pg ? `UPDATE store_schema SET version = ${v} WHERE id = 1` : `PRAGMA user_version = ${v}`);
}

// Undoes the newest migration of each backend (the revocation feed: SQLite 0009, PostgreSQL
// 0003): drops its objects and sets the version one lower, i.e. the store as the previous idpd
// release left it.
const LAST = pg ? '0003_rev_events.sql' : '0009_rev_events.sql';
function undoLastMigration(dir, known) {
  if (pg) {
    storeSql(dir, 'SET client_min_messages = warning; DROP TABLE rev_events; DROP TABLE rev_bound; ' +
      'DROP FUNCTION rev_event_add, rev_jti_ins, rev_user_upd, rev_user_del CASCADE; ' +
      `UPDATE store_schema SET version = ${known - 1} WHERE id = 1`);
  } else {
    storeSql(dir, 'DROP TRIGGER revoked_jti_rev; DROP TRIGGER users_rev_upd; DROP TRIGGER users_rev_del; ' +
      `DROP TABLE rev_events; DROP TABLE rev_bound; PRAGMA user_version = ${known - 1};`);
  }
}

function revTables(dir) {
  return Number(storeSql(dir, pg
    ? "SELECT count(*) FROM pg_tables WHERE tablename IN ('rev_events', 'rev_bound')"
    : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('rev_events', 'rev_bound')"));
}

describe(`idpd store migrate (${storeKind})`, () => {
  const dirs = [];
  const servers = [];
  const fresh = () => { const d = initDataDir(); dirs.push(d); return d; };
  after(async () => {
    for (const s of servers) await stopOk(s);
    for (const d of dirs) removeDir(d);
  });

  let known;

  test('a fresh store: up to date at the version this binary knows (text and --json)', () => {
    const dir = fresh();
    const j = cli(['store', 'migrate', '--json'], { dataDir: dir });
    assert.equal(j.status, 0, j.stderr);
    assert.equal(j.json.backend, pg ? 'postgresql' : 'sqlite');
    known = j.json.known;
    assert.ok(Number.isInteger(known) && known >= 3, `known ${known}`);
    assert.deepEqual(j.json, { backend: j.json.backend, before: known, after: known, known, applied: [] });
    assert.equal(schemaVersion(dir), known);

    const r = cli(['store', 'migrate'], { dataDir: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout,
      `store: ${j.json.backend}, schema version ${known}, this idpd knows ${known}\n` +
      `schema up to date at version ${known}\n`);
    assert.equal(schemaVersion(dir), known);
  });

  test('a store one migration behind: migrate applies it, says so, and the server starts', async () => {
    const dir = fresh();
    undoLastMigration(dir, known);
    assert.equal(schemaVersion(dir), known - 1);
    assert.equal(revTables(dir), 0);

    const r = cli(['store', 'migrate'], { dataDir: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout,
      `store: ${pg ? 'postgresql' : 'sqlite'}, schema version ${known - 1}, this idpd knows ${known}\n` +
      `applied ${LAST}\nschema now at version ${known}\n`);
    assert.equal(schemaVersion(dir), known);
    assert.equal(revTables(dir), 2, 'the migration\'s tables are back');

    const again = cli(['store', 'migrate', '--json'], { dataDir: dir });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(again.json.applied, []);
    assert.equal(again.json.before, known);

    const srv = await startServer(dir);
    servers.push(srv);
    const disc = await getJson(`${srv.url}/.well-known/openid-configuration`);
    assert.equal(disc.status, 200);
    assert.equal(await srv.stop(), 0);
  });

  test('--json lists what it applied', () => {
    const dir = fresh();
    undoLastMigration(dir, known);
    const j = cli(['store', 'migrate', '--json'], { dataDir: dir });
    assert.equal(j.status, 0, j.stderr);
    assert.deepEqual(j.json, { backend: pg ? 'postgresql' : 'sqlite', before: known - 1, after: known, known,
      applied: [LAST] });
  });

  test('two migrate runs at once on a store behind: both succeed, the migration is applied once', async () => {
    const dir = fresh();
    undoLastMigration(dir, known);
    const [a, b] = await Promise.all([cliAsync(['store', 'migrate', '--json'], { dataDir: dir }),
      cliAsync(['store', 'migrate', '--json'], { dataDir: dir })]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(a.json.after, known);
    assert.equal(b.json.after, known);
    assert.equal(schemaVersion(dir), known);
    assert.equal(revTables(dir), 2);
  });

  test('serve (no migrate run first) still applies a pending migration itself', async () => {
    const dir = fresh();
    undoLastMigration(dir, known);
    const srv = await startServer(dir);
    servers.push(srv);
    assert.equal(schemaVersion(dir), known);
    assert.equal(revTables(dir), 2);
    assert.equal(await srv.stop(), 0);
  });

  test('a schema newer than this binary: store migrate and serve refuse, naming both versions', () => {
    const dir = fresh();
    const newer = known + 5;
    setSchemaVersion(dir, newer);
    const msg = new RegExp(`schema version ${newer} is newer than this idpd supports \\(${known}\\)`);

    const r = cli(['store', 'migrate'], { dataDir: dir });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, msg);
    assert.match(r.stderr, /^idpd store migrate: /);
    assert.equal(r.stdout, '');
    const j = cli(['store', 'migrate', '--json'], { dataDir: dir });
    assert.equal(j.status, 1);
    assert.match(j.stderr, msg);
    assert.equal(schemaVersion(dir), newer, 'nothing was written');

    const s = cli(['serve', '--listen', '127.0.0.1:0'], { dataDir: dir, timeout: 30000 });
    assert.equal(s.status, 1, `serve must refuse: status ${s.status} signal ${s.signal}\n${s.stderr}`);
    assert.match(s.stderr, msg);
    assert.equal(schemaVersion(dir), newer);

    // other commands that open the store refuse the same way
    const c = cli(['client', 'list'], { dataDir: dir });
    assert.equal(c.status, 1);
    assert.match(c.stderr, msg);
  });

  test('no store / bad usage: clear errors, no store is created', () => {
    const empty = tempDir();
    dirs.push(empty);
    const r = cli(['store', 'migrate'], { dataDir: empty });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no idpd\.db here \(run idpd init/);
    assert.equal(cli(['store', 'migrate'], { env: {} }).status, 2, 'neither --store nor --data-dir');
    assert.equal(cli(['store', 'migrate', 'extra'], { dataDir: empty }).status, 2);
    assert.equal(cli(['store', 'migrate', '--bogus'], { dataDir: empty }).status, 2);
    assert.equal(cli(['store', 'frobnicate']).status, 2);
    assert.equal(cli(['store']).status, 2);
    const h = cli(['store', 'migrate', '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Usage: idpd store migrate/);
    const list = cli(['store', 'migrate', '--store', `${empty}/none.db`]);
    assert.equal(list.status, 1);
    assert.match(list.stderr, /does not exist/);
    assert.equal(existsSync(path.join(empty, 'idpd.db')), false);
    assert.equal(existsSync(path.join(empty, 'none.db')), false);
  });
});
