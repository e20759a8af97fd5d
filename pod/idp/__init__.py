"""The Solid-OIDC identity provider: clients, authorization codes, tokens, signing keys."""
