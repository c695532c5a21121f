// Pagination, search, expand and API versions of the fake Stripe API, driven by the stripe npm
// package as a Node app would drive Stripe. Reads {"url", "key"} on stdin, writes one JSON object of
// results on stdout for tests/test_fake_protocol_node.py to compare.
"use strict";

const Stripe = require("stripe");

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    return {
      ok: false,
      type: err.type,
      status: err.statusCode,
      code: err.code || null,
      param: err.param || null,
      message: err.message,
    };
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
  const made = [];
  for (let index = 0; index < 7; index += 1) {
    const customer = await stripe.customers.create({
      email: `node${index}@example.com`,
      metadata: { index: String(index) },
    });
    made.push(customer.id);
  }
  const results = { made };
  results.autoPaged = (await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 }))
    .map((customer) => customer.id);
  results.firstPage = await stripe.customers.list({ limit: 3 });
  results.limitZero = await outcome(stripe.customers.list({ limit: 0 }));
  results.bothCursors = await outcome(
    stripe.customers.list({ starting_after: made[1], ending_before: made[2] }),
  );
  results.unknownCursor = await outcome(stripe.customers.list({ starting_after: "cus_1Nobody" }));
  results.searched = await stripe.customers.search({ query: 'metadata["index"]:"3"' });
  results.searchPaged = (
    await stripe.customers
      .search({ query: 'email~"example.com"', limit: 2 })
      .autoPagingToArray({ limit: 100 })
  ).map((customer) => customer.id);
  results.badQuery = await outcome(stripe.customers.search({ query: "email" }));
  results.badField = await outcome(stripe.customers.search({ query: 'nope:"x"' }));
  results.sources = await stripe.customers.retrieve(made[0], { expand: ["sources"] });
  results.notExpandable = await outcome(
    stripe.customers.retrieve(made[0], { expand: ["metadata"] }),
  );
  results.oldInvoice = await stripe.invoices.create({}, { apiVersion: "2023-08-16" });
  results.newInvoice = await stripe.invoices.retrieve(
    results.oldInvoice.id,
    {},
    { apiVersion: "2026-10-28.endive" },
  );
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
