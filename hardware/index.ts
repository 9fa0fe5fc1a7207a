// The hardware component's public face: the device contracts, the sim drivers (the kiosk's
// default devices, with test powers) and the keyboard → keypad map.
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
