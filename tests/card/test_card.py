"""Model cards: the real all-MiniLM-L6-v2 card, synthetic cards, malformed and hostile front matter, fuzz."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from assay.card import ModelCard, parse_card_text, read_card
from assay.errors import AssayError, InputError

MINILM_DATASETS = ("s2orc", "flax-sentence-embeddings/stackexchange_xml", "ms_marco", "gooaq", "yahoo_answers_topics",
                   "code_search_net", "search_qa", "eli5", "snli", "multi_nli", "wikihow", "natural_questions",
                   "trivia_qa", "embedding-data/sentence-compression", "embedding-data/flickr30k-captions",
                   "embedding-data/altlex", "embedding-data/simple-wiki", "embedding-data/QQP",
                   "embedding-data/SPECTER", "embedding-data/PAQ_pairs", "embedding-data/WikiAnswers")


def codes(card: ModelCard) -> set[str]:
    return {finding.code for finding in card.findings}


def test_real_minilm_card(minilm_dir: Path) -> None:
    card = read_card(minilm_dir)
    assert card.path == "README.md"
    assert card.license == "apache-2.0"
    assert card.datasets == MINILM_DATASETS
    assert card.pipeline_tag == "sentence-similarity"
    assert card.library_name == "sentence-transformers"
    assert card.languages == ("en",)
    assert "sentence-transformers" in card.tags and "feature-extraction" in card.tags
    # the real card names its base model only in prose, not in a base_model field
    assert card.base_models == ()
    assert "nreimers/MiniLM-L6-H384-uncased" in card.text
    assert card.summary is not None and card.summary.startswith("This is a sentence-transformers model")
    assert "384 dimensional dense vector space" in card.summary
    assert card.findings == ()


FULL_CARD = """---
license: other
license_name: llama3.1
license_link: https://llama.meta.com/llama3_1/license
base_model:
- meta-llama/Llama-3.1-8B
- other/base
base_model_relation: finetune
language: [en, de]
tags: [text-generation, llama]
datasets: single/dataset
model-index:
- name: my-model
  results:
  - task: {type: text-generation}
    dataset: {name: MMLU, type: cais/mmlu}
    metrics:
    - {type: accuracy, value: 65.2, name: Accuracy}
    - {type: f1, value: "n/a"}
  - task: {type: summarization, name: Summarization}
    metrics:
    - {type: rouge1, value: 40}
---

<!-- a comment that is not the summary -->
[![badge](https://img.shields.io/x.svg)](https://example.com)
![logo](logo.png)

# My model

```python
print("not prose")
```

My model is a [fine-tune](https://example.com) of Llama 3.1
that answers questions.

Second paragraph.
"""


def test_full_front_matter() -> None:
    card = parse_card_text(FULL_CARD, path="README.md")
    assert card.license == "other" and card.license_name == "llama3.1"
    assert card.license_link == "https://llama.meta.com/llama3_1/license"
    assert [(b.name, b.relation) for b in card.base_models] == [("meta-llama/Llama-3.1-8B", "finetune"),
                                                                ("other/base", "finetune")]
    assert card.languages == ("en", "de")
    assert card.datasets == ("single/dataset",)
    assert card.model_name == "my-model"
    assert card.metrics == (("MMLU", "Accuracy", 65.2), ("MMLU", "f1", "n/a"), ("Summarization", "rouge1", 40.0))
    assert card.summary == "My model is a fine-tune of Llama 3.1 that answers questions."
    assert card.findings == ()


def test_base_model_string_and_summary_limit() -> None:
    card = parse_card_text("---\nbase_model: a/b\n---\n" + "word " * 400)
    assert [(b.name, b.relation) for b in card.base_models] == [("a/b", None)]
    assert card.summary is not None and len(card.summary) <= 500 and card.summary.endswith("…")


def test_no_front_matter() -> None:
    card = parse_card_text("# Title\n\nJust text.\n")
    assert card.license is None and card.summary == "Just text." and card.findings == ()


@pytest.mark.parametrize("front, code", [
    ("license: [unclosed\n", "card-malformed-yaml"),
    ("- just\n- a list\n", "card-front-matter-not-mapping"),
    ("license: 2.0\ntags: 7\n", "card-field-type"),
    ("a: &x [1, 2]\nb: *x\n", "card-yaml-refused"),
    ("a: " + "[" * 100 + "]" * 100 + "\n", "card-yaml-refused"),
    ("date: 2024-13-45\n", None),
    ("big: " + "9" * 5000 + "\n", "card-malformed-yaml"),
])
def test_malformed_front_matter_gives_findings(front: str, code: str | None) -> None:
    card = parse_card_text(f"---\n{front}---\nText.\n")
    assert card.summary == "Text."
    if code is not None:
        assert code in codes(card)


def test_billion_laughs_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    lines.append("tags: *a9")
    card = parse_card_text("---\n" + "\n".join(lines) + "\n---\n")
    assert "card-yaml-refused" in codes(card) and card.tags == ()


def test_unterminated_front_matter() -> None:
    card = parse_card_text("---\nlicense: mit\nno end\n")
    assert "card-unterminated-front-matter" in codes(card) and card.license is None


def test_missing_card_and_other_names(tmp_path: Path) -> None:
    card = read_card(tmp_path)
    assert card.path is None and codes(card) == {"card-missing"}
    (tmp_path / "MODEL_CARD.md").write_text("---\nlicense: mit\n---\nHello.\n")
    assert read_card(tmp_path).path == "MODEL_CARD.md" and read_card(tmp_path).license == "mit"
    (tmp_path / "readme.md").write_text("---\nlicense: isc\n---\n")
    assert read_card(tmp_path).license == "isc"


def test_oversize_card_is_truncated_with_finding(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n" + "x" * 5000)
    card = read_card(tmp_path, max_card_bytes=1000)
    assert card.license == "mit" and "card-too-large" in codes(card)


def test_fifo_card_is_not_opened(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "README.md")
    assert read_card(tmp_path).path is None  # would block forever if opened


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_card(tmp_path / "missing")


_yaml_scalars = st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())
_yaml_values = st.recursive(_yaml_scalars, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@given(st.text(max_size=2000))
@example("---\n---\n")
@example("---\n[\n---\n")
@example("---\nmodel-index: [{results: [{metrics: [{type: x, value: .inf}]}]}]\n---\n")
def test_fuzz_parse_card_text(text: str) -> None:
    try:
        card = parse_card_text(text)
    except AssayError:
        return
    assert isinstance(card, ModelCard)
    assert card.summary is None or len(card.summary) <= 500


@given(st.dictionaries(st.sampled_from(["license", "license_name", "base_model", "datasets", "language", "tags",
                                        "model-index", "pipeline_tag", "base_model_relation"]), _yaml_values))
def test_fuzz_front_matter_field_types(meta: dict[str, object]) -> None:
    import yaml

    card = parse_card_text("---\n" + yaml.safe_dump(meta) + "---\nBody.\n")
    assert card.summary == "Body."
    assert all(isinstance(item, str) for item in card.tags + card.datasets + card.languages)
