// Drives the fake Stripe API with the stripe npm package: one JSON job on stdin, results on stdout.
// Each call is [name, method path on the SDK, args...]; the answer is the object or the error's
// type, status, code and message, so the Python test can compare them.
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
  const results = [];
  for (const [name, path, ...args] of job.calls) {
    const parts = path.split(".");
    let target = stripe;
    for (const part of parts.slice(0, -1)) target = target[part];
    try {
      const value = await target[parts[parts.length - 1]](...args);
      results.push({ name, ok: true, value });
    } catch (err) {
      results.push({
        name,
        ok: false,
        type: err.type,
        status: err.statusCode,
        code: err.code || null,
        message: err.message,
      });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
