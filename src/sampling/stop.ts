/**
 * Stop strings over streamed text. Text that could still be the start of a stop string
 * is held back; when a stop string completes, the text before it is released and
 * nothing after it, so no character of a stop string ever reaches the caller.
 */
export class StopMatcher {
  readonly #stops: string[];
  #pending = "";
  #stopped = false;

  constructor(stops: readonly string[] = []) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /** True once a stop string has matched. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Adds decoded text; returns the text that can no longer be part of a stop string.
   * After a match it returns the text before the match and sets `stopped`.
   */
  push(text: string): string {
    if (this.#stopped) return "";
    if (this.#stops.length === 0) return text;
    const buf = this.#pending + text;

    // The earliest complete match wins, so no text after its start is released.
    let cut = -1;
    for (const s of this.#stops) {
      const i = buf.indexOf(s);
      if (i !== -1 && (cut === -1 || i < cut)) cut = i;
    }
    if (cut !== -1) {
      this.#stopped = true;
      this.#pending = "";
      return buf.slice(0, cut);
    }

    // Hold back the longest suffix that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.#stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > hold; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    this.#pending = buf.slice(buf.length - hold);
    return buf.slice(0, buf.length - hold);
  }

  /** Releases the held-back text at the end of generation (no stop string matched). */
  flush(): string {
    const rest = this.#stopped ? "" : this.#pending;
    this.#pending = "";
    return rest;
  }
}
