"""The tamper-evident audit log core: RFC 9162 Merkle trees, proofs and signed checkpoints.

Pure functions over bytes; the registry stores entries, tree state and checkpoints and calls these.
Also the log's offline verification (``verify_log``, ``entry_body``) and, imported on first use,
``verify_bundle`` (an exported evidence bundle). Other domains import these from ``assay.audit`` only.
"""

from __future__ import annotations

from assay._lazy import lazy_exports
from assay.audit._checkpoint import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    SignedNote,
    checkpoint_body,
    generate_key,
    key_hash,
    load_private_key,
    load_private_key_pem,
    load_public_key_pem,
    open_note,
    parse_checkpoint,
    private_key_pem,
    public_key_pem,
    save_private_key,
    sign_checkpoint,
    sign_note,
)
from assay.audit._interface import (
    HASH_SIZE,
    MAX_PROOF_HASHES,
    MAX_TREE_SIZE,
    AuditError,
    AuditInputError,
    CheckpointError,
    ConsistencyProof,
    InclusionProof,
    NoteSignature,
    ProofError,
    SignatureError,
)
from assay.audit._merkle import (
    EMPTY_ROOT,
    LeafSource,
    MemoryTree,
    NodeSource,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    is_valid_subtree,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from assay.audit._witness import (
    MAX_WITNESS_NOTE_BYTES,
    WitnessConflict,
    newest_witnessed,
    publish_checkpoint,
    witnessed_checkpoints,
)
from assay.audit.log import (
    KEY_ROTATED,
    LOG_KEY_NAME,
    LOG_ORIGIN,
    LogProblem,
    LogReport,
    cited_blobs,
    entry_body,
    keyring,
    verify_log,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.audit._bundle import verify_bundle


# zipfile and the bundle reader load only for a bundle to verify
__getattr__ = lazy_exports(__name__, {"verify_bundle": "_bundle"})


__all__ = [
    "EMPTY_ROOT",
    "LOG_KEY_NAME",
    "LOG_ORIGIN",
    "LogProblem",
    "LogReport",
    "entry_body",
    "cited_blobs",
    "KEY_ROTATED",
    "keyring",
    "verify_log",
    "verify_bundle",
    "MAX_WITNESS_NOTE_BYTES",
    "WitnessConflict",
    "newest_witnessed",
    "publish_checkpoint",
    "witnessed_checkpoints",
    "HASH_SIZE",
    "MAX_NOTE_BYTES",
    "MAX_PROOF_HASHES",
    "MAX_SIGNATURES",
    "MAX_TREE_SIZE",
    "AuditError",
    "AuditInputError",
    "Checkpoint",
    "CheckpointError",
    "ConsistencyProof",
    "InclusionProof",
    "LeafSource",
    "MemoryTree",
    "NodeSource",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "SignatureError",
    "SignedNote",
    "TreeBuilder",
    "checkpoint_body",
    "consistency_proof",
    "generate_key",
    "inclusion_proof",
    "is_valid_subtree",
    "key_hash",
    "leaf_hash",
    "load_private_key",
    "load_private_key_pem",
    "load_public_key_pem",
    "node_hash",
    "open_note",
    "parse_checkpoint",
    "private_key_pem",
    "public_key_pem",
    "root_from_leaf_hashes",
    "save_private_key",
    "sign_checkpoint",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]
