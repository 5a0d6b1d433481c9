"""Members: the people behind the ledger's customer ids, kept outside the ledger and erasable.

- :mod:`.profile`: the profile's fields and how each is checked (pydantic);
- :mod:`.crypto`: envelope encryption, a data key per member wrapped by the registry key (AES-256-GCM);
- :mod:`.lookup`: keyed digests of profile values, for a scan that must recognise personal data;
- :mod:`.store`: the SQL of the registry's tables;
- :mod:`.service`: :class:`MemberRegistry`: add, show, update, forget, the audit;
- :mod:`.screen`: which values hold a member's email, phone or name (keeps personal data out of the ledger);
- :mod:`.export`: the data-access file (profile, consents, points statement, tier history).

The registry and the ledger never talk to each other: a member's id is the ledger's customer id, and
the ledger knows nothing else of the person.
"""

from .crypto import RegistryKey, key_file, new_key_text
from .export import DataAccessFile, TierEvent, export_member, tier_history
from .lookup import LOOKUP_KINDS, LookupDigest, LookupDigests, LookupKind, name_tokens
from .profile import CONSENT_NAMES, Consent, Profile, ProfileChanges, changes, new_profile
from .screen import RegistryScreen
from .service import Erasure, Member, MemberRegistry, member_id, new_member_id, pseudonym
from .store import AuditRecord, MemberRow, RegistryStore

__all__ = [
    "CONSENT_NAMES",
    "LOOKUP_KINDS",
    "AuditRecord",
    "Consent",
    "DataAccessFile",
    "Erasure",
    "LookupDigest",
    "LookupDigests",
    "LookupKind",
    "Member",
    "MemberRegistry",
    "MemberRow",
    "Profile",
    "ProfileChanges",
    "RegistryKey",
    "RegistryScreen",
    "RegistryStore",
    "TierEvent",
    "changes",
    "export_member",
    "key_file",
    "member_id",
    "name_tokens",
    "new_key_text",
    "new_member_id",
    "new_profile",
    "pseudonym",
    "tier_history",
]
