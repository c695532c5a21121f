// A webhook endpoint on Express with the stripe npm package, for `verify --serve`: correct by default,
// with one bug switched on by `--bug NAME`, in the shapes real handlers take:
//   --reads-only    its work is a read of data.object, written to its own store (no mutating call)
//   --handles-403   keeps no list of disconnected accounts: acts, gets Stripe's 403, logs it, answers 200
//   --defer         answers 200 first and works in a background job that retries its Stripe calls
// Bugs: platform-auth (no stripeAccount), no-idempotency (no dedupe, no idempotencyKey),
// reserialized (verifies JSON.stringify(req.body)), swallows-api-errors (200 when its calls fail),
// crashes-on-deauthorized-403 (500 when Stripe answers 403 for a disconnected account),
// refuses-retries (500 to every delivery of an event whose work failed once), exits-after-answering
// (the process ends right after its 5th answer, as an unhandled error in a worker would end it).
// Environment: PORT, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, STRIPE_SECRET_KEY_TEST/LIVE.
"use strict";

const express = require("express");
const Stripe = require("stripe");

const flag = (name) => process.argv.includes(name);
const bugIndex = process.argv.indexOf("--bug");
const bug = bugIndex > 0 ? process.argv[bugIndex + 1] : null;
const readsOnly = flag("--reads-only");
const handles403 = flag("--handles-403");
const defer = flag("--defer");
const secret = process.env.STRIPE_WEBHOOK_SECRET;
const base = new URL(process.env.STRIPE_API_BASE);

function client(key) {
  return new Stripe(key, {
    host: base.hostname,
    port: Number(base.port),
    protocol: base.protocol.replace(":", ""),
    maxNetworkRetries: 0,
  });
}
const clients = {
  live: client(process.env.STRIPE_SECRET_KEY_LIVE),
  test: client(process.env.STRIPE_SECRET_KEY_TEST),
};
const seen = new Set();
const failedOnce = new Set();
const revoked = new Set();
const store = new Map();

function transient(err) {
  const status = err && err.statusCode;
  return !status || status === 429 || status >= 500;
}

async function act(event) {
  const account = event.account;
  if (event.type === "account.application.deauthorized" && account) {
    if (!handles403 && bug !== "crashes-on-deauthorized-403") revoked.add(account);
    return;
  }
  if (account && revoked.has(account)) return;
  if (event.type !== "payment_intent.succeeded") return;
  const stripe = event.livemode ? clients.live : clients.test;
  const id = event.data.object.id;
  const options = account && bug !== "platform-auth" ? { stripeAccount: account } : {};
  try {
    const intent = await stripe.paymentIntents.retrieve(id, {}, options);
    if (readsOnly) {
      store.set(id, intent.status);
      return;
    }
    const update = bug === "no-idempotency" ? options : { ...options, idempotencyKey: `${event.id}:mark-handled` };
    await stripe.paymentIntents.update(id, { metadata: { webhook_handled: "true" } }, update);
  } catch (err) {
    if (bug !== "swallows-api-errors" && transient(err)) throw err; // Stripe retries a 5xx
    if (bug === "crashes-on-deauthorized-403" && err.statusCode === 403) throw err;
    console.log(`not retried: ${err.type} ${err.statusCode}`); // permanent: the event was received
  }
}

async function actUntilDone(event) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    try {
      await act(event);
      return;
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const app = express();
const body = bug === "reserialized" ? express.json() : express.raw({ type: "*/*" });

let answered = 0;
app.use((req, res, next) => {
  res.on("finish", () => {
    answered += 1;
    if (bug === "exits-after-answering" && answered === 5) setTimeout(() => process.exit(3), 10);
  });
  next();
});

app.post("/webhook", body, (req, res) => {
  let event;
  try {
    const payload = bug === "reserialized" ? JSON.stringify(req.body, null, 2) : req.body;
    event = Stripe.webhooks.constructEvent(payload, req.headers["stripe-signature"] || "", secret);
  } catch (err) {
    return res.status(400).json({ error: "invalid request" });
  }
  if (bug === "refuses-retries" && failedOnce.has(event.id)) {
    return res.status(500).json({ error: "duplicate key value violates unique constraint" });
  }
  if (bug !== "no-idempotency") {
    if (seen.has(event.id)) return res.status(200).json({ received: true, duplicate: true });
    seen.add(event.id);
  }
  if (defer) {
    res.status(200).json({ received: true, queued: true });
    actUntilDone(event);
    return undefined;
  }
  return act(event)
    .then(() => res.status(200).json({ received: true }))
    .catch(() => {
      seen.delete(event.id); // a retry redoes it
      failedOnce.add(event.id);
      res.status(500).json({ error: "could not handle the event" });
    });
});

app.use((req, res) => res.status(404).json({ error: "not found" }));

app.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${process.env.PORT}`);
});
