// The kiosk component's public face.
export { runKioskApp, type KioskAppOptions } from './app.js';
export { KioskController, type KioskControllerOptions } from './controller.js';
export { KioskLink, type LinkState, type KioskLinkOptions } from './link.js';
export type { BankLink, Journal, LinkCause, RequestBody } from './seams.js';
export { KioskJournal, deriveJournalKey, planRecovery, type JournalEvent, type RecoveryAction } from './journal.js';
export { initialState, step, type KioskState, type KioskEvent, type Effect, type EffectResult } from './flow.js';
export { view, lcdLines, type View } from './view.js';
export { startKioskUi, type ThemeName } from './ui.js';
