// What the interop scripts share: options from argv or the environment, checks, named steps,
// and the one JSON summary each prints on stdout: {"ok": bool, "steps": [{"step", "ok", "ms",
// ...}], ...}. Exit code 0 when every step passed, 1 when one failed, 2 on bad usage.

import { parseArgs } from "node:util";

export class UsageError extends Error {}

export class CheckFailed extends Error {}

export function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** `--name value` for each name of `spec` ({name: ENVIRONMENT_VARIABLE}), else the variable. */
export function readOptions(spec) {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(spec).map((name) => [name, { type: "string" }])),
    strict: true,
  });
  const options = {};
  const missing = [];
  for (const [name, variable] of Object.entries(spec)) {
    const value = values[name] ?? process.env[variable];
    if (!value) missing.push(`--${name} (or ${variable})`);
    options[name] = value;
  }
  if (missing.length > 0) {
    throw new UsageError(`missing: ${missing.join(", ")}`);
  }
  return options;
}

/** The options logInWithClientCredentials needs, with their environment variables. */
export const LOGIN_OPTIONS = {
  issuer: "KLUIS_ISSUER",
  "client-id": "KLUIS_CLIENT_ID",
  "client-secret": "KLUIS_CLIENT_SECRET",
  webid: "KLUIS_WEBID",
  "pod-root": "KLUIS_POD_ROOT",
};

/**
 * Log `session` (an Inrupt node Session) in with the client credentials in `options`
 * ("client-id", "client-secret", "issuer"), DPoP-bound, and check it acts for `options.webid`.
 */
export async function logInWithClientCredentials(session, options) {
  await session.login({
    clientId: options["client-id"],
    clientSecret: options["client-secret"],
    oidcIssuer: options.issuer,
    tokenType: "DPoP",
  });
  const info = session.info;
  check(info.isLoggedIn === true, `session.info.isLoggedIn is ${info.isLoggedIn}`);
  check(
    info.webId === options.webid,
    `session.info.webId is ${info.webId}, expected ${options.webid}`,
  );
  check(info.expirationDate > Date.now(), `session.info.expirationDate is ${info.expirationDate}`);
  return { webId: info.webId };
}

/** What went wrong, with the HTTP details solid-client's errors carry. */
export function describe(error) {
  const out = { error: String(error?.message ?? error) };
  if (error?.name && error.name !== "Error") out.errorName = error.name;
  const status = error?.statusCode ?? error?.response?.status;
  if (status !== undefined) out.status = status;
  if (error?.statusText) out.statusText = error.statusText;
  if (error?.response?.url) out.url = error.response.url;
  if (error?.problemDetails) {
    const { type, title, status: s, detail, instance } = error.problemDetails;
    out.problemDetails = { type: String(type), title, status: s, detail };
    if (instance) out.problemDetails.instance = String(instance);
  }
  if (error?.cause) out.cause = String(error.cause?.stack ?? error.cause);
  // A stack only where it helps: not for failed checks or usage, nor HTTP errors (status says).
  const expected = error instanceof CheckFailed || error instanceof UsageError;
  if (!expected && status === undefined && error?.stack) {
    out.stack = error.stack;
  }
  return out;
}

/**
 * Run `main(step, summary)` and print the summary. `step(name, action)` runs `action`, records
 * its outcome with what it returned, and resolves to whether it passed; `main` may add fields
 * to `summary`. The summary is ok when there were steps and every one passed.
 */
export async function run(main) {
  const summary = { ok: false, steps: [] };
  const step = async (name, action) => {
    const started = Date.now();
    try {
      const detail = (await action()) ?? {};
      summary.steps.push({ step: name, ok: true, ms: Date.now() - started, ...detail });
      return true;
    } catch (error) {
      summary.steps.push({ step: name, ok: false, ms: Date.now() - started, ...describe(error) });
      return false;
    }
  };
  try {
    await main(step, summary);
    summary.ok = summary.steps.length > 0 && summary.steps.every((s) => s.ok);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exitCode = summary.ok ? 0 : 1;
  } catch (error) {
    // The steps done so far, and what stopped the rest.
    process.stdout.write(`${JSON.stringify({ ...summary, ok: false, ...describe(error) })}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
