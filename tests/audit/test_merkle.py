"""The RFC 9162 Merkle tree: every transparency-dev conformance vector, plus property tests."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.audit import (
    EMPTY_ROOT,
    AuditError,
    AuditInputError,
    ConsistencyProof,
    InclusionProof,
    MemoryTree,
    ProofError,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
if not VECTORS.is_dir():  # a checkout beside shared/, as on every developer and CI machine
    VECTORS = Path("/work/shared/vectors")
TESTDATA = VECTORS / "merkle" / "testdata"
KINDS = ("inclusion", "consistency", "subtreeinclusion", "subtreeconsistency")
CASES = sorted(p.relative_to(TESTDATA).as_posix() for kind in KINDS for p in (TESTDATA / kind).rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _check_vector(kind: str, case: dict[str, Any]) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    if kind == "inclusion":
        verify_inclusion(_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
    elif kind == "consistency":
        verify_consistency(case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))
    elif kind == "subtreeinclusion":
        verify_subtree_inclusion(_b64(case["leafHash"]), case["leafIdx"], case["start"], case["end"], proof,
                                 _b64(case["root"]))
    else:
        verify_subtree_consistency(case["start"], case["end"], case["size"], proof, _b64(case["root1"]),
                                   _b64(case["root2"]))


def test_every_vector_folder_is_present() -> None:
    # 98 + 98 + 204 + 118 files at the pinned commit; a missing folder must not pass silently.
    assert len(CASES) == 518
    assert sum(1 for c in CASES if c.startswith("inclusion/")) == 98


@pytest.mark.parametrize("name", CASES)
def test_transparency_dev_vector(name: str) -> None:
    case = json.loads((TESTDATA / name).read_text())
    kind = name.split("/")[0]
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _check_vector(kind, case)
    else:
        _check_vector(kind, case)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH written literally (recursive), as the reference the fast code must agree with."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


_LEAVES = [leaf_hash(b"entry %d" % i) for i in range(6000)]


def _leaves(n: int) -> list[bytes]:
    return _LEAVES[:n] if n <= len(_LEAVES) else [leaf_hash(b"entry %d" % i) for i in range(n)]


def test_hashes_match_rfc_9162_definitions() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    # The vectors' 8-leaf tree: leaf 0 is the hash of the empty entry and the root is published.
    assert base64.b64encode(leaf_hash(b"")).decode() == "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="


@pytest.mark.parametrize("n", list(range(0, 40)) + [63, 64, 65, 100, 127, 128, 129])
def test_all_root_builders_agree_with_the_rfc_recursion(n: int) -> None:
    leaves = _leaves(n)
    expected = _mth(leaves)
    builder = TreeBuilder()
    builder.extend(leaves)
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    assert root_from_leaf_hashes(leaves) == expected
    assert builder.root() == expected
    assert MemoryTree(leaves).root() == expected == tree.root()
    assert builder.size == tree.size == n


def test_tree_builder_resumes_from_stored_state() -> None:
    leaves = _leaves(300)
    builder = TreeBuilder()
    builder.extend(leaves[:177])
    size, peaks = builder.state()
    assert size == 177 and len(peaks) == bin(177).count("1")
    resumed = TreeBuilder.from_state(size, list(peaks))
    resumed.extend(leaves[177:])
    assert resumed.root() == root_from_leaf_hashes(leaves)


@pytest.mark.parametrize("size,peaks", [(5, [b"x" * 32]), (1, [b"short"]), (-1, []), (0, [b"x" * 32])])
def test_tree_builder_refuses_a_bad_state(size: int, peaks: list[bytes]) -> None:
    with pytest.raises(AuditInputError):
        TreeBuilder.from_state(size, peaks)


def test_bad_leaf_hashes_are_refused() -> None:
    with pytest.raises(AuditInputError):
        root_from_leaf_hashes([b"too short"])
    with pytest.raises(AuditInputError):
        TreeBuilder().append(b"x" * 31)
    with pytest.raises(AuditInputError):
        MemoryTree([b"x" * 33])


def test_proof_generators_refuse_impossible_requests() -> None:
    leaves = _leaves(10)
    for index, size in [(10, 10), (-1, 10), (0, 11), (0, 0)]:
        with pytest.raises(AuditInputError):
            inclusion_proof(index, size, leaves)
    for size1, size2 in [(0, 5), (6, 5), (3, 11)]:
        with pytest.raises(AuditInputError):
            consistency_proof(size1, size2, leaves)
    with pytest.raises(AuditError):
        MemoryTree(leaves).node(1, 3)


def test_exhaustive_small_trees() -> None:
    """Every index and every size pair up to 33 leaves: proofs from all three sources agree and verify."""
    leaves = _leaves(33)
    tree = MemoryTree(leaves)
    roots = [_mth(leaves[:n]) for n in range(34)]
    for n in range(1, 34):
        for i in range(n):
            proof = inclusion_proof(i, n, leaves[:n])
            assert proof == inclusion_proof(i, n, tree.node) == list(tree.inclusion_proof(i, n).hashes)
            verify_inclusion(leaves[i], i, n, proof, roots[n])
            assert len(proof) <= (n - 1).bit_length()
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, tree.node)
            assert proof == consistency_proof(m, n, leaves[:n])
            verify_consistency(m, n, proof, roots[m], roots[n])
            assert len(proof) <= 2 * n.bit_length()


def _flip(proof: list[bytes], which: int, bit: int) -> list[bytes]:
    out = list(proof)
    item = bytearray(out[which % len(out)])
    item[bit // 8 % len(item)] ^= 1 << (bit % 8)
    out[which % len(out)] = bytes(item)
    return out


@given(st.integers(1, 5000), st.data())
def test_random_inclusion_proofs_verify_and_any_flipped_bit_fails(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    tree = MemoryTree(leaves)
    root = tree.root()
    index = data.draw(st.integers(0, n - 1))
    proof = tree.inclusion_proof(index)
    verify_inclusion(leaves[index], index, n, list(proof.hashes), root)
    assert InclusionProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof
    bit = data.draw(st.integers(0, 255))
    if proof.hashes:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, n, _flip(list(proof.hashes), data.draw(st.integers(0, 64)), bit),
                             root)
    with pytest.raises(ProofError):
        verify_inclusion(_flip([leaves[index]], 0, bit)[0], index, n, list(proof.hashes), root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, n, list(proof.hashes), _flip([root], 0, bit)[0])
    other = data.draw(st.integers(0, n - 1))
    if leaves[other] != leaves[index]:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[other], index, n, list(proof.hashes), root)


@given(st.integers(1, 5000), st.data())
def test_random_consistency_proofs_verify_and_any_flipped_bit_fails(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    tree = MemoryTree(leaves)
    size1 = data.draw(st.integers(1, n))
    root1, root2 = tree.root(size1), tree.root()
    proof = tree.consistency_proof(size1)
    verify_consistency(size1, n, list(proof.hashes), root1, root2)
    assert ConsistencyProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof
    bit = data.draw(st.integers(0, 255))
    if proof.hashes:
        with pytest.raises(ProofError):
            verify_consistency(size1, n, _flip(list(proof.hashes), data.draw(st.integers(0, 128)), bit), root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, n, list(proof.hashes), _flip([root1], 0, bit)[0], root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, n, list(proof.hashes), root1, _flip([root2], 0, bit)[0])


@given(st.integers(2, 3000), st.data())
def test_a_rewritten_history_fails_consistency(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    size1 = data.draw(st.integers(1, n - 1))
    forged = list(leaves)
    forged[data.draw(st.integers(0, size1 - 1))] = leaf_hash(b"forged")
    honest_old_root = root_from_leaf_hashes(leaves[:size1])
    with pytest.raises(ProofError):
        verify_consistency(size1, n, consistency_proof(size1, n, forged), honest_old_root,
                           root_from_leaf_hashes(forged))


@given(st.integers(1, 2000), st.data())
def test_subtree_inclusion_matches_plain_inclusion_inside_the_subtree(n: int, data: st.DataObject) -> None:
    # A valid subtree [start, end): start is a multiple of the next power of two at or above its width.
    width = data.draw(st.integers(1, n))
    step = 1 << (width - 1).bit_length()
    start = data.draw(st.integers(0, 8)) * step
    leaves = _leaves(start + width)
    sub = leaves[start:]
    index = start + data.draw(st.integers(0, width - 1))
    proof = inclusion_proof(index - start, width, sub)
    verify_subtree_inclusion(leaves[index], index, start, start + width, proof, root_from_leaf_hashes(sub))
    total = len(leaves) + data.draw(st.integers(0, 40))
    leaves = _leaves(total)
    root = root_from_leaf_hashes(leaves)
    if start == 0:
        # [0, width) is the old tree of an RFC 9162 consistency proof.
        proof = consistency_proof(width, total, leaves)
    elif width == step:
        # A perfect subtree is a node: its proof is an inclusion proof in the tree of width-`step` blocks.
        def block(lo: int, hi: int) -> bytes:
            return root_from_leaf_hashes(leaves[lo * step:min(hi * step, total)])

        proof = inclusion_proof(start // step, -(-total // step), block)
    else:
        return
    verify_subtree_consistency(start, start + width, total, proof, root_from_leaf_hashes(sub), root)
    with pytest.raises(ProofError):
        verify_subtree_consistency(start, start + width, total, proof, root_from_leaf_hashes(sub),
                                   _flip([root], 0, 0)[0])


def test_proof_json_is_strict() -> None:
    good = InclusionProof(3, 8, (b"\x01" * 32,)).to_json()
    assert good["hashes"] == ["01" * 32]
    for bad in (None, [], {}, {**good, "index": "3"}, {**good, "size": True}, {**good, "size": -1},
                {**good, "hashes": ["zz" * 32]}, {**good, "hashes": ["01" * 31]}, {**good, "hashes": "01"},
                {**good, "size": 2**64}):
        with pytest.raises(AuditInputError):
            InclusionProof.from_json(bad)
    with pytest.raises(AuditInputError):
        ConsistencyProof.from_json({"size1": 1, "size2": 2, "hashes": ["00" * 32] * 5}, max_hashes=4)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=70),
                    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.sampled_from(
                        ["index", "size", "size1", "size2", "hashes", "x"]), kids, max_size=6), max_leaves=20))
def test_fuzz_proof_from_json_raises_only_assay_errors(value: Any) -> None:
    for cls in (InclusionProof, ConsistencyProof):
        try:
            cls.from_json(value)
        except AuditInputError:
            pass
