"""The owner's rights over their data (issue 15 §3, §4; GDPR Art. 17 and 20): exporting a pod,
importing it into a new or empty pod, erasing a pod or an account.

Sits between `pod.http` and `pod.idp`: erasure ends what the identity provider, the accounts
and the vault keep of a person, so it imports them all (and ldp, storage and below).
"""
