// How a username appears wherever a person other than its owner may read it: the bank's log
// line, telemetry, the kiosk's receipt. One function, so every place masks alike.

/** au*** — enough for an operator to correlate, not enough to identify; '-' for nobody. */
export function maskUsername(username: string | null): string {
  if (username === null) return '-';
  return `${username.slice(0, 2)}***`;
}
