// A webhook endpoint on node's http server with the stripe npm package, for `verify --serve`.
// Correct by default; `--bug unhandled-rejection` makes one API call after answering without
// catching its failure, so node ends the process on the rejection (every later delivery: refused).
// Environment: PORT, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, STRIPE_SECRET_KEY_TEST/LIVE.
"use strict";

const http = require("http");
const Stripe = require("stripe");

const bugIndex = process.argv.indexOf("--bug");
const bug = bugIndex > 0 ? process.argv[bugIndex + 1] : null;
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
const revoked = new Set();

async function act(event) {
  const account = event.account;
  if (event.type === "account.application.deauthorized" && account) {
    revoked.add(account);
    return;
  }
  if (account && revoked.has(account)) return;
  if (event.type !== "payment_intent.succeeded") return;
  const stripe = event.livemode ? clients.live : clients.test;
  const id = event.data.object.id;
  const options = account ? { stripeAccount: account } : {};
  await stripe.paymentIntents.retrieve(id, {}, options);
  await stripe.paymentIntents.update(
    id,
    { metadata: { webhook_handled: "true" } },
    { ...options, idempotencyKey: `${event.id}:mark-handled` },
  );
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const answer = (status, body) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST" || req.url !== "/webhook") return answer(404, { error: "not found" });
    let event;
    try {
      event = Stripe.webhooks.constructEvent(
        Buffer.concat(chunks),
        req.headers["stripe-signature"] || "",
        secret,
      );
    } catch (err) {
      return answer(400, { error: "invalid request" });
    }
    if (seen.has(event.id)) return answer(200, { received: true, duplicate: true });
    seen.add(event.id);
    if (bug === "unhandled-rejection" && event.type === "customer.created") {
      // A request that fails (a customer that does not exist) while the event is answered; its failure is
      // passed on after the answer, to a promise nobody handles: node ends the process.
      const stripe = event.livemode ? clients.live : clients.test;
      const options = event.account ? { stripeAccount: event.account } : {};
      const lookup = stripe.customers.retrieve("cus_doesnotexist", {}, options);
      setTimeout(() => answer(200, { received: true }), 30);
      lookup.catch((err) => new Promise((_, reject) => setTimeout(() => reject(err), 60)));
      return;
    }
    act(event)
      .then(() => answer(200, { received: true }))
      .catch(() => {
        seen.delete(event.id); // a retry redoes it
        answer(500, { error: "could not handle the event" });
      });
  });
});

server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${process.env.PORT}`);
});
