// The firmware simulator's public face: the microcontroller side of the serial line protocol
// (hardware/PROTOCOL.md) as a state machine, the edge that runs it on a pty, its script
// language and its console; and an ESC/POS receipt printer on a pty (escpos-printer.ts).
export { LineDevice } from './line-device.js';
export {
  CASH_IN_MEMORY_MAX,
  DEVICE_NAME_DEFAULT,
  DISPENSE_MEMORY_MAX,
  GARBAGE_BYTES_MAX,
  HOST_SILENCE_MS,
  type ActiveFault,
  type CashInOptions,
  type LineDeviceEvent,
  type LineDeviceOptions,
  type LineDeviceState,
} from './line-device-types.js';
export { startFirmwareSim, type FirmwareSim, type FirmwareSimOptions } from './runner.js';
export { openPtyPair, openSerialPath, closeSerialPort, PTY_START_TIMEOUT_MS, type PtyPair } from './pty.js';
export {
  parseScript,
  runScript,
  applyAction,
  SCRIPT_STEPS_MAX,
  SCRIPT_DELAY_MS_MAX,
  type ScriptAction,
  type ScriptStep,
} from './script.js';
export {
  consoleCommands,
  terminalKeys,
  describeEvent,
  renderPanel,
  CONSOLE_KEYS_HELP,
  type ConsoleCommand,
} from './console.js';
export {
  EscposPrinter,
  SIM_RECEIPT_LINES_MAX,
  SIM_RECEIPTS_KEPT_MAX,
  type EscposPrinterOptions,
  type EscposPrinterStats,
  type PrintedReceipt,
  type SimPaper,
} from './escpos-printer.js';
export { startEscposPrinterSim, type EscposPrinterSim, type EscposPrinterSimOptions } from './escpos-runner.js';
