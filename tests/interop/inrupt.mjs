// Inrupt's JavaScript Solid clients against a Kluis server: log in with client credentials
// (@inrupt/solid-client-authn-node, DPoP-bound token), then read and write the pod with
// @inrupt/solid-client through the session's authenticated fetch.
//
// Usage: node inrupt.mjs --issuer URL --client-id ID --client-secret SECRET --webid WEBID
//                        --pod-root URL --forbidden URL
// Each option can instead come from the environment: KLUIS_ISSUER, KLUIS_CLIENT_ID,
// KLUIS_CLIENT_SECRET, KLUIS_WEBID, KLUIS_POD_ROOT, KLUIS_FORBIDDEN (a private resource in a
// pod the logged-in WebID has no access to). KLUIS_INTEROP_DEBUG=1 logs every request and
// response on stderr, DPoP proofs decoded.
//
// Prints one JSON object on stdout: {"ok": bool, "steps": [{"step", "ok", ...}], ...}, and
// exits 1 when any step failed (2 on bad usage).

import { randomUUID } from "node:crypto";
import http from "node:http";

import {
  buildThing,
  createContainerAt,
  createSolidDataset,
  createThing,
  deleteFile,
  getContainedResourceUrlAll,
  getContentType,
  getFile,
  getInteger,
  getPodUrlAll,
  getSolidDataset,
  getSourceUrl,
  getStringNoLocale,
  getThing,
  overwriteFile,
  saveSolidDatasetAt,
  setThing,
} from "@inrupt/solid-client";
import { Session } from "@inrupt/solid-client-authn-node";

import { LOGIN_OPTIONS, check, logInWithClientCredentials, readOptions, run } from "./script.mjs";

const SCHEMA_NAME = "https://schema.org/name";
const SCHEMA_VERSION = "https://schema.org/version";

const OPTIONS = {
  ...LOGIN_OPTIONS,
  forbidden: "KLUIS_FORBIDDEN",
};

/** A DPoP proof's protected header and claims, for the debug log. */
function decodeProof(proof) {
  const [header, payload] = proof.split(".").slice(0, 2);
  const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString());
  return JSON.stringify({ header: decode(header), claims: decode(payload) });
}

function logHeader(name, value) {
  const shown = name.toLowerCase() === "dpop" ? decodeProof(value) : value.slice(0, 120);
  console.error(`>   ${name}: ${shown}`);
}

// With KLUIS_INTEROP_DEBUG set, log on stderr every request that goes out (the pod requests
// through fetch, openid-client's discovery and token requests through node:http) and its
// response, with DPoP proofs decoded.
if (process.env.KLUIS_INTEROP_DEBUG) {
  const fetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    console.error(`> ${request.method} ${request.url}`);
    for (const [name, value] of request.headers) logHeader(name, value);
    const response = await fetch(request);
    console.error(`< ${response.status} ${response.statusText}`);
    for (const [name, value] of response.headers) console.error(`<   ${name}: ${value}`);
    return response;
  };
  const request = http.request;
  http.request = (url, options, ...rest) => {
    console.error(`> ${options?.method ?? "GET"} ${url} (openid-client)`);
    for (const [name, value] of Object.entries(options?.headers ?? {})) {
      logHeader(name, String(value));
    }
    const req = request(url, options, ...rest);
    req.on("response", (response) => {
      console.error(`< ${response.statusCode} (openid-client)`);
      for (const [name, value] of Object.entries(response.headers)) {
        console.error(`<   ${name}: ${value}`);
      }
    });
    return req;
  };
}

async function main(step, summary) {
  const options = readOptions(OPTIONS);

  const session = new Session();
  const loggedIn = await step("login", () => logInWithClientCredentials(session, options));
  summary.webId = session.info.webId ?? null;
  if (!loggedIn) return;

  const fetch = session.fetch.bind(session);
  const podRoot = options["pod-root"];
  const container = `${podRoot}interop-${randomUUID()}/`;
  const datasetUrl = `${container}note`;
  const fileUrl = `${container}hello.txt`;
  const text = `Hello from @inrupt/solid-client ${randomUUID()}`;
  summary.container = container;

  await step("pods from profile", async () => {
    const pods = await getPodUrlAll(options.webid, { fetch });
    check(pods.includes(podRoot), `getPodUrlAll gave ${JSON.stringify(pods)}, not ${podRoot}`);
    return { pods };
  });

  await step("create container", async () => {
    const created = await createContainerAt(container, { fetch });
    check(getSourceUrl(created) === container, `created ${getSourceUrl(created)}`);
  });

  await step("write RDF", async () => {
    const thing = buildThing(createThing({ name: "it" }))
      .addStringNoLocale(SCHEMA_NAME, "Kluis interop")
      .addInteger(SCHEMA_VERSION, 1)
      .build();
    const saved = await saveSolidDatasetAt(datasetUrl, setThing(createSolidDataset(), thing), {
      fetch,
    });
    check(getSourceUrl(saved) === datasetUrl, `saved at ${getSourceUrl(saved)}`);
  });

  await step("read RDF", async () => {
    const dataset = await getSolidDataset(datasetUrl, { fetch });
    const thing = getThing(dataset, `${datasetUrl}#it`);
    check(thing !== null, `no <${datasetUrl}#it> in the dataset read back`);
    const name = getStringNoLocale(thing, SCHEMA_NAME);
    check(name === "Kluis interop", `schema:name is ${JSON.stringify(name)}`);
    return { name };
  });

  // Saving a dataset that was read sends only the changes (PATCH, SPARQL Update).
  await step("update RDF", async () => {
    const dataset = await getSolidDataset(datasetUrl, { fetch });
    const thing = buildThing(getThing(dataset, `${datasetUrl}#it`))
      .setInteger(SCHEMA_VERSION, 2)
      .build();
    await saveSolidDatasetAt(datasetUrl, setThing(dataset, thing), { fetch });
    const again = await getSolidDataset(datasetUrl, { fetch });
    const version = getInteger(getThing(again, `${datasetUrl}#it`), SCHEMA_VERSION);
    check(version === 2, `schema:version is ${version} after the update`);
    return { version };
  });

  await step("write file", async () => {
    await overwriteFile(fileUrl, new Blob([text], { type: "text/plain" }), {
      contentType: "text/plain",
      fetch,
    });
  });

  await step("read file", async () => {
    const file = await getFile(fileUrl, { fetch });
    const body = await file.text();
    check(body === text, `read back ${JSON.stringify(body)}`);
    const contentType = getContentType(file);
    check(contentType?.startsWith("text/plain"), `Content-Type is ${contentType}`);
    return { contentType };
  });

  await step("list container", async () => {
    const listed = getContainedResourceUrlAll(await getSolidDataset(container, { fetch }));
    for (const url of [datasetUrl, fileUrl]) {
      check(listed.includes(url), `${url} not in ${JSON.stringify(listed)}`);
    }
    return { contains: listed.sort() };
  });

  await step("other pod is forbidden", async () => {
    let status;
    try {
      await getSolidDataset(options.forbidden, { fetch });
    } catch (error) {
      status = error?.statusCode;
      if (status === undefined) throw error;
    }
    check(status === 403, `reading ${options.forbidden} gave ${status ?? "no error"}`);
    const raw = await fetch(options.forbidden);
    check(raw.status === 403, `a plain authenticated GET gave ${raw.status}`);
    return { status };
  });

  await step("delete file", async () => {
    await deleteFile(fileUrl, { fetch });
    const listed = getContainedResourceUrlAll(await getSolidDataset(container, { fetch }));
    check(!listed.includes(fileUrl), `${fileUrl} still listed after deleting it`);
  });

  await session.logout();
}

await run(main);
