// A throw-away PostgreSQL cluster for the integration tests (issue 13): scripts/pg.sh start in
// a before hook (once per file), one fresh database per test (CREATE DATABASE over the cluster's
// admin connection, with psql), the cluster stopped by its PID in the after hook and, like the
// servers of tests/lib/idpd.mjs, on process exit and on SIGTERM/SIGINT/SIGHUP even when a test
// or a hook failed. Needs PostgreSQL installed (scripts/deps.sh test; pg.sh installs it as
// root) — nothing else.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pgSh = path.join(repo, 'scripts', 'pg.sh');

const live = new Set(); // cluster dirs to stop
function stopSync(dir) {
  if (!live.has(dir)) return;
  live.delete(dir);
  // pg.sh stop: by the PID in DIR/pid (SIGINT, SIGKILL after a bound), then removes DIR
  spawnSync('bash', [pgSh, 'stop', dir], { stdio: 'ignore', timeout: 30000 });
  if (existsSync(dir)) {
    try {
      const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
      if (pid > 1) process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
}
process.on('exit', () => { for (const d of [...live]) stopSync(d); });
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  // idpd.mjs's handler calls process.exit, which runs the exit handler above
  if (process.listenerCount(sig) === 0) process.on(sig, () => process.exit(1));
}

function pgBin(name) {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const vers = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const v of vers) {
      const p = path.join(root, v, 'bin', name);
      if (existsSync(p)) return p;
    }
  }
  return name;
}

/**
 * Starts a cluster: {uri (of the database idpd), adminUri (database postgres), dir,
 * newDatabase(): a fresh database's URI, psql(sql, uri?): stdout, stop()}.
 */
export function startCluster() {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'idpd-pgt-'));
  rmSync(parent, { recursive: true, force: true }); // pg.sh wants a missing or empty DIR
  live.add(parent);
  const r = spawnSync('bash', [pgSh, 'start', parent], { encoding: 'utf8', timeout: 180000 });
  if (r.status !== 0) {
    stopSync(parent);
    throw new Error(`scripts/pg.sh start failed (${r.status}): ${r.stderr}`);
  }
  const uri = readFileSync(path.join(parent, 'uri'), 'utf8').trim();
  const u = new URL(uri);
  const adminUri = `${u.protocol}//${u.username}@${u.host}/postgres`;
  const psqlBin = pgBin('psql');
  const psql = (sql, on = adminUri) => {
    const q = spawnSync(psqlBin, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', on, '-c', sql],
      { encoding: 'utf8', timeout: 30000 });
    if (q.status !== 0) throw new Error(`psql ${sql}: ${q.stderr}`);
    return q.stdout.trim();
  };
  let n = 0;
  return {
    dir: parent,
    uri,
    adminUri,
    psql,
    newDatabase() {
      const name = `t${process.pid}_${++n}`;
      psql(`CREATE DATABASE ${name}`);
      return `${u.protocol}//${u.username}@${u.host}/${name}`;
    },
    stop() { stopSync(parent); },
  };
}
