"""The personal data vault: purpose-bound grants beside Web Access Control, access requests and
the purposes they name (issue 14). Imports acl, ldp, storage and below."""
