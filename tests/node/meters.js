// Drives the fake's billing meter events with the stripe npm package: the v2 meter event session,
// the stream its token authenticates, the synchronous create's errors. One JSON job on stdin
// ({url, key}), one JSON object of results on stdout, for
// tests/test_fake_billing_meter_events_node.py.
"use strict";

const Stripe = require("stripe");

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function client(url, key) {
  // A host given here serves every base address, the stream's (meter_events) too.
  return new Stripe(key, {
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    maxNetworkRetries: 0,
    telemetry: false,
  });
}

async function outcome(call) {
  try {
    await call();
    return { ok: true };
  } catch (err) {
    return { ok: false, type: err.type, status: err.statusCode, code: err.code };
  }
}

async function main() {
  const job = JSON.parse(await readStdin());
  const url = new URL(job.url);
  const stripe = client(url, job.key);
  const results = {};

  const meter = await stripe.billing.meters.create({
    display_name: "API calls",
    event_name: "api_calls",
    default_aggregation: { formula: "sum" },
  });
  results.meter = {
    customer_key: meter.customer_mapping.event_payload_key,
    value_key: meter.value_settings.event_payload_key,
  };
  const customer = await stripe.customers.create();
  const session = await stripe.v2.billing.meterEventSession.create();
  results.session = {
    object: session.object,
    minutes: (Date.parse(session.expires_at) - Date.parse(session.created)) / 60000,
  };
  const streaming = client(url, session.authentication_token);
  results.stream = await outcome(() =>
    streaming.v2.billing.meterEventStream.create({
      events: [
        {
          event_name: "api_calls",
          payload: { stripe_customer_id: customer.id, value: "2" },
        },
      ],
    })
  );
  results.bad_token = await outcome(() =>
    client(url, "mest_test_never_issued").v2.billing.meterEventStream.create({
      events: [{ event_name: "api_calls", payload: { value: "1" } }],
    })
  );
  results.no_meter = await outcome(() =>
    stripe.v2.billing.meterEvents.create({ event_name: "nobody", payload: { value: "1" } })
  );
  const taken = await stripe.v2.billing.meterEvents.create({
    event_name: "api_calls",
    payload: { stripe_customer_id: customer.id, value: "5" },
  });
  results.taken = { object: taken.object, value: taken.payload.value };
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
