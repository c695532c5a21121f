// Parse thin event notifications with the official stripe npm package, for tests/test_thin_events.py.
//
// stdin:  {"cases": [{"name": str, "body_base64": str, "header": str, "secret": str,
//                     "parser": "thin" | "snapshot"}]}
// stdout: [{"name": str, "accepted": bool, "id": str | null, "type": str | null,
//           "context": str | null, "related_id": str | null, "error": null | str}]
// "thin" uses parseEventNotification, "snapshot" webhooks.constructEvent.
'use strict';

const Stripe = require('stripe');

const stripe = new Stripe('sk_test_fake');

function parse(testCase) {
  const body = Buffer.from(testCase.body_base64, 'base64');
  try {
    const parsed = testCase.parser === 'thin'
      ? stripe.parseEventNotification(body, testCase.header, testCase.secret)
      : stripe.webhooks.constructEvent(body, testCase.header, testCase.secret);
    const related = parsed.related_object ?? parsed.relatedObject ?? null;
    return {
      name: testCase.name,
      accepted: true,
      id: parsed.id ?? null,
      type: parsed.type ?? null,
      context: parsed.context === undefined || parsed.context === null ? null : String(parsed.context),
      related_id: related && related.id !== undefined ? related.id : null,
      error: null,
    };
  } catch (err) {
    return {name: testCase.name, accepted: false, id: null, type: null, context: null,
      related_id: null, error: String(err.message)};
  }
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const {cases} = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  process.stdout.write(JSON.stringify(cases.map(parse)));
});
