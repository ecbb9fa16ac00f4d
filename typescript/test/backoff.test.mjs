import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, defaultRetryPolicy } from "../dist/index.js";

test("the window doubles per failed attempt up to the cap, and resets", () => {
  const backoff = new Backoff({ initial: 100, max: 1000 });
  const windows = [];
  for (let n = 0; n < 6; n++) {
    windows.push(backoff.window());
    backoff.next();
  }
  assert.deepEqual(windows, [100, 200, 400, 800, 1000, 1000]);
  backoff.reset();
  assert.equal(backoff.window(), 100);
});

test("delays are spread over the whole window (full jitter), never beyond it", () => {
  const delays = [];
  for (let n = 0; n < 2000; n++) {
    const backoff = new Backoff({ initial: 1000, max: 1000 });
    delays.push(backoff.next());
  }
  assert.ok(Math.min(...delays) >= 0 && Math.max(...delays) < 1000);
  // Ten buckets of 100 ms: each holds about 200 of the 2000 delays; a fixed or doubling delay fills one.
  const buckets = Array.from({ length: 10 }, (_, i) => delays.filter((d) => Math.floor(d / 100) === i).length);
  for (const count of buckets) assert.ok(count > 120 && count < 280, `bucket counts ${buckets}`);
});

test("close codes: refusals stop, go-elsewhere codes retry at once, the rest back off", () => {
  for (const code of [1002, 1003, 1007, 1008, 1009, 1010]) assert.equal(defaultRetryPolicy(code, ""), "stop");
  for (const code of [1001, 1012, 1013]) assert.equal(defaultRetryPolicy(code, ""), "now");
  for (const code of [1000, 1006, 1011, 4000]) assert.equal(defaultRetryPolicy(code, ""), "backoff");
});

test("a backoff that could not grow or would never wait is refused", () => {
  assert.throws(() => new Backoff({ initial: 0 }), RangeError);
  assert.throws(() => new Backoff({ initial: 500, max: 100 }), RangeError);
});
