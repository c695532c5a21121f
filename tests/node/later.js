// Drives what Stripe does later on its own, on the fake Stripe API, with the stripe npm package:
// one JSON job on stdin ({url, key}), one JSON object of results on stdout, for
// tests/test_fake_payments_node.py.
"use strict";

const Stripe = require("stripe");

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
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

  const pm = await stripe.paymentMethods.create({
    type: "sepa_debit",
    sepa_debit: { iban: "AT861904300235473202" },
  });
  const debit = await stripe.paymentIntents.create({
    amount: 1000,
    currency: "eur",
    confirm: true,
    payment_method: pm.id,
    payment_method_types: ["sepa_debit"],
  });
  const settled = await stripe.paymentIntents.retrieve(debit.id);
  results.debit = { answered: debit.status, now: settled.status };

  const paid = await stripe.paymentIntents.create({
    amount: 2000,
    currency: "usd",
    confirm: true,
    payment_method: "pm_card_refundFail",
  });
  const refund = await stripe.refunds.create({ payment_intent: paid.id });
  const failed = await stripe.refunds.retrieve(refund.id);
  results.refund = { answered: refund.status, now: failed.status };

  const events = await stripe.events.list({ limit: 100 });
  results.events = events.data
    .map((event) => ({ type: event.type, automatic: event.request.id === null }))
    .reverse();
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
