// Validates the SAML responses bench/saml wrote with @node-saml/node-saml,
// as a Node service provider's ACS does (SAML.validatePostResponseAsync),
// on W worker threads of this one process, and prints one JSON line:
// {"n", "workers", "seconds" (wall), "cpuSeconds" (the whole process)}.
//
//   node validate.mjs <input.json> <workers>
//
// input.json: {cert (base64 DER), idpEntityID, spEntityID, acsURL,
// warmup, responses: [{samlResponse (base64), requestID}]}.
//
// Each worker validates a contiguous share of the responses, with every
// check node-saml offers turned on where federation/saml has the same
// one: the assertion signed by the configured certificate, the IdP's
// Issuer, the Audience, InResponseTo of a pending request (its cache holds
// exactly the requests the worker's responses answer, removed once used),
// the time windows with 2 minutes of skew. Node-saml keeps no assertion
// replay record; federation/saml's Finish does.
import { readFileSync } from "node:fs";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { SAML } from "@node-saml/node-saml";

// Pending AuthnRequests, as node-saml's CacheProvider interface wants them.
class Pending {
  constructor() {
    this.m = new Map();
  }
  async saveAsync(key, value) {
    this.m.set(key, value);
    return { value, createdAt: Date.now() };
  }
  async getAsync(key) {
    return this.m.has(key) ? this.m.get(key) : null;
  }
  async removeAsync(key) {
    const had = this.m.has(key);
    this.m.delete(key);
    return had ? key : null;
  }
}

function sp(input, pending) {
  const pem = `-----BEGIN CERTIFICATE-----\n${input.cert.match(/.{1,64}/g).join("\n")}\n-----END CERTIFICATE-----\n`;
  return new SAML({
    idpCert: pem,
    issuer: input.spEntityID,
    audience: input.spEntityID,
    callbackUrl: input.acsURL,
    idpIssuer: input.idpEntityID,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: "always",
    cacheProvider: pending,
    acceptedClockSkewMs: 120000,
  });
}

async function validate(saml, pending, responses) {
  for (const r of responses) {
    await pending.saveAsync(r.requestID, new Date().toISOString());
  }
  for (const r of responses) {
    const { profile, loggedOut } = await saml.validatePostResponseAsync({ SAMLResponse: r.samlResponse });
    if (loggedOut || !profile || !profile.email || profile.nameID !== profile.email) {
      throw new Error(`response answering ${r.requestID}: no profile with an email`);
    }
  }
}

if (isMainThread) {
  const [file, workersArg] = process.argv.slice(2);
  const input = JSON.parse(readFileSync(file, "utf8"));
  const workers = Number(workersArg || 1);
  const n = input.responses.length;
  const ready = [];
  const done = [];
  const threads = [];
  for (let w = 0; w < workers; w++) {
    const share = input.responses.slice(Math.floor((w * n) / workers), Math.floor(((w + 1) * n) / workers));
    const t = new Worker(new URL(import.meta.url), { workerData: { ...input, responses: share } });
    threads.push(t);
    ready.push(new Promise((res, rej) => {
      t.once("message", res);
      t.once("error", rej);
    }));
  }
  await Promise.all(ready); // warmed up
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (const t of threads) {
    done.push(new Promise((res, rej) => {
      t.once("message", res);
      t.once("error", rej);
    }));
    t.postMessage("go");
  }
  await Promise.all(done);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  for (const t of threads) await t.terminate();
  console.log(JSON.stringify({ n, workers, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
} else {
  const pending = new Pending();
  const saml = sp(workerData, pending);
  // Warm-up: the JIT and node-saml's lazy state, on this worker's first
  // responses; their requests are pending again for the timed pass.
  await validate(saml, pending, workerData.responses.slice(0, workerData.warmup));
  parentPort.postMessage("ready");
  parentPort.once("message", async () => {
    await validate(saml, pending, workerData.responses);
    parentPort.postMessage("done");
  });
}
