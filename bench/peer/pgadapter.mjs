// A PostgreSQL storage adapter for oidc-provider (its adapter interface:
// upsert, find, findByUid, findByUserCode, consume, destroy,
// revokeByGrantId), so that the refresh benchmark can also compare like for
// like: both servers keep their grants and refresh tokens in PostgreSQL and
// commit every rotation before answering. One table, one row per model
// instance, the payload as jsonb; a pool of 20 connections, as Gatehouse's.
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.PEER_DATABASE_URL, max: 20 });

export async function migrate() {
  await pool.query(`CREATE TABLE IF NOT EXISTS oidc_payloads (
    id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL,
    grant_id text, user_code text, uid text, expires_at timestamptz, consumed_at timestamptz,
    PRIMARY KEY (id, type))`);
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_payloads_grant_id ON oidc_payloads (grant_id)');
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_payloads_uid ON oidc_payloads (uid)');
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_payloads_user_code ON oidc_payloads (user_code)');
}

const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'ClientCredentials', 'BackchannelAuthenticationRequest']);

function row(r) {
  if (!r) return undefined;
  return { ...r.payload, ...(r.consumed_at ? { consumed: true } : {}) };
}

export class PgAdapter {
  constructor(name) {
    this.type = name;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    await pool.query(
      `INSERT INTO oidc_payloads (id, type, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id, type) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
         user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
      [id, this.type, payload, grantable.has(this.type) ? payload.grantId : null, payload.userCode || null, payload.uid || null, expiresAt],
    );
  }

  async find(id) {
    const { rows } = await pool.query(
      'SELECT payload, consumed_at FROM oidc_payloads WHERE id = $1 AND type = $2 AND (expires_at IS NULL OR expires_at > now())',
      [id, this.type],
    );
    return row(rows[0]);
  }

  async findByUid(uid) {
    const { rows } = await pool.query('SELECT payload, consumed_at FROM oidc_payloads WHERE uid = $1 AND type = $2', [uid, this.type]);
    return row(rows[0]);
  }

  async findByUserCode(userCode) {
    const { rows } = await pool.query('SELECT payload, consumed_at FROM oidc_payloads WHERE user_code = $1 AND type = $2', [userCode, this.type]);
    return row(rows[0]);
  }

  async consume(id) {
    await pool.query('UPDATE oidc_payloads SET consumed_at = now() WHERE id = $1 AND type = $2', [id, this.type]);
  }

  async destroy(id) {
    await pool.query('DELETE FROM oidc_payloads WHERE id = $1 AND type = $2', [id, this.type]);
  }

  async revokeByGrantId(grantId) {
    await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
  }
}
