"""The hash chain over the audit entries, and its verification.

``hash_n = SHA-256(hash_{n-1} || canonical bytes of entry n)``: the canonical bytes are the entry's
sequence number, time, search columns (patient, organisation, action, outcome, purpose) and the
AuditEvent JSON exactly as stored, so editing any of them, removing, inserting or reordering entries
breaks the chain at that entry. The head (the last entry's seq and hash) is kept apart, so removing
the last entries is caught too; the anchor (the last pruned entry's seq and hash) lets the chain start
after pruning. What a plain hash chain cannot catch: someone with write access to the database who
rewrites every hash from the tampered entry on *and* the head; compare the head with a copy kept
elsewhere (``samen audit verify`` prints it) to catch that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

REORDER_WINDOW = 64  # how far away a moved entry is looked for, to say "reordered" instead of "edited"


class Entry(NamedTuple):
    """One entry; its fields are the columns of ``audit_entry`` in order (a row as it is inserted)."""

    seq: int
    recorded_ms: int
    patient: str
    organisation: str
    action: str
    outcome: str
    purpose: str
    event: bytes
    prev_hash: str = ""
    hash: str = ""


def entry_hash(prev_hash: str, entry: Entry, seq: int | None = None) -> str:
    """The chain hash of ``entry`` after ``prev_hash`` (``seq``: as if it had that sequence number)."""
    fields = (f"{prev_hash}\x00{seq if seq is not None else entry.seq}\x1f{entry.recorded_ms}\x1f{entry.patient}"
              f"\x1f{entry.organisation}\x1f{entry.action}\x1f{entry.outcome}\x1f{entry.purpose}\x00")
    return hashlib.sha256(fields.encode() + entry.event).hexdigest()


@dataclass(frozen=True)
class Verdict:
    entries: int  # how many entries were checked
    broken_at: int | None = None  # the seq of the first entry that is wrong (None: intact)
    problem: str = ""
    head_hash: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def __str__(self) -> str:
        if self.intact:
            return f"{self.entries} entries, chain intact (head {self.head_hash or 'empty'})"
        return f"chain broken at entry {self.broken_at}: {self.problem}"


def verify(entries: Iterable[Entry], *, anchor: tuple[int, str], head: tuple[int, str]) -> Verdict:
    """Check ``entries`` (in seq order, from just after the anchor) against each other and the head."""
    expected, prev = anchor[0] + 1, anchor[1]
    checked = 0
    for entry in entries:
        if entry.seq != expected:
            return Verdict(checked, expected, f"entry {expected} is missing (removed); the next is {entry.seq}")
        if entry_hash(entry.prev_hash, entry) != entry.hash:
            return Verdict(checked, entry.seq, _changed(entry))
        if entry.prev_hash != prev:
            return Verdict(checked, entry.seq, f"entry {entry.seq} does not follow entry {entry.seq - 1}: an entry "
                                               "before it was removed, replaced or inserted")
        checked += 1
        expected, prev = entry.seq + 1, entry.hash
    last = expected - 1
    if head[0] > last:
        return Verdict(checked, last + 1, f"entries {last + 1} to {head[0]} are missing (removed; the head is at "
                                          f"{head[0]})")
    if head[0] < last:
        return Verdict(checked, head[0] + 1, f"entries after {head[0]} were added outside the trail")
    if last > anchor[0] and head[1] != prev:
        return Verdict(checked, last, f"entry {last} is not the one the head recorded (replaced)")
    return Verdict(checked, head_hash=head[1])


def _changed(entry: Entry) -> str:
    """Why an entry's hash does not match its content: moved from another position, or edited."""
    for seq in range(max(1, entry.seq - REORDER_WINDOW), entry.seq + REORDER_WINDOW + 1):
        if seq != entry.seq and entry_hash(entry.prev_hash, entry, seq) == entry.hash:
            return f"entry {entry.seq} holds the entry recorded as {seq}: entries were reordered, removed or inserted"
    return f"entry {entry.seq} was edited: its hash does not match its content"
