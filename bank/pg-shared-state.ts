// The SharedState seam (shared-state.ts) in the PostgreSQL ledger's database: each operation is
// one statement, atomic on its own, so hosts need no lock around it.
import type pg from 'pg';
import { HANDOVERS_MAX, type Handover, type SharedState } from './shared-state.js';

export class PgSharedState implements SharedState {
  constructor(
    private readonly pool: pg.Pool,
    private readonly loginsPerSecondPerKiosk: number,
    private readonly loginBurstPerKiosk: number,
  ) {}

  /**
   * The token bucket of TokenBucket (mutex.ts) in one upsert: refill by the time since the
   * bucket's last update (never negative: a clock stepped back refills nothing), take one if
   * there is one. A refused attempt writes nothing, so it costs the bucket nothing either.
   */
  async takeLogin(kioskId: string, nowMs: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO login_buckets AS b (kiosk_id, tokens, updated_ms) VALUES ($1, $2::float8 - 1, $3)
       ON CONFLICT (kiosk_id) DO UPDATE
         SET tokens = LEAST($2::float8, b.tokens + GREATEST(0, $3 - b.updated_ms) * $4::float8 / 1000) - 1,
             updated_ms = GREATEST(b.updated_ms, $3)
         WHERE LEAST($2::float8, b.tokens + GREATEST(0, $3 - b.updated_ms) * $4::float8 / 1000) >= 1`,
      [kioskId, this.loginBurstPerKiosk, nowMs, this.loginsPerSecondPerKiosk],
    );
    return result.rowCount === 1;
  }

  async putHandover(tokenKey: string, handover: Handover, nowMs: number): Promise<boolean> {
    await this.pool.query('DELETE FROM handovers WHERE expires_at_ms <= $1', [nowMs]);
    const result = await this.pool.query(
      `INSERT INTO handovers (token_key, kiosk_id, username, expires_at_ms)
       SELECT $1, $2, $3, $4 WHERE (SELECT count(*) FROM handovers) < $5`,
      [tokenKey, handover.kioskId, handover.username, handover.expiresAtMs, HANDOVERS_MAX],
    );
    return result.rowCount === 1;
  }

  async takeHandover(tokenKey: string, kioskId: string): Promise<Handover | null> {
    const result = await this.pool.query<{ username: string; expires_at_ms: string }>(
      'DELETE FROM handovers WHERE token_key = $1 AND kiosk_id = $2 RETURNING username, expires_at_ms',
      [tokenKey, kioskId],
    );
    const row = result.rows[0];
    return row === undefined ? null : { kioskId, username: row.username, expiresAtMs: Number(row.expires_at_ms) };
  }
}
