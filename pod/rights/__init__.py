"""The owner's rights over their data (issue 15 §3, §4): exporting a pod, importing it into a
new or empty pod, erasing it. Imports idp, accounts, vault, ldp, storage and below."""
