// Verify webhook deliveries with the official stripe npm package, for tests/test_interop_node.py.
//
// stdin:  {"cases": [{"name": str, "body_base64": str, "header": str | null, "secret": str,
//                     "tolerance": int (optional, default 300)}]}
// stdout: [{"name": str, "accepted": bool, "event_id": str | null,
//           "error": null | {"name": str, "type": str | null, "message": str}}]
// One process verifies a whole batch, so the Python side pays node's start-up once.
'use strict';

const Stripe = require('stripe');

const stripe = new Stripe('sk_test_fake');

function verify(testCase) {
  const body = Buffer.from(testCase.body_base64, 'base64');
  const header = testCase.header === null ? undefined : testCase.header;
  const tolerance = testCase.tolerance === undefined ? 300 : testCase.tolerance;
  try {
    const event = stripe.webhooks.constructEvent(body, header, testCase.secret, tolerance);
    return {name: testCase.name, accepted: true, event_id: event.id ?? null, error: null};
  } catch (err) {
    return {
      name: testCase.name,
      accepted: false,
      event_id: null,
      error: {name: err.name, type: err.type ?? null, message: String(err.message)},
    };
  }
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const {cases} = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  process.stdout.write(JSON.stringify(cases.map(verify)));
});
