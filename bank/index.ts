// The bank component's public face.
export {
  startBankHost,
  LEDGER_DIR,
  type BankHost,
  type BankHostOptions,
  type HostTelemetry,
  type HostTelemetryContext,
  type HostTelemetryStarter,
} from './host.js';
export {
  addKiosk,
  addOperator,
  auditKeyOf,
  auditKeyRaw,
  initKeystore,
  loadKeystore,
  loadKioskKeyFile,
  revokeKiosk,
  KeystoreError,
  KeystoreView,
  keystorePath,
  type Keystore,
} from './key-store.js';
export {
  verifyAuditLog,
  verifyAuditRecords,
  exportAuditLog,
  decryptAuditToken,
  AuditChain,
  AuditLogFile,
  AUDIT_LOG_FILE,
  AUDIT_HEAD_FILE,
  type AuditRecord,
  type AuditEntry,
  type VerifyResult,
} from './audit.js';
export {
  LogLineObserver,
  silentObserver,
  fanOut,
  maskUsername,
  type BankObserver,
  type ActionEvent,
  type SessionEvent,
  type SecurityEvent,
  type DeviceEvent,
} from './observer.js';
export { DEFAULT_LIMITS, type LedgerLimits } from './ledger.js';
export { exitOnAssertionFailure, type AssertionExitOptions } from './assertion-exit.js';
export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './server.js';
export { MemoryLedgerStore, type LedgerStore } from './store.js';
export { LevelLedgerStore } from './level-store.js';
export { BANK_STATS_PREFIX, reportStatsOnSignal, type BankStats } from './stats-signal.js';
export { PgLedgerStore, type PgStoreOptions } from './pg-store.js';
export { redactUrl, isPostgresUrl } from './pg-url.js';
export {
  StoreError,
  migrate,
  migrateDatabase,
  withDatabase,
  schemaVersion,
  schemaMismatch,
  SCHEMA_VERSION,
  MIGRATIONS,
} from './pg-schema.js';
export { importLedger, type ImportReport } from './pg-import.js';
