"""Names of GCP resources derived from the stack: within the API's length limit, ending in
a letter or digit, and distinct for distinct inputs.

Cutting a long name to the limit can leave a trailing '-' (the API refuses it) or make two
stacks' names equal (two long stack names that share a prefix). A long name therefore
keeps a readable prefix and ends in a short hash of the whole name.
"""

from __future__ import annotations

import hashlib
import re

# Compute Engine, DNS and GKE names (RFC 1035): a letter, then letters, digits and '-',
# not ending in '-'.
GCP_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# Service account ids: 6 to 30 characters of the same alphabet.
ACCOUNT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")
HASH_LEN = 6


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LEN]


def fit(text: str, max_len: int) -> str:
    """`text` if it fits, else its first characters, '-' and a hash of all of it."""
    if len(text) <= max_len:
        return text
    return f"{text[:max_len - HASH_LEN - 1].rstrip('-')}-{short_hash(text)}"


def gcp_name(text: str, max_len: int = 63) -> str:
    name = fit(text, max_len)
    if not GCP_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid GCP resource name")
    return name


def account_id(text: str) -> str:
    name = fit(text, 30)
    if not ACCOUNT_ID.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid service account id (6-30 of a-z, 0-9, '-')")
    return name
