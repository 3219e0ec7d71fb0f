"""Which byte values are pickle opcodes, for cheap content sniffing (no need to load the machine)."""

from __future__ import annotations

OPCODE_BYTES = frozenset(
    b"(.012FIJKLMNPQRSTUVXabcd}eghijl]opqrst)uGB"
    b"C\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98"
)


def looks_like_pickle(head: bytes) -> bool:
    """A cheap first test: protocol 2+ header, or a first byte that is a pickle opcode."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    return bool(head) and head[0] in OPCODE_BYTES
