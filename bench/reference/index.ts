// The references `atm bench --compare` measures our bank host against (README.md here):
// PostgreSQL's pgbench TPC-B with durable commits, and Node's TLS 1.3 handshakes and echo.
export { runPgbench, parsePgbenchOutput, type PgbenchOptions, type PgbenchOutcome } from './pgbench.js';
export { findPostgres, type PostgresInstallation } from './postgres-install.js';
export { runTlsReference, type TlsReference, type TlsReferenceOptions } from './tls.js';
