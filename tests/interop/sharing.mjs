// Sharing a resource with @inrupt/solid-client's universalAccess against a Kluis server: the
// owner grants a second agent Read on a resource that has no ACL of its own, the agent reads it,
// the owner revokes, and the agent is refused again. Both log in with client credentials
// (@inrupt/solid-client-authn-node, DPoP-bound tokens).
//
// On a WAC server, setAgentAccess first copies the fallback ACL (the container's) into a new ACL
// for the resource, acl:default and the rules' IRIs from the container's ACL document included
// (createAclFromFallbackAcl), then adds the agent's rule and saves it with PUT.
//
// Usage: node sharing.mjs --issuer URL --client-id ID --client-secret SECRET --webid WEBID
//                         --pod-root URL --agent-client-id ID --agent-client-secret SECRET
//                         --agent-webid WEBID --resource URL
// Each option can instead come from the environment (KLUIS_ISSUER, ..., KLUIS_AGENT_CLIENT_ID,
// KLUIS_AGENT_CLIENT_SECRET, KLUIS_AGENT_WEBID, KLUIS_RESOURCE). The first login is the owner of
// the pod that holds the resource.
//
// Prints one JSON object on stdout: {"ok": bool, "steps": [{"step", "ok", ...}], ...}, and
// exits 1 when any step failed (2 on bad usage).

import { universalAccess } from "@inrupt/solid-client";
import { Session } from "@inrupt/solid-client-authn-node";

import { LOGIN_OPTIONS, check, logInWithClientCredentials, readOptions, run } from "./script.mjs";

const OPTIONS = {
  ...LOGIN_OPTIONS,
  "agent-client-id": "KLUIS_AGENT_CLIENT_ID",
  "agent-client-secret": "KLUIS_AGENT_CLIENT_SECRET",
  "agent-webid": "KLUIS_AGENT_WEBID",
  resource: "KLUIS_RESOURCE",
};

async function expectStatus(fetch, url, status, who) {
  const response = await fetch(url);
  await response.arrayBuffer();
  check(response.status === status, `${who} GET ${url} gave ${response.status}, not ${status}`);
  return { status: response.status };
}

async function main(step, summary) {
  const options = readOptions(OPTIONS);
  const resource = options.resource;

  const owner = new Session();
  const agent = new Session();
  const ownerIn = await step("owner login", () => logInWithClientCredentials(owner, options));
  const agentIn = await step("agent login", () =>
    logInWithClientCredentials(agent, {
      "client-id": options["agent-client-id"],
      "client-secret": options["agent-client-secret"],
      issuer: options.issuer,
      webid: options["agent-webid"],
    }),
  );
  if (!ownerIn || !agentIn) return;
  const ownerFetch = owner.fetch.bind(owner);
  const agentFetch = agent.fetch.bind(agent);

  await step("agent refused before sharing", () =>
    expectStatus(agentFetch, resource, 403, "the agent"),
  );

  await step("share", async () => {
    const access = await universalAccess.setAgentAccess(
      resource,
      options["agent-webid"],
      { read: true },
      { fetch: ownerFetch },
    );
    summary.granted = access;
    // setAgentAccess swallows a refused ACL write and reports the access it still finds.
    check(access?.read === true, `setAgentAccess answered ${JSON.stringify(access)}`);
    return { access };
  });

  await step("agent reads", () => expectStatus(agentFetch, resource, 200, "the agent"));

  // The owner's rules were copied from the container's ACL with their IRIs: they still count.
  await step("owner keeps access", async () => {
    const read = await expectStatus(ownerFetch, resource, 200, "the owner");
    const access = await universalAccess.getAgentAccess(resource, options.webid, {
      fetch: ownerFetch,
    });
    check(
      access?.read && access?.write && access?.controlRead && access?.controlWrite,
      `the owner's own access is ${JSON.stringify(access)}`,
    );
    return { ...read, access };
  });

  await step("revoke", async () => {
    const access = await universalAccess.setAgentAccess(
      resource,
      options["agent-webid"],
      { read: false },
      { fetch: ownerFetch },
    );
    check(access !== null && access.read === false, `setAgentAccess answered ${JSON.stringify(access)}`);
    return { access };
  });

  await step("agent refused after revoking", () =>
    expectStatus(agentFetch, resource, 403, "the agent"),
  );

  await owner.logout();
  await agent.logout();
}

await run(main);
