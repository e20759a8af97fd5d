"""The owner's rights over their data (GDPR Art. 17 and 20): export, import and erasure.

Sits between `pod.http` and `pod.idp`: erasure ends what the identity provider, the accounts
and the vault keep of a person, so it imports them all.
"""
