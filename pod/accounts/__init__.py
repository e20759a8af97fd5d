"""Accounts: people who sign up, their passwords, pods, WebIDs and client credentials."""
