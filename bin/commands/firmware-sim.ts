// atm firmware-sim — the keypad/display/dispenser microcontroller of hardware/PROTOCOL.md,
// simulated on a pseudo-terminal. Wiring only: firmware-sim/ does the work.
import fs from 'node:fs';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { SIM_DEPOSIT_CAPACITY_DEFAULT, type Cassette } from '../../hardware/index.js';
import {
  AtmError,
  CASSETTES_MAX,
  type CodeOf,
  DEPOSIT_CAPACITY_MAX,
  LINE_BYTES_MAX,
  NOTE_KINDS_MAX,
  encodeDeviceMessage,
} from '../../protocol/index.js';
import {
  CONSOLE_KEYS_HELP,
  LineDevice,
  applyAction,
  consoleCommands,
  describeEvent,
  parseScript,
  renderPanel,
  startFirmwareSim,
} from '../../firmware-sim/index.js';
import type { CashInOptions, FirmwareSim, ScriptStep } from '../../firmware-sim/index.js';
import { ExitCode, UsageError, integerOption, parse, type Parsed } from '../cli.js';

const USAGE = `usage: atm firmware-sim [--pty | --port PATH] [--script FILE [--exit-after-script]] [--jam-after N]
                        [--notes 2000:100,1000:100] [--dispense-delay-ms 500] [--low-cash 10] [--lcd 20x4]
                        [--accept 5000,2000,1000,500] [--deposit-capacity 1000] [--escrow-delay-ms 300] [--no-cash-in]
Plays the kiosk's keypad/display/dispenser microcontroller (hardware/PROTOCOL.md). With --pty (the
default) it makes a pseudo-terminal pair with socat and prints "device ready: PATH" as its first
line: run the kiosk with --device serial:PATH. --port opens an existing port instead (a real UART,
or one end of a socat pair you made). It stays silent until the kiosk says HELLO. --lcd sets its
character display's size (20x4 by default; 16x2 for the smaller module); the kiosk writes for it.
It has a cash-in module (a note acceptor with an escrow: the kiosk takes notes for deposits):
--accept sets the notes it takes (cents, at most 8), --deposit-capacity its deposit cassette's notes,
--escrow-delay-ms how long storing or returning notes takes; --no-cash-in plays a device without one.
--script FILE runs timed actions after the kiosk's HELLO, one a line, "DELAY_MS ACTION [ARG]":
  KEY 0-9|A-D|#|*|BS|ESC, JAM [N], CLEARJAM, LOWCASH, TAMPER [on|off], UNPLUG, REPLUG, GARBAGE [N], RESET,
  NOTE CENTS|torn, ESCROWJAM, LEAVENOTES
${CONSOLE_KEYS_HELP.join('\n')}`;

export const FirmwareSimError = { START_FAILED: 'FIRMWARE_SIM_START_FAILED' } as const satisfies Record<
  string,
  CodeOf<'command'>
>;

/** How long the last lines get to cross socat before --exit-after-script stops it. */
const EXIT_LINGER_MS = 250;

function parseNotes(text: string): Cassette[] {
  const cassettes = text.split(',').map((pair) => {
    const match = /^([1-9][0-9]{0,8}):([0-9]{1,6})$/.exec(pair.trim());
    if (match === null)
      throw new UsageError(
        `--notes must be DENOMINATION_CENTS:COUNT,… (e.g. 2000:100,1000:100), got ${JSON.stringify(pair)}`,
      );
    return { denominationCents: Number(match[1]), count: Number(match[2]) };
  });
  if (cassettes.length > CASSETTES_MAX) throw new UsageError(`--notes: at most ${CASSETTES_MAX} cassettes`);
  if (new Set(cassettes.map((cassette) => cassette.denominationCents)).size !== cassettes.length)
    throw new UsageError('--notes: one cassette per denomination');
  try {
    encodeDeviceMessage({ verb: 'CASH', cassettes }); // asserts that the line fits
  } catch {
    throw new UsageError(
      `--notes: the cassettes do not fit one ${LINE_BYTES_MAX}-byte CASH line (hardware/PROTOCOL.md [SL-2.3])`,
    );
  }
  return cassettes;
}

/** --accept, --deposit-capacity, --escrow-delay-ms; null for --no-cash-in. Refused when its lines would not fit [SL-2.3]. */
function cashInOptions(values: Parsed['values']): CashInOptions | null {
  const given = ['accept', 'deposit-capacity', 'escrow-delay-ms'].filter((name) => values[name] !== undefined);
  if (values['no-cash-in'] === true) {
    if (given.length > 0) throw new UsageError(`--no-cash-in and --${given[0] as string} are alternatives`);
    return null;
  }
  const options: CashInOptions = {
    capacityNotes: integerOption(values, 'deposit-capacity', SIM_DEPOSIT_CAPACITY_DEFAULT, 1, DEPOSIT_CAPACITY_MAX),
    moveDelayMs: integerOption(values, 'escrow-delay-ms', 300, 0, 60_000),
  };
  if (typeof values.accept === 'string') {
    const denominationsCents = values.accept.split(',').map((text) => {
      if (!/^[1-9][0-9]{0,7}$/.test(text.trim()))
        throw new UsageError(
          `--accept must be denominations in cents, e.g. 5000,2000,1000,500; got ${JSON.stringify(text)}`,
        );
      return Number(text.trim());
    });
    if (denominationsCents.length > NOTE_KINDS_MAX || new Set(denominationsCents).size !== denominationsCents.length)
      throw new UsageError(`--accept: at most ${NOTE_KINDS_MAX} denominations, each once`);
    options.denominationsCents = denominationsCents;
  }
  try {
    new LineDevice({ send: () => undefined, nowMs: () => 0, cashIn: options }); // asserts that its lines fit
  } catch {
    throw new UsageError(
      `--accept/--deposit-capacity: the cash-in module's lines do not fit ${LINE_BYTES_MAX} bytes (hardware/PROTOCOL.md [SL-2.3])`,
    );
  }
  return options;
}

function readScript(file: string): ScriptStep[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read script file ${file}`);
  }
  try {
    return parseScript(text);
  } catch (error) {
    throw new UsageError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export async function firmwareSimCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      pty: { type: 'boolean' },
      port: { type: 'string' },
      script: { type: 'string' },
      'exit-after-script': { type: 'boolean' },
      'jam-after': { type: 'string' },
      notes: { type: 'string' },
      'dispense-delay-ms': { type: 'string' },
      'low-cash': { type: 'string' },
      lcd: { type: 'string' },
      accept: { type: 'string' },
      'deposit-capacity': { type: 'string' },
      'escrow-delay-ms': { type: 'string' },
      'no-cash-in': { type: 'boolean' },
    },
    USAGE,
  );
  const portPath = typeof values.port === 'string' ? values.port : undefined;
  if (portPath !== undefined && values.pty === true)
    throw new UsageError(`--pty and --port are alternatives\n${USAGE}`);
  const script = typeof values.script === 'string' ? readScript(values.script) : undefined;
  if (values['exit-after-script'] === true && script === undefined)
    throw new UsageError('--exit-after-script needs --script FILE');
  const jamAfter = values['jam-after'] === undefined ? undefined : integerOption(values, 'jam-after', 0, 0, 1_000_000);
  const lcd = typeof values.lcd === 'string' ? /^(\d{1,2})x([1-4])$/.exec(values.lcd) : null;
  if (typeof values.lcd === 'string' && (lcd === null || Number(lcd[1]) < 8 || Number(lcd[1]) > 40))
    throw new UsageError(
      `--lcd must be COLUMNSxROWS such as 20x4 or 16x2 (8-40 columns, 1-4 rows), got ${JSON.stringify(values.lcd)}`,
    );
  const cashIn = cashInOptions(values);
  const device = {
    ...(lcd === null ? {} : { columns: Number(lcd[1]), rows: Number(lcd[2]) }),
    cassettes: typeof values.notes === 'string' ? parseNotes(values.notes) : undefined,
    jamAfterNotes: jamAfter,
    dispenseDelayMs: integerOption(values, 'dispense-delay-ms', 500, 0, 60_000),
    lowCashCount: integerOption(values, 'low-cash', 10, 0, 1_000_000),
    ...(cashIn === null ? {} : { cashIn }),
  };

  const panel = process.stdout.isTTY;
  let sim: FirmwareSim | null = null;
  let headline = '';
  let lastEvent = 'waiting for the kiosk to say HELLO';
  const redraw = (): void => {
    if (panel && sim !== null) process.stdout.write(`\x1b[H\x1b[2J${renderPanel(sim.device, headline, lastEvent)}\n`);
  };
  const say = (line: string): void => {
    lastEvent = line;
    if (panel) redraw();
    else process.stdout.write(`${line}\n`);
  };
  sim = await startFirmwareSim({
    portPath,
    device,
    script,
    onEvent: (event) => {
      const line = sim === null ? null : describeEvent(event, sim.device);
      if (line !== null) say(line);
    },
    onScriptStep: (step) => say(`script line ${step.line}: ${JSON.stringify(step.action)}`),
    log: (line) => say(line),
  }).catch((error: unknown) => {
    // socat missing, or a --port that does not open: an operating error, one line.
    throw new AtmError(
      FirmwareSimError.START_FAILED,
      `cannot start the firmware simulator: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  });
  const running = sim;
  headline = `device ready: ${running.hostPath ?? `other end of ${running.devicePath}`}`;
  process.stdout.write(`${headline}\n`);
  redraw();
  return runUntilStopped(running, values['exit-after-script'] === true, say);
}

/** Keyboard, signals, script end and a vanished port all end here; the terminal is always restored. */
async function runUntilStopped(
  sim: FirmwareSim,
  exitAfterScript: boolean,
  say: (line: string) => void,
): Promise<number> {
  const stdin = process.stdin;
  const keyboard = stdin.isTTY;
  let stop: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const onSignal = (): void => stop(ExitCode.OK);
  const onKeys = (chunk: Buffer): void => {
    for (const command of consoleCommands(chunk.toString('latin1'))) {
      if (command.kind === 'quit') stop(ExitCode.OK);
      else if (command.kind === 'togglePlug') {
        if (sim.device.isPlugged) sim.device.unplug();
        else sim.device.replug();
      } else if (command.kind === 'toggleTamper') sim.device.setTamper(!sim.device.faults().includes('tamper'));
      else if (command.kind === 'insertNote') {
        const cents = sim.device.denominationsCents[command.rank];
        if (cents !== undefined) sim.device.insertNote(cents);
      } else applyAction(sim.device, command.action);
    }
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (keyboard) {
    stdin.setRawMode(true);
    stdin.on('data', onKeys);
    stdin.resume();
  }
  void sim.ended.then((why) => {
    say(`${why}: stopping`);
    stop(ExitCode.FAILED);
  });
  sim.scriptDone.then(
    async () => {
      if (!exitAfterScript) return;
      await sleepFor(EXIT_LINGER_MS);
      stop(ExitCode.OK);
    },
    (error: unknown) => {
      say(`script failed: ${error instanceof Error ? error.message : String(error)}`);
      stop(ExitCode.FAILED);
    },
  );
  try {
    return await stopped;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (keyboard) {
      stdin.removeListener('data', onKeys);
      stdin.setRawMode(false);
      stdin.pause();
    }
    await sim.close();
  }
}
