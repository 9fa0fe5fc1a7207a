// The hardware component's public face: the device contracts, the sim drivers (the kiosk's
// default devices, with test powers), the keyboard → keypad map, the speech output (the
// Speaker seam, espeak-ng and the recording fake), and the receipt printer's text rule, ESC/POS
// encoder and factory (its serial driver loads lazily, as the others do).
export * from './types.js';
export * from './sim.js';
export * from './keymap.js';
export {
  createDevices,
  registerDriver,
  DeviceError,
  type DeviceBundle,
  type DriverFactory,
  type DriverOptions,
} from './factory.js';
export { FlashError, checkHex, flashPlan, runFlash, type FlashPlan, type FlashResult } from './flash.js';
export * from './speech.js';
export { RecordingSpeaker, RECORDED_EVENTS_MAX, type SpeechEvent } from './speech-recording.js';
export { EspeakSpeaker, SpeechError, espeakAmplitude, renderToWav, type EspeakOptions } from './speech-espeak.js';
export { toneWav, TONE_DEFAULTS, type ToneOptions } from './speech-wav.js';
export {
  RECEIPT_COLUMNS_DEFAULT,
  RECEIPT_COLUMNS_NARROW,
  RECEIPT_COLUMNS_WIDE,
  RECEIPT_LINES_MAX,
  normaliseReceiptLines,
  type ReceiptColumns,
} from './receipt.js';
export { encodeReceipt, parsePaperStatus, PAPER_STATUS_REQUEST } from './escpos.js';
export { SimPrinter, SIM_RECEIPTS_FILE, RECEIPT_END, type SimPrinterOptions } from './sim-printer.js';
export { createPrinter, type PrinterOptions } from './printer-factory.js';
export type { SerialPrinterOptions } from './serial-printer-options.js';
