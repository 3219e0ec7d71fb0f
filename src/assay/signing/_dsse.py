"""DSSE envelopes: the pre-authentication encoding (PAE) that is what actually gets signed."""

from __future__ import annotations

PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The only payload type OMS uses."""


def pae(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """DSSE v1 PAE: ``DSSEv1 <len(type)> <type> <len(body)> <body>`` (lengths in bytes, ASCII decimal)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def pae_v02(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """The encoding ``model_signing`` 0.2 signed by mistake; needed to verify its signatures.

    That release wrote ``DSSEV1`` (capital V) and formatted the payload bytes with Python's
    ``repr`` (``b'...'`` with escapes) instead of the bytes themselves.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEV1 %d %s %d %s" % (len(kind), kind, len(payload), repr(payload).encode("utf-8"))
