import assert from "node:assert/strict";
import { FakeModel } from "../../tests/fake_model.ts";
import { QueueFullError, SlotScheduler } from "./scheduler.ts";

function scheduler(slots: number, queueSize: number) {
  const model = new FakeModel();
  return {
    model,
    scheduler: new SlotScheduler({ slots, queueSize, createSession: () => model.createSession() }),
  };
}

Deno.test("scheduler hands slots to waiters in FIFO order", async () => {
  const { scheduler: s } = scheduler(1, 3);
  const first = await s.acquire();
  const order: string[] = [];
  const waiting = ["a", "b", "c"].map((name) =>
    s.acquire().then((lease) => {
      order.push(name);
      return lease;
    })
  );
  assert.deepEqual(s.stats(), { slots: 1, busy: 1, queued: 3 });
  first.release();
  (await waiting[0]).release();
  (await waiting[1]).release();
  (await waiting[2]).release();
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.deepEqual(s.stats(), { slots: 1, busy: 0, queued: 0 });
});

Deno.test("scheduler rejects when the queue is full", async () => {
  const { scheduler: s } = scheduler(1, 1);
  const lease = await s.acquire();
  const queued = s.acquire();
  await assert.rejects(s.acquire(), QueueFullError);
  lease.release();
  (await queued).release();
});

Deno.test("scheduler gives each slot its own session", async () => {
  const { model, scheduler: s } = scheduler(2, 0);
  const a = await s.acquire();
  const b = await s.acquire();
  assert.notEqual(a.session, b.session);
  assert.notEqual(a.slotId, b.slotId);
  a.release();
  b.release();
  // Sessions are created once per slot and reused.
  const c = await s.acquire();
  assert.ok(c.session === a.session || c.session === b.session);
  assert.equal(model.sessions.length, 2);
  c.release();
});

Deno.test("scheduler release is idempotent", async () => {
  const { scheduler: s } = scheduler(1, 0);
  const lease = await s.acquire();
  lease.release();
  lease.release();
  assert.deepEqual(s.stats(), { slots: 1, busy: 0, queued: 0 });
  const again = await s.acquire();
  await assert.rejects(s.acquire(), QueueFullError);
  again.release();
});

Deno.test("scheduler drops an aborted waiter", async () => {
  const { scheduler: s } = scheduler(1, 2);
  const lease = await s.acquire();
  const controller = new AbortController();
  const aborted = s.acquire(controller.signal);
  const next = s.acquire();
  controller.abort(new Error("client left"));
  await assert.rejects(aborted, /client left/);
  assert.equal(s.stats().queued, 1);
  lease.release();
  const nextLease = await next;
  assert.equal(nextLease.slotId, 0);
  nextLease.release();
});

Deno.test("scheduler rejects invalid sizes", () => {
  assert.throws(() => scheduler(0, 1), RangeError);
  assert.throws(() => scheduler(1, -1), RangeError);
  assert.throws(() => scheduler(1.5, 1), RangeError);
});
