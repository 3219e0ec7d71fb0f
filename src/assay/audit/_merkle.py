"""The RFC 9162 (section 2.1) Merkle tree: hashing, incremental building, proofs and their verification.

Leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right), the empty tree hashes
to SHA-256(""), and a tree of n > 1 leaves splits at the largest power of two smaller than n.

Proof generators never need the whole tree: they ask a :data:`NodeSource` for the hash of *perfect*
subtrees only (``[start, end)`` with ``end - start`` a power of two and ``start`` a multiple of it), so
a database that stores those nodes can serve proofs in O(log n) reads. :class:`MemoryTree` is the
in-memory source; a plain sequence of leaf hashes also works (each read then re-hashes its range).

Verification follows the RFC 9162 algorithms, written in the generalised form of the Merkle Tree
Certificates draft (draft-ietf-plants-merkle-tree-certs, "subtree consistency proofs"): one routine
climbs from a subtree ``[start, end)`` to the root of a tree of ``size`` leaves. An inclusion proof is
the subtree ``[index, index + 1)``; an RFC 9162 consistency proof is the subtree ``[0, size1)``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

from assay.audit._interface import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    AuditError,
    AuditInputError,
    ConsistencyProof,
    InclusionProof,
    ProofError,
)

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the empty tree."""

NodeSource = Callable[[int, int], bytes]
"""Returns the hash of the perfect subtree ``[start, end)`` (a leaf hash when ``end == start + 1``)."""
LeafSource = Sequence[bytes] | NodeSource
"""What the proof generators read: all leaf hashes in order, or a :data:`NodeSource`."""


def leaf_hash(data: bytes) -> bytes:
    """The RFC 9162 hash of one log entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise AuditInputError(f"{what} must be {HASH_SIZE} bytes")
    return bytes(value)


def _check_size(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise AuditInputError(f"{what} must be an integer from 0 to 2**64-1")
    return value


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root hash of the tree whose leaves have these hashes, computed level by level.

    Pairing left to right and lifting an unpaired last node unchanged gives exactly the RFC 9162 tree
    (its splits at the largest power of two), with n - 1 node hashes and no recursion.
    """
    if any(len(h) != HASH_SIZE for h in hashes):
        raise AuditInputError(f"every leaf hash must be {HASH_SIZE} bytes")
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return bytes(level[0])


def _fold(peaks: Sequence[bytes]) -> bytes:
    """Root of the perfect subtrees ``peaks`` (largest first) laid side by side: fold from the right."""
    if not peaks:
        return EMPTY_ROOT
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


class TreeBuilder:
    """An append-only compact range: the tree's size and the hashes of its right-edge perfect subtrees.

    ``append`` costs O(1) amortized node hashes, ``root`` O(log n). Persist ``state()`` beside the log
    and restore it with :meth:`from_state` to keep appending without reading old entries again.
    """

    def __init__(self) -> None:
        """An empty tree."""
        self._size = 0
        self._peaks: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, peaks: Sequence[bytes]) -> TreeBuilder:
        """Restore a builder from :meth:`state`: one peak per set bit of ``size``, largest subtree first."""
        _check_size(size, "tree size")
        if len(peaks) != size.bit_count():
            raise AuditInputError(f"a tree of size {size} has {size.bit_count()} peaks, not {len(peaks)}")
        builder = cls()
        builder._size = size
        builder._peaks = [_check_hash(p, "a peak hash") for p in peaks]
        return builder

    def state(self) -> tuple[int, tuple[bytes, ...]]:
        """``(size, peaks)``: everything needed to resume appending (``popcount(size)`` hashes)."""
        return self._size, tuple(self._peaks)

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes, completed: list[tuple[int, int, bytes]] | None = None) -> int:
        """Add one leaf hash; returns its index. Merges equal-sized peaks, as a binary counter carries.

        When ``completed`` is given, every perfect subtree this append completes is added to it as
        ``(level, index at that level, hash)`` (level 1 is a pair of leaves), so a store can keep the nodes
        and later serve proofs with O(log n) reads.
        """
        if self._size >= MAX_TREE_SIZE:
            raise AuditInputError("the tree is full")
        acc = _check_hash(leaf, "a leaf hash")
        index = self._size
        carry = index
        level = 0
        while carry & 1:
            acc = node_hash(self._peaks.pop(), acc)
            carry >>= 1
            level += 1
            if completed is not None:
                completed.append((level, index >> level, acc))
        self._peaks.append(acc)
        self._size += 1
        return index

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The current root hash (the empty-tree hash before the first append)."""
        return _fold(self._peaks)


class MemoryTree:
    """Every level of a tree kept in memory (32 bytes per node in one bytearray per level); a NodeSource."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        """Build all levels from the leaf hashes, level by level."""
        if any(len(h) != HASH_SIZE for h in leaves):
            raise AuditInputError(f"every leaf hash must be {HASH_SIZE} bytes")
        self._levels: list[bytearray] = [bytearray(b"".join(leaves))]
        level = list(leaves)
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self._levels.append(bytearray(b"".join(level)))

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash and the perfect subtrees it completes; returns its index."""
        index = self.size
        acc = _check_hash(leaf, "a leaf hash")
        level = 0
        while True:
            if level == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += acc
            count = len(self._levels[level]) // HASH_SIZE
            if count % 2:
                return index
            acc = node_hash(bytes(self._levels[level][-2 * HASH_SIZE:-HASH_SIZE]), acc)
            level += 1

    def node(self, start: int, end: int) -> bytes:
        """The hash of the perfect subtree ``[start, end)``; raises AuditError if it is not one."""
        width = end - start
        height = width.bit_length() - 1
        if start < 0 or width <= 0 or width != 1 << height or start % width or end > self.size:
            raise AuditError(f"[{start}, {end}) is not a perfect subtree of a tree of size {self.size}")
        offset = (start >> height) * HASH_SIZE
        return bytes(self._levels[height][offset:offset + HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise AuditInputError(f"size {size} is outside 0..{self.size}")
        return _range_hash(self.node, 0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """The inclusion proof of leaf ``index`` in the tree of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        return InclusionProof(index, size, tuple(inclusion_proof(index, size, self.node, available=self.size)))

    def consistency_proof(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """The consistency proof from the first ``size1`` leaves to the first ``size2`` (default: all)."""
        size2 = self.size if size2 is None else size2
        hashes = consistency_proof(size1, size2, self.node, available=self.size)
        return ConsistencyProof(size1, size2, tuple(hashes))


def _range_hash(node: NodeSource, start: int, end: int) -> bytes:
    """MTH of ``[start, end)`` (``start`` aligned) from the perfect subtrees given by ``end - start`` bits."""
    peaks: list[bytes] = []
    width = end - start
    for height in range(width.bit_length() - 1, -1, -1):
        if width >> height & 1:
            step = 1 << height
            peak = node(start, start + step)
            if not isinstance(peak, bytes) or len(peak) != HASH_SIZE:
                raise AuditError(f"the node source returned a bad hash for [{start}, {start + step})")
            peaks.append(peak)
            start += step
    return _fold(peaks)


def _node_source(source: LeafSource) -> tuple[NodeSource, int | None]:
    if callable(source):
        return source, None
    leaves = source

    def node(start: int, end: int) -> bytes:
        return root_from_leaf_hashes(leaves[start:end])

    return node, len(leaves)


def _split(width: int) -> int:
    """The largest power of two smaller than ``width`` (``width`` > 1): where RFC 9162 splits a tree."""
    return 1 << ((width - 1).bit_length() - 1)


def _bounded_source(source: LeafSource, available: int | None, size: int):  # noqa: ANN202 - the node function
    """The node function of ``source``, after checking that it holds at least ``size`` leaves."""
    node, length = _node_source(source)
    available = length if available is None else available
    if available is not None and size > available:
        raise AuditInputError(f"the tree has {available} leaves, not {size}")
    return node


def inclusion_proof(index: int, size: int, source: LeafSource, available: int | None = None) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]): sibling hashes from the leaf up, O(log size) of them.

    ``available`` is how many leaves ``source`` holds, when known; a sequence knows its length.
    """
    _check_size(size, "tree size")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
        raise AuditInputError(f"leaf index {index} is outside a tree of size {size}")
    node = _bounded_source(source, available, size)
    path: list[bytes] = []
    lo, hi = 0, size
    # Walk down from the root, keeping the side that holds the leaf and recording the other side.
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            path.append(_range_hash(node, mid, hi))
            hi = mid
        else:
            path.append(node(lo, mid))
            lo = mid
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, source: LeafSource, available: int | None = None) -> list[bytes]:
    """RFC 9162 PROOF(size1, D[0:size2]) for 0 < size1 <= size2; empty when the sizes are equal."""
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if not 0 < size1 <= size2:
        raise AuditInputError(f"no consistency proof from size {size1} to size {size2}")
    node = _bounded_source(source, available, size2)
    path: list[bytes] = []
    lo, hi = 0, size2
    whole = True  # SUBPROOF's b: the old tree is still a whole subtree the verifier already has
    while hi != size1:
        mid = lo + _split(hi - lo)
        if size1 <= mid:
            path.append(_range_hash(node, mid, hi))
            hi = mid
        else:
            path.append(node(lo, mid))
            lo = mid
            whole = False
    if not whole:
        path.append(_range_hash(node, lo, hi))
    path.reverse()
    return path


def is_valid_subtree(start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a node of some tree: non-empty, ``start`` a multiple of bit_ceil(end - start)."""
    if not 0 <= start < end:
        return False
    return start % (1 << (end - start - 1).bit_length()) == 0


def _evaluate(start: int, end: int, size: int, proof: Sequence[bytes], node: bytes) -> bytes:
    """Climb from subtree ``[start, end)`` with hash ``node`` to the root of ``size`` leaves; return that root.

    ``first``/``last``/``tail`` are the leaf indices of the subtree's left and right edges and of the
    tree's last leaf; shifting them right moves one level up. Raises ProofError on a malformed proof.
    """
    for item in proof:
        if not isinstance(item, bytes | bytearray) or len(item) != HASH_SIZE:
            raise ProofError(f"a proof hash is not {HASH_SIZE} bytes")
    first, last, tail = start, end - 1, size - 1
    # Skip to the lowest level whose right-edge node the tree itself contains: the proof starts there.
    if last == tail:
        while first != last:
            first, last, tail = first >> 1, last >> 1, tail >> 1
    else:
        while first != last and last & 1:
            first, last, tail = first >> 1, last >> 1, tail >> 1
    items = iter(proof)
    if first == last:
        sub = root = node  # the subtree is itself a node of the tree, so the proof omits it
    else:
        start_hash = next(items, None)
        if start_hash is None:
            raise ProofError("the proof is too short")
        sub = root = bytes(start_hash)
    for sibling in items:
        if tail == 0:
            raise ProofError("the proof is too long")
        if last & 1 or last == tail:
            if first < last:
                sub = node_hash(sibling, sub)
            root = node_hash(sibling, root)
            while not last & 1:
                first, last, tail = first >> 1, last >> 1, tail >> 1
        else:
            root = node_hash(root, sibling)
        first, last, tail = first >> 1, last >> 1, tail >> 1
    if tail != 0:
        raise ProofError("the proof is too short")
    if not hmac.compare_digest(sub, node):
        raise ProofError("the proof does not lead back to the old root")
    return root


def _same(a: bytes, b: bytes, message: str) -> None:
    if not isinstance(a, bytes | bytearray) or not isinstance(b, bytes | bytearray):
        raise ProofError("a root hash is not bytes")
    if not hmac.compare_digest(bytes(a), bytes(b)):
        raise ProofError(message)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check an RFC 9162 inclusion proof of ``leaf`` (a leaf hash) at ``index`` in a tree of ``size``.

    Returns None when it holds; raises ProofError otherwise (also for out-of-range inputs).
    """
    if not isinstance(leaf, bytes | bytearray) or len(leaf) != HASH_SIZE:
        raise ProofError(f"the leaf hash is not {HASH_SIZE} bytes")
    for value in (index, size):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
            raise ProofError("index and size must be integers from 0 to 2**64-1")
    if index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    computed = _evaluate(index, index + 1, size, proof, bytes(leaf))
    _same(computed, root, "the inclusion proof does not lead to the root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check an RFC 9162 consistency proof: the tree (size1, root1) is a prefix of (size2, root2).

    Raises ProofError when it does not hold. A proof from size 0 is refused: it proves nothing.
    """
    for value in (size1, size2):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
            raise ProofError("sizes must be integers from 0 to 2**64-1")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if not isinstance(root1, bytes | bytearray):
        raise ProofError("a root hash is not bytes")
    computed = _evaluate(0, size1, size2, proof, bytes(root1))
    _same(computed, root2, "the consistency proof does not lead to the new root")


def verify_subtree_inclusion(leaf: bytes, index: int, start: int, end: int, proof: Sequence[bytes],
                             subtree_root: bytes) -> None:
    """Check that ``leaf`` is at ``index`` inside the subtree ``[start, end)`` whose hash is ``subtree_root``.

    This is the Merkle Tree Certificates draft's subtree inclusion proof: an RFC 9162 inclusion proof
    of ``index - start`` in a tree of ``end - start`` leaves. Raises ProofError when it does not hold.
    """
    if not isinstance(start, int) or not isinstance(end, int) or not is_valid_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a valid subtree")
    if not isinstance(index, int) or not start <= index < end:
        raise ProofError(f"leaf index {index} is outside the subtree [{start}, {end})")
    verify_inclusion(leaf, index - start, end - start, proof, subtree_root)


def verify_subtree_consistency(start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes,
                               root: bytes) -> None:
    """Check that the subtree ``[start, end)`` with hash ``subtree_root`` is part of the tree (size, root).

    The Merkle Tree Certificates draft's subtree consistency proof; with ``start == 0`` it is an
    RFC 9162 consistency proof. An empty subtree holds with an empty proof when its hash is the
    empty-tree hash. Raises ProofError when it does not hold.
    """
    for value in (start, end, size):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
            raise ProofError("start, end and size must be integers from 0 to 2**64-1")
    if end > size:
        raise ProofError(f"the subtree [{start}, {end}) is outside a tree of size {size}")
    if start == end:
        if proof:
            raise ProofError("an empty subtree needs an empty proof")
        _same(subtree_root, EMPTY_ROOT, "an empty subtree must hash to the empty-tree hash")
        return
    if not is_valid_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a valid subtree")
    if not isinstance(subtree_root, bytes | bytearray):
        raise ProofError("a root hash is not bytes")
    computed = _evaluate(start, end, size, proof, bytes(subtree_root))
    _same(computed, root, "the subtree consistency proof does not lead to the root")
