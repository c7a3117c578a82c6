/**
 * Max-priority queue of symbol pairs for the SPM and BPE merge loops. An entry with a
 * higher `priority` pops first; among equal priorities the smaller `left` index pops
 * first, the order llama.cpp's comparators give. Entries live in parallel typed arrays
 * because a 1 MB input pushes millions of them.
 */
export class PairQueue {
  #priority = new Float64Array(1024);
  #left = new Int32Array(1024);
  #right = new Int32Array(1024);
  #size = new Int32Array(1024);
  #length = 0;
  #top = new Int32Array(3);

  get length(): number {
    return this.#length;
  }

  clear(): void {
    this.#length = 0;
  }

  push(priority: number, left: number, right: number, size: number): void {
    if (this.#length === this.#priority.length) this.#grow();
    let i = this.#length++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(priority, left, parent)) break;
      this.#copy(parent, i);
      i = parent;
    }
    this.#priority[i] = priority;
    this.#left[i] = left;
    this.#right[i] = right;
    this.#size[i] = size;
  }

  /** Removes the top entry and writes its fields to `out` as [left, right, size]. */
  pop(out: Int32Array): void {
    out[0] = this.#left[0];
    out[1] = this.#right[0];
    out[2] = this.#size[0];
    const last = --this.#length;
    if (last === 0) return;
    const priority = this.#priority[last];
    const left = this.#left[last];
    const right = this.#right[last];
    const size = this.#size[last];
    // Sift down from the root.
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (
        child + 1 < last && this.#before(this.#priority[child + 1], this.#left[child + 1], child)
      ) child++;
      if (!this.#before(this.#priority[child], this.#left[child], -1, priority, left)) break;
      this.#copy(child, i);
      i = child;
    }
    this.#priority[i] = priority;
    this.#left[i] = left;
    this.#right[i] = right;
    this.#size[i] = size;
  }

  /**
   * Runs the merge loop over a linked list of contiguous symbols until the queue is
   * empty. Each popped pair joins its right symbol into the left one, and `tryAddPair`
   * is offered the two new neighbouring pairs. A pair is stale, and skipped, when either
   * side has been merged away or their total length changed since it was pushed: symbols
   * are contiguous, so an unchanged total length means unchanged text.
   */
  mergeAll(
    len: Int32Array,
    prev: Int32Array,
    next: Int32Array,
    tryAddPair: (left: number, right: number) => void,
  ): void {
    const top = this.#top;
    while (this.#length > 0) {
      this.pop(top);
      const left = top[0];
      const right = top[1];
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== top[2]) continue;
      len[left] += len[right];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAddPair(prev[left], left);
      tryAddPair(left, next[left]);
    }
  }

  /** True when (priority, left) pops before slot `j`, or before (p2, l2) when j is -1. */
  #before(priority: number, left: number, j: number, p2 = 0, l2 = 0): boolean {
    const otherPriority = j >= 0 ? this.#priority[j] : p2;
    const otherLeft = j >= 0 ? this.#left[j] : l2;
    return priority > otherPriority || (priority === otherPriority && left < otherLeft);
  }

  #copy(from: number, to: number): void {
    this.#priority[to] = this.#priority[from];
    this.#left[to] = this.#left[from];
    this.#right[to] = this.#right[from];
    this.#size[to] = this.#size[from];
  }

  #grow(): void {
    const n = this.#priority.length * 2;
    const priority = new Float64Array(n);
    priority.set(this.#priority);
    this.#priority = priority;
    const left = new Int32Array(n);
    left.set(this.#left);
    this.#left = left;
    const right = new Int32Array(n);
    right.set(this.#right);
    this.#right = right;
    const size = new Int32Array(n);
    size.set(this.#size);
    this.#size = size;
  }
}
