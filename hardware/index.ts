// The hardware component's public face: the device contracts, the sim drivers (the kiosk's
// default devices, with test powers), the keyboard → keypad map and the speech output (the
// Speaker seam, espeak-ng and the recording fake).
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
