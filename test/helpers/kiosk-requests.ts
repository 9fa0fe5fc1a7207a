// Requests a kiosk sends, as tests send them over a real BankConnection: the device report, and
// the steps of one withdrawal with the reports the kiosk makes around it.
import assert from 'node:assert/strict';
import type { BankConnection, CassetteReport, DeviceState } from '../../protocol/index.js';

/** A device.report; keypad and display are online unless the states say otherwise. Returns whether it was ok. */
export async function reportDevices(
  connection: BankConnection,
  states: { dispenser: DeviceState; keypad?: DeviceState; display?: DeviceState },
  cassettes: CassetteReport[],
): Promise<boolean> {
  const response = await connection.request({
    op: 'device.report',
    keypad: states.keypad ?? 'online',
    display: states.display ?? 'online',
    dispenser: states.dispenser,
    cassettes,
  });
  return response.ok;
}

/**
 * One withdrawal as the kiosk makes it: the dispenser reports busy, the hold, the post of all
 * the notes, the dispenser online again. Each step must succeed.
 */
export async function withdrawAsKiosk(
  connection: BankConnection,
  txnId: string,
  amountCents: number,
  cassettes: CassetteReport[],
): Promise<void> {
  assert.ok(await reportDevices(connection, { dispenser: 'deviceBusy' }, cassettes));
  assert.ok((await connection.request({ op: 'withdraw.hold', txnId, amountCents })).ok);
  assert.ok((await connection.request({ op: 'withdraw.post', txnId, dispensedCents: amountCents })).ok);
  assert.ok(await reportDevices(connection, { dispenser: 'online' }, cassettes));
}
