"""Resource-server side of Solid-OIDC: who is asking. Independent of aiohttp.web and of acl."""
