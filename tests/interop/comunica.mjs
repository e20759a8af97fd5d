// Comunica (@comunica/query-sparql-solid) against a Kluis server: log in with client credentials
// (@inrupt/solid-client-authn-node, DPoP-bound token), hand the session to Comunica's
// QueryEngine, then query and update documents in the pod with SPARQL, be refused another
// pod's private document, and query anonymously.
//
// Usage: node comunica.mjs --issuer URL --client-id ID --client-secret SECRET --webid WEBID
//                          --pod-root URL --people URL --ages URL --notes URL --new-doc URL
//                          --forbidden URL
// Each option can instead come from the environment: KLUIS_ISSUER, KLUIS_CLIENT_ID,
// KLUIS_CLIENT_SECRET, KLUIS_WEBID, KLUIS_POD_ROOT, KLUIS_PEOPLE, KLUIS_AGES, KLUIS_NOTES,
// KLUIS_NEW_DOC, KLUIS_FORBIDDEN.
//   people, ages: private documents of the logged-in WebID, seeded beforehand:
//     people: <#ann> schema:name "Ann"; schema:email <mailto:ann@example.org>.
//             <#bert> schema:name "Bert"; schema:email <mailto:bert@example.org>.
//     ages:   <people#ann> schema:age 34.  <people#bert> schema:age 51.  (people: its URL)
//   notes: a private document holding <#n0> schema:text "seed"., updated here;
//   new-doc: a document that does not exist yet, created here;
//   forbidden: a private document in a pod the logged-in WebID has no access to.
// KLUIS_INTEROP_DEBUG=1 logs every request and response on stderr.
//
// Prints one JSON object on stdout: {"ok": bool, "steps": [{"step", "ok", ...}], ...}, and
// exits 1 when any step failed (2 on bad usage).

import http from "node:http";

import { QueryEngine } from "@comunica/query-sparql-solid";
import { Session } from "@inrupt/solid-client-authn-node";

import {
  CheckFailed,
  check,
  LOGIN_OPTIONS,
  logInWithClientCredentials,
  readOptions,
  run,
} from "./script.mjs";

const SESSION_KEY = "@comunica/actor-http-inrupt-solid-client-authn:session";
const PREFIXES = `
PREFIX schema: <https://schema.org/>
PREFIX solid: <http://www.w3.org/ns/solid/terms#>
PREFIX pim: <http://www.w3.org/ns/pim/space#>
`;

const OPTIONS = {
  ...LOGIN_OPTIONS,
  people: "KLUIS_PEOPLE",
  ages: "KLUIS_AGES",
  notes: "KLUIS_NOTES",
  "new-doc": "KLUIS_NEW_DOC",
  forbidden: "KLUIS_FORBIDDEN",
};

/** JSON with the keys of every object sorted, so that key order does not matter. */
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function same(actual, expected, what) {
  const [a, e] = [canonical(actual), canonical(expected)];
  check(a === e, `${what}: got ${a}, expected ${e}`);
}

// Every request that goes out through fetch (Comunica's, directly or through the session's
// authenticated fetch) is recorded, so the steps can report which HTTP methods Comunica chose.
const requests = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const request = new Request(input, init);
  const debug = Boolean(process.env.KLUIS_INTEROP_DEBUG);
  if (debug) {
    console.error(`> ${request.method} ${request.url}`);
    for (const [name, value] of request.headers) {
      console.error(`>   ${name}: ${value.slice(0, 120)}`);
    }
  }
  const response = await realFetch(request);
  requests.push({
    method: request.method,
    url: request.url,
    contentType: request.headers.get("content-type") ?? undefined,
    authenticated: request.headers.has("authorization"),
    status: response.status,
  });
  if (debug) {
    console.error(`< ${response.status} ${response.statusText}`);
    for (const [name, value] of response.headers) console.error(`<   ${name}: ${value}`);
  }
  return response;
};

// openid-client's discovery and token requests go through node:http, not fetch.
if (process.env.KLUIS_INTEROP_DEBUG) {
  const request = http.request;
  http.request = (url, options, ...rest) => {
    console.error(`> ${options?.method ?? "GET"} ${url} (openid-client)`);
    const req = request(url, options, ...rest);
    req.on("response", (response) => console.error(`< ${response.statusCode} (openid-client)`));
    return req;
  };
}

/** What `action` returns, and the requests made while it ran. */
async function recording(action) {
  const start = requests.length;
  const result = await action();
  return { result, made: requests.slice(start) };
}

/** A Comunica engine; on an older Node.js, say why constructing it may fail. */
function newEngine() {
  try {
    return new QueryEngine();
  } catch (error) {
    // @comunica/actor-http-fetch 5.3 and later load undici 8, which needs Node.js 22.19 or later.
    const major = Number(process.versions.node.split(".")[0]);
    if (major < 22) {
      error.message +=
        ` (Node.js ${process.versions.node}: Comunica's HTTP actor loads undici, whose version` +
        " in node_modules may need a newer Node.js; see `npm ls undici`)";
    }
    throw error;
  }
}

/** Each binding as a plain object of variable name to term value. */
async function select(engine, query, context) {
  const stream = await engine.queryBindings(PREFIXES + query, context);
  const bindings = await stream.toArray();
  return bindings.map((binding) =>
    Object.fromEntries([...binding].map(([variable, term]) => [variable.value, term.value])),
  );
}

/** The message of the error the query must throw; a failed check if it gives bindings instead. */
async function refused(engine, query, context) {
  let rows;
  try {
    rows = await select(engine, query, context);
  } catch (error) {
    return { message: String(error?.message ?? error) };
  }
  throw new CheckFailed(`the query succeeded with ${JSON.stringify(rows)}`);
}

/** The only write among `made` was one SPARQL Update PATCH, answered 204. */
function patchedOnce(made) {
  const writes = made.filter((r) => r.method !== "GET" && r.method !== "HEAD");
  same(
    writes.map((r) => [r.method, r.contentType, r.status]),
    [["PATCH", "application/sparql-update", 204]],
    "writes",
  );
}

async function main(step) {
  const options = readOptions(OPTIONS);

  const session = new Session();
  const loggedIn = await step("login", () => logInWithClientCredentials(session, options));
  if (loggedIn) {
    try {
      await asOwner(step, options, session);
    } finally {
      await session.logout(); // else its token refresh timer keeps Node running
    }
  }
  await anonymously(step, options);
}

/** The steps with an authenticated Comunica: the session's fetch, as the pod's owner. */
async function asOwner(step, options, session) {
  const engine = newEngine();
  const authenticated = (context) => ({ ...context, [SESSION_KEY]: session });
  const { people, ages, notes, forbidden, webid } = options;
  const newDoc = options["new-doc"];

  await step("select private document", async () => {
    const { result: rows, made } = await recording(() =>
      select(
        engine,
        "SELECT ?person ?name ?email WHERE { ?person schema:name ?name; schema:email ?email } " +
          "ORDER BY ?name",
        authenticated({ sources: [people] }),
      ),
    );
    same(
      rows,
      [
        { person: `${people}#ann`, name: "Ann", email: "mailto:ann@example.org" },
        { person: `${people}#bert`, name: "Bert", email: "mailto:bert@example.org" },
      ],
      "bindings",
    );
    check(
      made.length > 0 && made.every((r) => r.authenticated),
      `requests not all authenticated: ${JSON.stringify(made)}`,
    );
    return { rows, requests: made };
  });

  await step("join two documents", async () => {
    const rows = await select(
      engine,
      "SELECT ?name ?age WHERE { ?person schema:name ?name . ?person schema:age ?age } " +
        "ORDER BY DESC(?age)",
      authenticated({ sources: [people, ages] }),
    );
    same(
      rows,
      [
        { name: "Bert", age: "51" },
        { name: "Ann", age: "34" },
      ],
      "bindings",
    );
    return { rows };
  });

  await step("query the profile", async () => {
    const rows = await select(
      engine,
      `SELECT ?issuer ?storage WHERE { <${webid}> solid:oidcIssuer ?issuer; pim:storage ?storage }`,
      authenticated({ sources: [webid] }),
    );
    same(rows, [{ issuer: options.issuer, storage: options["pod-root"] }], "bindings");
    return { rows };
  });

  await step("insert data", async () => {
    const { made } = await recording(() =>
      engine.queryVoid(
        `${PREFIXES} INSERT DATA { <${notes}#n1> schema:text "first"; schema:position 1 . }`,
        authenticated({ destination: notes }),
      ),
    );
    patchedOnce(made);
    return { requests: made };
  });

  await step("delete/insert where", async () => {
    await engine.invalidateHttpCache();
    const { made } = await recording(() =>
      engine.queryVoid(
        `${PREFIXES} DELETE { ?note schema:text "first" } INSERT { ?note schema:text "second" } ` +
          `WHERE { ?note schema:text "first" }`,
        authenticated({ sources: [notes], destination: notes }),
      ),
    );
    patchedOnce(made);
    return { requests: made };
  });

  await step("read back the updates", async () => {
    await engine.invalidateHttpCache();
    const rows = await select(
      engine,
      "SELECT ?note ?text WHERE { ?note schema:text ?text } ORDER BY ?note",
      authenticated({ sources: [notes] }),
    );
    same(
      rows,
      [
        { note: `${notes}#n0`, text: "seed" },
        { note: `${notes}#n1`, text: "second" },
      ],
      "bindings",
    );
    return { rows };
  });

  await step("insert data into a new document", async () => {
    const { made } = await recording(() =>
      engine.queryVoid(
        `${PREFIXES} INSERT DATA { <${newDoc}#it> schema:name "made by Comunica" . }`,
        authenticated({ destination: newDoc }),
      ),
    );
    const writes = made.filter((r) => r.method !== "GET" && r.method !== "HEAD");
    same(writes.length, 1, "number of writes");
    check(
      writes[0].method === "PUT" && writes[0].status === 201,
      `write: ${JSON.stringify(writes[0])}`,
    );
    return { requests: made };
  });

  await step("other pod is refused", async () => {
    const { result, made } = await recording(() =>
      refused(engine, "SELECT * WHERE { ?s ?p ?o }", authenticated({ sources: [forbidden] })),
    );
    check(result.message.includes("403"), `the error does not mention 403: ${result.message}`);
    check(
      made.some((r) => r.url === forbidden && r.status === 403),
      `no 403 for ${forbidden}: ${JSON.stringify(made)}`,
    );
    return { ...result, requests: made };
  });

}

/** The steps with Comunica on its own: no session, so no credentials. */
async function anonymously(step, options) {
  const { people, webid } = options;
  // A fresh engine, so nothing the authenticated one fetched can be served from its caches.
  const anonymous = newEngine();

  await step("anonymous: public profile", async () => {
    const { result: rows, made } = await recording(() =>
      select(anonymous, `SELECT ?issuer WHERE { <${webid}> solid:oidcIssuer ?issuer }`, {
        sources: [webid],
      }),
    );
    same(rows, [{ issuer: options.issuer }], "bindings");
    check(
      made.length > 0 && made.every((r) => !r.authenticated),
      `anonymous requests carried credentials: ${JSON.stringify(made)}`,
    );
    return { rows };
  });

  await step("anonymous: private document is refused", async () => {
    const { result, made } = await recording(() =>
      refused(anonymous, "SELECT * WHERE { ?s ?p ?o }", { sources: [people] }),
    );
    check(result.message.includes("401"), `the error does not mention 401: ${result.message}`);
    check(
      made.some((r) => r.url === people && r.status === 401),
      `no 401 for ${people}: ${JSON.stringify(made)}`,
    );
    return result;
  });
}

await run(main);
