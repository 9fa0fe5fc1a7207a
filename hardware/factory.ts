// Chooses the device drivers from a --device spec: `sim`, `serial:PATH`, `firmata:PATH`.
// Each driver returns the three devices (closing all three releases the shared port); the kiosk
// sees only the interfaces.
import { AtmError, type CodeOf } from '../protocol/index.js';
import { createSimDevices, type SimDevicesOptions } from './sim.js';
import type { CashAcceptor, CashDispenser, Display, Keypad } from './types.js';

export interface DeviceBundle {
  keypad: Keypad;
  display: Display;
  dispenser: CashDispenser;
  /** The cash-in module, when the kiosk has one (without one it takes typed envelope deposits). */
  acceptor?: CashAcceptor;
  /** The sim's note slot, for the demo's keys: a note into the open slot. Only the sim has it. */
  noteSlot?: { insert: (denominationCents: number | 'torn') => void; denominationsCents: readonly number[] };
  /** What the kiosk last asked the display to show, for the on-screen mirror panel. */
  mirror: { lines: () => string[]; onChange: (listener: () => void) => void };
}

export interface DriverOptions {
  sim?: SimDevicesOptions;
  log?: (line: string) => void;
}

export type DriverFactory = (path: string, options: DriverOptions) => Promise<DeviceBundle>;

// Drivers load lazily, so a sim kiosk never pays for serialport or johnny-five at start-up.
// Each real driver adds its line here: name → module exporting its DriverFactory.
const LAZY_DRIVERS: Record<string, () => Promise<DriverFactory>> = {
  serial: async () => (await import('./serial.js')).createSerialDevices,
  firmata: async () => (await import('./firmata.js')).createFirmataDevices,
};

const drivers = new Map<string, DriverFactory>();

/** For tests and plug-ins: a driver under a prefix, ahead of the built-in ones. */
export function registerDriver(name: string, factory: DriverFactory): void {
  drivers.set(name, factory);
}

export const DeviceError = {
  UNKNOWN_DRIVER: 'UNKNOWN_DEVICE_DRIVER',
  BAD_SPEC: 'BAD_DEVICE_SPEC',
} as const satisfies Record<string, CodeOf<'device'>>;

export async function createDevices(spec: string, options: DriverOptions = {}): Promise<DeviceBundle> {
  if (spec === 'sim') {
    // The sim kiosk has a cash-in module unless told it has none (sim.acceptor: false).
    const devices = createSimDevices({ ...options.sim, acceptor: options.sim?.acceptor ?? {} });
    const acceptor = devices.acceptor;
    return {
      ...devices,
      ...(acceptor === undefined
        ? {}
        : {
            noteSlot: {
              insert: (denominationCents) => void acceptor.insert(denominationCents),
              denominationsCents: acceptor.denominationsCents,
            },
          }),
      mirror: {
        lines: () => devices.display.lines(),
        onChange: (listener) => void devices.display.onChange(() => listener()),
      },
    };
  }
  const colon = spec.indexOf(':');
  if (colon <= 0 || colon === spec.length - 1)
    throw new AtmError(
      DeviceError.BAD_SPEC,
      `--device must be sim, serial:PATH or firmata:PATH, got ${JSON.stringify(spec)}`,
    );
  const name = spec.slice(0, colon);
  const lazy = LAZY_DRIVERS[name];
  const factory = drivers.get(name) ?? (lazy === undefined ? undefined : await lazy());
  if (factory === undefined) {
    const known = ['sim', ...Object.keys(LAZY_DRIVERS), ...drivers.keys()];
    throw new AtmError(
      DeviceError.UNKNOWN_DRIVER,
      `no device driver '${name}' (known: ${[...new Set(known)].join(', ')})`,
    );
  }
  return factory(spec.slice(colon + 1), options);
}
