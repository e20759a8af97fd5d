// A small Solid web app, the way SolidOS or Penny sign people in: Inrupt's browser library
// (@inrupt/solid-client-authn-browser, used unchanged) logs the user in to a Kluis identity
// provider with the authorization-code flow, PKCE and DPoP, then the session's authenticated
// fetch (and @inrupt/solid-client on top of it) reads and writes the user's pod.
//
// test_inrupt_browser.py bundles this file with esbuild and serves it with index.html and
// config.json, which names the issuer, the client (a Client ID Document URL, or none for
// dynamic registration) and the resources to use:
//   {"issuer", "clientId" | null, "clientName", "redirectUrl", "note", "written", "writtenName",
//    "forbidden"}
//
// Before login the page shows a "Log in with Kluis" button. After the redirect back, and after
// a reload once the session is restored, it writes one JSON object into <pre id="result">:
// {"ok": bool, "steps": [{"step", "ok", ...}]}, or {"ok": false, "error": ...} when the login
// itself failed, and sets data-done on it.

import {
  getEffectiveAccess,
  getSolidDataset,
  getSourceUrl,
  getStringNoLocale,
  getThing,
} from "@inrupt/solid-client";
import {
  getDefaultSession,
  handleIncomingRedirect,
  login,
} from "@inrupt/solid-client-authn-browser";

const SCHEMA_NAME = "https://schema.org/name";

const statusLine = document.getElementById("status");
const loginButton = document.getElementById("login");
const result = document.getElementById("result");

function show(summary) {
  result.textContent = JSON.stringify(summary, null, 2);
  result.dataset.done = "true";
}

function describe(error) {
  const cause = error?.cause ? ` (cause: ${describe(error.cause)})` : "";
  return `${error?.name ?? "Error"}: ${error?.message ?? String(error)}${cause}`;
}

async function step(steps, name, action) {
  try {
    const details = await action();
    steps.push({ step: name, ok: true, ...details });
  } catch (error) {
    steps.push({ step: name, ok: false, error: describe(error) });
  }
}

async function usePod(session, config) {
  const steps = [];
  const fetch = session.fetch;

  await step(steps, "session", async () => ({
    isLoggedIn: session.info.isLoggedIn,
    webId: session.info.webId,
    clientAppId: session.info.clientAppId ?? null,
    expires: typeof session.info.expirationDate === "number",
  }));

  await step(steps, "read private note", async () => {
    const response = await fetch(config.note, { headers: { Accept: "text/turtle" } });
    return {
      status: response.status,
      contentType: response.headers.get("Content-Type"),
      // Solid Protocol #server-cors: these must be exposed to scripts on other origins.
      wacAllow: response.headers.get("WAC-Allow"),
      link: response.headers.get("Link"),
      body: await response.text(),
    };
  });

  await step(steps, "read note with solid-client", async () => {
    const dataset = await getSolidDataset(config.note, { fetch });
    const thing = getThing(dataset, `${config.note}#it`);
    return {
      source: getSourceUrl(dataset),
      name: thing === null ? null : getStringNoLocale(thing, SCHEMA_NAME),
      access: getEffectiveAccess(dataset).user,
    };
  });

  await step(steps, "write new resource", async () => {
    const response = await fetch(config.written, {
      method: "PUT",
      headers: { "Content-Type": "text/turtle" },
      body: `<#it> <${SCHEMA_NAME}> "${config.writtenName}" .\n`,
    });
    await response.arrayBuffer();
    return { status: response.status };
  });

  await step(steps, "read it back", async () => {
    const response = await fetch(config.written, { headers: { Accept: "text/turtle" } });
    return { status: response.status, body: await response.text() };
  });

  await step(steps, "other pod is forbidden", async () => {
    const response = await fetch(config.forbidden);
    await response.arrayBuffer();
    return { status: response.status };
  });

  return { ok: steps.every((s) => s.ok), steps };
}

async function main() {
  const config = await (await window.fetch("config.json", { cache: "no-store" })).json();
  const params = new URL(window.location.href).searchParams;
  if (params.has("error")) {
    // The provider sent the user back without a code (RFC 6749 §4.1.2.1).
    show({ ok: false, error: params.get("error"), description: params.get("error_description") });
    return;
  }
  // Completes the login when this page is the redirect back from the provider: exchanges the
  // code (with the PKCE verifier and a DPoP proof) for tokens and checks the ID token. On a
  // later visit, restores the session the way SolidOS and Penny do: a silent redirect to the
  // provider with prompt=none, which comes straight back with a new code.
  await handleIncomingRedirect({ restorePreviousSession: true });
  const session = getDefaultSession();
  if (!session.info.isLoggedIn) {
    statusLine.textContent = "Not logged in.";
    loginButton.hidden = false;
    loginButton.addEventListener("click", async () => {
      loginButton.disabled = true;
      statusLine.textContent = "Going to Kluis…";
      try {
        await login({
          oidcIssuer: config.issuer,
          redirectUrl: config.redirectUrl,
          clientName: config.clientName,
          ...(config.clientId ? { clientId: config.clientId } : {}),
        });
      } catch (error) {
        show({ ok: false, error: describe(error) });
      }
    });
    return;
  }
  statusLine.textContent = `Logged in as ${session.info.webId}`;
  show(await usePod(session, config));
}

main().catch((error) => show({ ok: false, error: describe(error) }));
