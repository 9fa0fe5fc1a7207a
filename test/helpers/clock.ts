// An injected clock: tests move time forward instead of sleeping.
export class FakeClock {
  constructor(public ms = Date.UTC(2026, 10, 27, 12, 0, 0)) {}
  readonly nowMs = (): number => this.ms;
  advance(deltaMs: number): void {
    this.ms += deltaMs;
  }
}
