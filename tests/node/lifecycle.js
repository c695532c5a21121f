// Drives the payments lifecycles of the fake Stripe API with the stripe npm package: one JSON job
// on stdin ({url, key}), one JSON object of results on stdout, for tests/test_fake_payments_node.py.
"use strict";

const Stripe = require("stripe");

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function failure(err) {
  return {
    type: err.type,
    status: err.statusCode,
    code: err.code || null,
    decline_code: err.decline_code || null,
    message: err.message,
    payment_intent_status: err.payment_intent ? err.payment_intent.status : null,
    request_id: err.requestId || null,
  };
}

async function attempt(work) {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, ...failure(err) };
  }
}

async function main() {
  const job = JSON.parse(await readStdin());
  const url = new URL(job.url);
  const stripe = new Stripe(job.key, {
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    maxNetworkRetries: 0,
    telemetry: false,
  });
  const results = {};

  const paid = await stripe.paymentIntents.create(
    { amount: 2000, currency: "usd", confirm: true, payment_method: "pm_card_visa" },
    { idempotencyKey: "node-order-1" },
  );
  results.paid = {
    status: paid.status,
    amount_received: paid.amount_received,
    latest_charge: paid.latest_charge,
    request_id: paid.lastResponse.requestId,
  };
  results.capture_succeeded = await attempt(() => stripe.paymentIntents.capture(paid.id));
  results.declined = await attempt(() =>
    stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      confirm: true,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    }),
  );

  const held = await stripe.paymentIntents.create({
    amount: 2000,
    currency: "usd",
    confirm: true,
    capture_method: "manual",
    payment_method: "pm_card_mastercard",
  });
  const captured = await stripe.paymentIntents.capture(held.id, { amount_to_capture: 1200 });
  results.captured = {
    held_status: held.status,
    status: captured.status,
    amount_received: captured.amount_received,
  };
  const refund = await stripe.refunds.create({ payment_intent: captured.id, amount: 200 });
  const charge = await stripe.charges.retrieve(captured.latest_charge);
  results.refund = {
    status: refund.status,
    amount: refund.amount,
    amount_refunded: charge.amount_refunded,
    refunded: charge.refunded,
  };

  const customer = await stripe.customers.create({ email: "jenny@example.com" });
  const setup = await stripe.setupIntents.create({
    customer: customer.id,
    payment_method: "pm_card_visa",
    confirm: true,
  });
  const pm = await stripe.paymentMethods.retrieve(setup.payment_method);
  results.setup = { status: setup.status, attached_to: pm.customer, customer: customer.id };
  results.detached_twice = await attempt(async () => {
    await stripe.paymentMethods.detach(pm.id);
    return stripe.paymentMethods.detach(pm.id);
  });

  const events = await stripe.events.list({ limit: 100 });
  results.events = events.data
    .map((event) => ({
      type: event.type,
      request: event.request,
      object: event.data.object.id,
    }))
    .reverse();
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
