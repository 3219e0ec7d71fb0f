"""Judging a release that holds several model versions: the whole policy runs once per model version, each on
that version's evidence (its scan, signature, license, lineage, risk tier) with the release's shared parts
(approvals, waivers, deployment), and the release passes only if every one passes.

The results are folded into one ``GateResult`` per rule: the worst outcome across the models wins (a blocking
failure over a waived or warning one over a pass), its message naming the model it is about. A one-model release
is judged exactly as it always was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from assay.release.policy import GateResult, Policy, Waiver, evaluate

_TIERS = ("low", "medium", "high", "critical")


def evidence_document(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a deployment stores and ``gate check --save-evidence`` writes: the one document of a one-model release,
    else ``{"models": [one document per model version]}`` (``policy test`` reads either)."""
    return docs[0] if len(docs) == 1 else {"schema": "assay.release-evidence/1.0", "models": docs}


def evidence_documents(evidence: Any) -> list[Any]:
    """The per-model documents inside what ``evidence_document`` made (or any one document)."""
    if isinstance(evidence, dict) and "model" not in evidence and isinstance(evidence.get("models"), list):
        return list(evidence["models"]) or [evidence]
    return [evidence]


def _tier(doc: Any) -> str:
    model = doc.get("model") if isinstance(doc, dict) else None
    return str((model or {}).get("risk_tier") or "high") if isinstance(model, dict) else "high"


def _rank(result: Any) -> int:
    return 3 if result.blocking else 2 if not result.passed and not result.waived else 1 if not result.passed else 0


def judge(policy: Policy, docs: Iterable[Any], *, environment: str, waivers: Iterable[Waiver] = ()
          ) -> GateResult:
    """Evaluate ``policy`` on every per-model document and fold the results (see the module docstring)."""
    waiver_list = list(waivers)
    judged = [(doc, evaluate(policy, doc, environment=environment, risk_tier=_tier(doc), waivers=waiver_list))
              for doc in docs]
    if len(judged) == 1:
        return judged[0][1]
    worst: dict[str, Any] = {}
    for doc, result in judged:
        model = doc.get("model") if isinstance(doc, dict) else None
        who = f"{model.get('name')}@{model.get('version')}" if isinstance(model, dict) else "?"
        for r in result.results:
            named = dataclasses.replace(r, message=f"{who}: {r.message}") if not r.passed else r
            if r.id not in worst or _rank(r) > _rank(worst[r.id]):
                worst[r.id] = named
    ran = set(worst)
    skipped = {s.id: s for _, result in judged for s in result.skipped if s.id not in ran}
    tier = max((_tier(doc) for doc, _ in judged), key=lambda t: _TIERS.index(t) if t in _TIERS else len(_TIERS))
    first = judged[0][1]
    return dataclasses.replace(first, risk_tier=tier, results=tuple(worst.values()), skipped=tuple(skipped.values()),
                               seconds=sum(r.seconds for _, r in judged))
