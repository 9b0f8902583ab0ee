// A SIGNAL event's reason as Heat's Resource._handle_signal words it (handle_signal's result, else
// the details: Aodh's notification, a string, nothing).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signalReason } from '../src/orchestration/engine/engine.ts';

describe('orchestration: signal event reasons', () => {
  it("words them as Heat's _handle_signal", () => {
    assert.equal(
      signalReason('status:SUCCESS reason:Signal 1 received', {}),
      'Signal: status:SUCCESS reason:Signal 1 received',
    );
    assert.equal(signalReason('deployment d1 succeeded', {}), 'Signal: deployment d1 succeeded');
    assert.equal(signalReason(undefined, null), 'No signal details provided');
    assert.equal(signalReason(undefined, 'scale please'), 'scale please');
    assert.equal(
      signalReason(undefined, {
        alarm_id: 'a',
        previous: 'ok',
        current: 'alarm',
        reason: 'Transition to alarm due to 1 samples outside threshold',
      }),
      'alarm state changed from ok to alarm (Transition to alarm due to 1 samples outside threshold)',
    );
    assert.equal(
      signalReason(undefined, { previous: 'insufficient data', current: 'ok', reason: null }),
      'alarm state changed from insufficient data to ok (None)',
    );
    assert.equal(signalReason(undefined, { current: 'alarm' }), 'Unknown');
    assert.equal(signalReason(undefined, { state: 'alarm' }), 'Unknown');
    assert.equal(signalReason(undefined, [1]), 'Unknown');
  });
});
