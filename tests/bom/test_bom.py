"""CycloneDX 1.6 ML-BOM: every document validates against the 1.6 schema in strict mode, and says what a user
looks for (file hashes, base models, datasets, licenses, assay's facts)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion  # noqa: E402  (a test dependency: the BOM tests never skip)
from cyclonedx.validation.json import JsonStrictValidator  # noqa: E402
from hypothesis import given
from hypothesis import strategies as st
from packageurl import PackageURL  # noqa: E402

import assay
from assay.bom import BomDataset, BomInput, bom_json, build_bom
from assay.card._interface import BaseModelRef, LicenseReport, ModelCard
from assay.errors import AssayError, InputError, UsageError
from assay.manifest import Manifest, Resource, Serialization, hash_model

VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)
SERIAL = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def valid(inp: BomInput) -> dict:
    """The BOM of ``inp``, after checking its JSON text strictly against the CycloneDX 1.6 schema."""
    text = bom_json(inp, serial=SERIAL, timestamp=WHEN)
    error = VALIDATOR.validate_str(text)
    assert error is None, str(error)[:3000]
    return json.loads(text)


def files(bom: dict) -> dict[str, dict]:
    return {c["name"]: c for c in bom["components"] if c["type"] == "file"}


def props(component: dict) -> list[tuple[str, str]]:
    return [(p["name"], p["value"]) for p in component.get("properties", [])]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tiny-bert"
    (root / "1_Pooling").mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "bert"}')
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 40)
    (root / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n")
    (root / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    return root


def full_input(manifest: Manifest, **changes) -> BomInput:
    card = ModelCard(
        path="README.md", license="apache-2.0", license_link="https://www.apache.org/licenses/LICENSE-2.0",
        base_models=(BaseModelRef("nreimers/MiniLM-L6-H384-uncased", "finetune"),
                     BaseModelRef("https://example.org/weights/base.bin")),
        datasets=("s2orc", "sentence-transformers/reddit-title-body"), pipeline_tag="sentence-similarity",
        library_name="sentence-transformers", languages=("en",), tags=("feature-extraction", "bert"),
        metrics=(("mteb/stsbenchmark-sts", "cos_sim_spearman", 0.8203), ("mteb/banking77", "accuracy", "79.7")),
        model_name="tiny-bert", summary="Maps sentences to a 384-dimensional vector space.")
    report = LicenseReport(expression="Apache-2.0", license_class="permissive", obligations=("attribution", "notice"),
                           name="Apache License 2.0")
    inp = BomInput(
        name="sentence-transformers/tiny-bert", version="3", identity=manifest.identity, manifest=manifest,
        card=card, license=report, publisher="sentence-transformers",
        source_url="https://huggingface.co/sentence-transformers/tiny-bert",
        revision="C9745ED1D9F207416BE6D2E6F8DE32D1F16199BF",
        datasets=(BomDataset("s2orc", "2020", "https://github.com/allenai/s2orc", "ODC-By-1.0",
                             "sha256:" + "ab" * 32),),
        intended_use="Semantic search and clustering of English sentences.",
        properties=(("scan_verdict", "clean"), ("signature_status", "verified"), ("assay:risk_tier", "low")))
    return BomInput(**{**inp.__dict__, **changes})


def test_full_bom_says_what_the_model_is(model_dir: Path) -> None:
    manifest = hash_model(model_dir)
    bom = valid(full_input(manifest))
    head = (bom["bomFormat"], bom["specVersion"], bom["serialNumber"], bom["version"])
    assert head == ("CycloneDX", "1.6", SERIAL, 1)
    assert bom["metadata"]["timestamp"] == "2025-03-04T05:06:07Z"
    assert bom["metadata"]["tools"]["components"] == [{"type": "application", "name": "assay",
                                                       "version": assay.__version__}]
    model = bom["metadata"]["component"]
    assert (model["type"], model["name"], model["version"]) == ("machine-learning-model",
                                                                "sentence-transformers/tiny-bert", "3")
    assert model["hashes"] == [{"alg": "SHA-256", "content": manifest.root_digest.hex()}]
    expected_purl = PackageURL(type="huggingface", namespace="sentence-transformers", name="tiny-bert",
                               version="c9745ed1d9f207416be6d2e6f8de32d1f16199bf").to_string()
    assert model["purl"] == expected_purl
    assert model["licenses"] == [{"license": {"id": "Apache-2.0", "acknowledgement": "concluded",
                                              "url": "https://www.apache.org/licenses/LICENSE-2.0"}}]
    assert {"type": "distribution", "url": "https://huggingface.co/sentence-transformers/tiny-bert"} \
        in model["externalReferences"]
    assert model["description"].startswith("Maps sentences")

    # every file of the manifest, with the manifest's digest, and the model depends on each
    assert {n: c["hashes"] for n, c in files(bom).items()} == {
        r.name: [{"alg": "SHA-256", "content": r.hex}] for r in manifest.resources}
    deps = {d["ref"]: d.get("dependsOn") for d in bom["dependencies"]}
    assert sorted(deps[model["bom-ref"]]) == sorted(c["bom-ref"] for c in files(bom).values())

    # datasets: the caller's (with digest, license, URL) and the card's other one, referenced from the model card
    data = {c["name"]: c for c in bom["components"] if c["type"] == "data"}
    assert set(data) == {"s2orc", "sentence-transformers/reddit-title-body"}
    s2orc = data["s2orc"]
    assert s2orc["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert s2orc["licenses"] == [{"license": {"id": "ODC-By-1.0"}}]
    assert s2orc["data"] == [{"type": "dataset", "name": "s2orc",
                              "contents": {"url": "https://github.com/allenai/s2orc"}}]
    card = model["modelCard"]
    assert [d["ref"] for d in card["modelParameters"]["datasets"]] == [c["bom-ref"] for c in data.values()]
    assert card["modelParameters"]["task"] == "sentence-similarity"
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "cos_sim_spearman", "value": "0.8203", "slice": "mteb/stsbenchmark-sts"},
        {"type": "accuracy", "value": "79.7", "slice": "mteb/banking77"}]
    assert card["considerations"] == {"useCases": ["Semantic search and clustering of English sentences."]}

    ancestors = model["pedigree"]["ancestors"]
    assert [a["name"] for a in ancestors] == ["nreimers/MiniLM-L6-H384-uncased", "https://example.org/weights/base.bin"]
    assert ancestors[0]["purl"] == "pkg:huggingface/nreimers/MiniLM-L6-H384-uncased"
    assert props(ancestors[0]) == [("assay:base_model_relation", "finetune")]
    assert "purl" not in ancestors[1]  # a URL is not a hub repo id

    facts = props(model)
    for fact in [("assay:identity", manifest.identity), ("assay:license_class", "permissive"),
                 ("assay:license_obligation", "attribution"), ("assay:license_name", "Apache License 2.0"),
                 ("assay:scan_verdict", "clean"), ("assay:signature_status", "verified"), ("assay:risk_tier", "low"),
                 ("assay:library_name", "sentence-transformers")]:
        assert fact in facts
    assert model["tags"] == ["feature-extraction", "bert"]


def test_same_input_serial_and_time_give_the_same_document(model_dir: Path) -> None:
    inp = full_input(hash_model(model_dir))
    assert bom_json(inp, serial=SERIAL, timestamp=WHEN) == bom_json(inp, serial=SERIAL, timestamp=WHEN)
    a, b = build_bom(inp), build_bom(inp)
    assert a["serialNumber"] != b["serialNumber"]  # a fresh serial per BOM when none is given
    naive = build_bom(inp, serial=SERIAL[len("urn:uuid:"):].upper(), timestamp=datetime(2025, 1, 1, 12, 0, 0, 999))
    assert naive["serialNumber"] == SERIAL and naive["metadata"]["timestamp"] == "2025-01-01T12:00:00Z"
    shifted = build_bom(inp, serial=SERIAL, timestamp=datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert shifted["metadata"]["timestamp"] == "2025-01-01T10:00:00Z"


def test_minimal_input_has_no_invented_facts(model_dir: Path) -> None:
    manifest = hash_model(model_dir)
    bom = valid(BomInput(name="tiny", version="v1", identity=manifest.identity, manifest=manifest))
    model = bom["metadata"]["component"]
    for absent in ("licenses", "modelCard", "pedigree", "purl", "externalReferences", "description", "tags"):
        assert absent not in model
    assert [c["type"] for c in bom["components"]] == ["file"] * len(manifest.resources)
    assert dict(props(model))["assay:identity"] == manifest.identity


@pytest.mark.parametrize(("expression", "expected"), [
    ("LicenseRef-assay-llama-3.1-community", {"license": {"name": "LicenseRef-assay-llama-3.1-community",
                                                          "acknowledgement": "concluded",
                                                          "url": "https://llama.meta.com/llama3_1/license/"}}),
    ("MIT OR Apache-2.0", {"expression": "MIT OR Apache-2.0", "acknowledgement": "concluded"}),
    ("Apache-2.0 AND LicenseRef-assay-openrail-m", {"expression": "Apache-2.0 AND LicenseRef-assay-openrail-m",
                                                    "acknowledgement": "concluded"}),
    ("GPL-2.0-only WITH Classpath-exception-2.0", {"expression": "GPL-2.0-only WITH Classpath-exception-2.0",
                                                   "acknowledgement": "concluded"}),
    ("mit", {"license": {"id": "MIT", "acknowledgement": "concluded",
                         "url": "https://llama.meta.com/llama3_1/license/"}}),
    ("not a license AND (", {"license": {"name": "not a license AND (", "acknowledgement": "concluded",
                                         "url": "https://llama.meta.com/llama3_1/license/"}}),
    ("foo AND bar", {"license": {"name": "foo AND bar", "acknowledgement": "concluded",
                                 "url": "https://llama.meta.com/llama3_1/license/"}}),
])
def test_license_forms(model_dir: Path, expression: str, expected: dict) -> None:
    manifest = hash_model(model_dir)
    card = ModelCard(license="other", license_link="https://llama.meta.com/llama3_1/license/")
    report = LicenseReport(expression=expression, license_class="restricted-use", name="Some License")
    bom = valid(full_input(manifest, card=card, license=report))
    model = bom["metadata"]["component"]
    assert model["licenses"] == [expected]
    assert ("assay:license_class", "restricted-use") in props(model)
    assert {"type": "license", "url": "https://llama.meta.com/llama3_1/license/"} in model["externalReferences"]


def test_card_license_is_declared_when_there_is_no_analysis(model_dir: Path) -> None:
    manifest = hash_model(model_dir)
    bom = valid(full_input(manifest, card=ModelCard(license="apache-2.0"), license=None))
    declared = [{"license": {"id": "Apache-2.0", "acknowledgement": "declared"}}]
    assert bom["metadata"]["component"]["licenses"] == declared
    unknown = valid(full_input(manifest, license=LicenseReport(expression=None, license_class="unknown")))
    assert "licenses" not in unknown["metadata"]["component"]


def test_every_spdx_id_assay_knows_is_one_cyclonedx_accepts() -> None:
    """license.id must be in the schema's SPDX enum; the ids come from license-expression's list."""
    import cyclonedx.schema
    from license_expression import get_spdx_licensing

    enum = set(json.loads((Path(cyclonedx.schema.__file__).parent / "_res/spdx.SNAPSHOT.schema.json")
                          .read_text())["enum"])
    keys = {s.key for s in get_spdx_licensing().known_symbols.values() if not s.key.startswith("LicenseRef-")}
    assert keys - enum == set()


def test_shards_are_listed_per_file_with_their_ranges(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(2500))
    (root / "config.json").write_text("{}")
    manifest = hash_model(root, shard_size=1000)
    assert manifest.serialization.method == "shards"
    bom = valid(BomInput(name="m", version="1", identity=manifest.identity, manifest=manifest))
    by_name = files(bom)
    assert set(by_name) == {"weights.bin", "config.json"}
    assert all("hashes" not in c for c in by_name.values())  # a shard digest is not the file's digest
    shards = [v for c in by_name.values() for k, v in props(c) if k == "assay:shard"]
    expected = []
    for r in manifest.resources:
        _, start, end = r.name.rsplit(":", 2)
        expected.append(f"{start}-{end} sha256:{r.hex}")
    assert sorted(shards) == sorted(expected)
    assert [v for k, v in props(by_name["weights.bin"]) if k == "assay:shard"][0].startswith("0-1000 sha256:")


@pytest.mark.parametrize(("hash_type", "alg"), [("blake2b", "BLAKE2b-512"), ("blake3", "BLAKE3")])
def test_other_hash_types(model_dir: Path, hash_type: str, alg: str) -> None:
    manifest = hash_model(model_dir, hash_type=hash_type)
    bom = valid(BomInput(name="tiny", version="1", identity=manifest.identity, manifest=manifest))
    assert {n: c["hashes"] for n, c in files(bom).items()} == {
        r.name: [{"alg": alg, "content": r.hex}] for r in manifest.resources}


def test_real_all_minilm_l6_v2(minilm_dir: Path) -> None:
    manifest = hash_model(minilm_dir)
    card = ModelCard(path="README.md", license="apache-2.0",
                     datasets=("s2orc", "flax-sentence-embeddings/stackexchange_xml"),
                     pipeline_tag="sentence-similarity", languages=("en",))
    inp = BomInput(name="sentence-transformers/all-MiniLM-L6-v2", version="1", identity=manifest.identity,
                   manifest=manifest, card=card, license=LicenseReport("Apache-2.0", "permissive"),
                   publisher="sentence-transformers", revision="c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
                   source_url="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2")
    bom = valid(inp)
    assert {n: c["hashes"][0]["content"] for n, c in files(bom).items()} == {r.name: r.hex for r in manifest.resources}
    assert "model.safetensors" in files(bom)
    assert bom["metadata"]["component"]["purl"] == \
        "pkg:huggingface/sentence-transformers/all-MiniLM-L6-v2@c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def test_urls_are_made_valid_or_kept_as_properties(model_dir: Path) -> None:
    manifest = hash_model(model_dir)
    inp = full_input(manifest, source_url="https://example.org/my models/ünïcode?q=a b#frag ment",
                     datasets=(BomDataset("d", source_url="not a url", digest="md5:1234"),))
    bom = valid(inp)
    model = bom["metadata"]["component"]
    assert {"type": "distribution", "url": "https://example.org/my%20models/%C3%BCn%C3%AFcode?q=a%20b#frag%20ment"} \
        in model["externalReferences"]
    data = next(c for c in bom["components"] if c["type"] == "data" and c["name"] == "d")
    assert "externalReferences" not in data and "hashes" not in data
    assert props(data) == [("assay:digest", "md5:1234"), ("assay:source_url", "not a url")]


def test_repeated_datasets_get_distinct_refs(model_dir: Path) -> None:
    manifest = hash_model(model_dir)
    inp = full_input(manifest, card=None, datasets=(BomDataset("d"), BomDataset("d"), BomDataset("d", "2"),
                                                    BomDataset("d", license="MIT")))
    bom = valid(inp)
    refs = [c["bom-ref"] for c in bom["components"] if c["type"] == "data"]
    assert len(refs) == 3 and len(set(refs)) == 3


def test_bad_input_is_refused_with_one_line(model_dir: Path) -> None:
    manifest = hash_model(model_dir)
    other = "sha256:" + "0" * 64
    with pytest.raises(InputError, match="not the manifest"):
        build_bom(full_input(manifest, identity=other))
    with pytest.raises(InputError, match="sha256:<64 hex"):
        build_bom(full_input(manifest, identity="md5:abc"))
    with pytest.raises(InputError, match="version label"):
        build_bom(full_input(manifest, version="v" * 1025))
    with pytest.raises(UsageError, match="UUID"):
        build_bom(full_input(manifest), serial="not-a-uuid")
    upper = build_bom(full_input(manifest, identity=manifest.identity.upper().replace("SHA256", "sha256")))
    assert upper
    # Upper-case hex names the same model: the BOM records the canonical identity, as for the lower-case form.
    model = upper["metadata"]["component"]
    assert model["hashes"] == [{"alg": "SHA-256", "content": manifest.identity.split(":", 1)[1]}]
    assert model == build_bom(full_input(manifest))["metadata"]["component"]


# --- fuzz: arbitrary text anywhere still gives a strictly valid BOM --------------------------------------

TEXT = st.text(max_size=40)
URLISH = st.one_of(TEXT, st.builds(lambda s, t: s + t, st.sampled_from(["http://", "https://", "HTTPS://", "http:"]),
                                   TEXT))
MAYBE = st.none() | TEXT


@st.composite
def fuzz_inputs(draw: st.DrawFn) -> BomInput:
    hash_type = draw(st.sampled_from(["sha256", "blake2b", "blake3"]))
    method = draw(st.sampled_from(["files", "shards"]))
    size = {"sha256": 32, "blake2b": 64, "blake3": 32}[hash_type]
    names = draw(st.lists(TEXT, max_size=5, unique=True))
    if method == "shards":
        names = [f"{n}:{i * 10}:{i * 10 + 10}" for i, n in enumerate(names)]
    resources = tuple(Resource(n, hash_type, draw(st.binary(min_size=size, max_size=size))) for n in names)
    if resources and draw(st.booleans()):  # a hand-built manifest with an odd digest length
        resources += (Resource(draw(TEXT) + "-odd", hash_type, draw(st.binary(max_size=20))),)
    manifest = Manifest(draw(TEXT), Serialization(method=method, hash_type=hash_type,
                                                  shard_size=10 if method == "shards" else None), resources)
    card = draw(st.none() | st.builds(
        ModelCard, path=MAYBE, license=MAYBE, license_name=MAYBE, license_link=st.none() | URLISH,
        base_models=st.lists(st.builds(BaseModelRef, TEXT, MAYBE), max_size=3).map(tuple),
        datasets=st.lists(TEXT, max_size=3).map(tuple), pipeline_tag=MAYBE, library_name=MAYBE,
        languages=st.lists(TEXT, max_size=2).map(tuple), tags=st.lists(TEXT, max_size=2).map(tuple),
        metrics=st.lists(st.tuples(TEXT, TEXT, st.floats() | TEXT), max_size=2).map(tuple), summary=MAYBE))
    report = draw(st.none() | st.builds(
        LicenseReport, expression=st.none() | TEXT | st.sampled_from(["MIT", "Apache-2.0 OR MIT", "LicenseRef-x"]),
        license_class=st.sampled_from(["permissive", "unknown", "proprietary"]),
        obligations=st.lists(TEXT, max_size=2).map(tuple), name=MAYBE))
    datasets = draw(st.lists(st.builds(BomDataset, TEXT, MAYBE, st.none() | URLISH, MAYBE,
                                       st.none() | TEXT | st.builds(lambda a, h: a + ":" + h,
                                                                    st.sampled_from(["sha256", "blake3", "x"]),
                                                                    st.sampled_from(["ab" * 32, "ab" * 31, "zz"]))),
                                 max_size=3).map(tuple))
    return BomInput(name=draw(TEXT), version=draw(TEXT), identity=manifest.identity, manifest=manifest, card=card,
                    license=report, publisher=draw(MAYBE), source_url=draw(st.none() | URLISH), revision=draw(MAYBE),
                    datasets=datasets, intended_use=draw(MAYBE), properties=tuple(draw(st.lists(st.tuples(TEXT, TEXT),
                                                                                                 max_size=2))))


@given(fuzz_inputs())
def test_fuzz_arbitrary_text_gives_a_valid_bom(inp: BomInput) -> None:
    try:
        text = bom_json(inp, serial=SERIAL, timestamp=WHEN)
    except AssayError:  # refused with a message is allowed; nothing else may escape
        return
    error = VALIDATOR.validate_str(text)
    assert error is None, str(error)[:3000]
    bom = json.loads(text)
    refs = [c["bom-ref"] for c in bom["components"]] + [bom["metadata"]["component"]["bom-ref"]]
    assert len(refs) == len(set(refs))


URL_CHARS = st.text(alphabet=st.sampled_from(list(":/@[]%?#!$&'()*+,;=-._~ aZ09\\\"<>{}|^`é\x00\x7f\ufffe\U0001F600")),
                    max_size=30)


@given(st.sampled_from(["http://", "https://", "https://example.org", "http://u:p@h:"]), URL_CHARS)
def test_fuzz_urls_become_valid_uris_or_properties(prefix: str, rest: str) -> None:
    manifest = Manifest("m", Serialization())
    raw = prefix + rest
    # one URL per example: the schema's iri-reference check (rfc3987-syntax, a lark grammar) is slow
    bom = valid(BomInput(name="m", version="1", identity=manifest.identity, manifest=manifest, source_url=raw))
    model = bom["metadata"]["component"]
    # the URL is either a reference (valid, checked above) or kept verbatim as a property, never lost
    assert ("externalReferences" in model) != (("assay:source_url", raw) in props(model))


HUB_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@given(HUB_ID, HUB_ID, st.text(min_size=1, max_size=40).map(str.strip).filter(bool))
def test_fuzz_hub_purls_parse_back(publisher: str, name: str, revision: str) -> None:
    manifest = Manifest("m", Serialization())
    bom = build_bom(BomInput(name=f"{publisher}/{name}", version="1", identity=manifest.identity, manifest=manifest,
                             publisher=publisher, revision=revision))
    purl = PackageURL.from_string(bom["metadata"]["component"]["purl"])
    assert (purl.type, purl.namespace, purl.name, purl.version) == ("huggingface", publisher, name, revision.lower())


def test_no_purl_for_names_that_are_not_hub_ids() -> None:
    manifest = Manifest("m", Serialization())
    bom = build_bom(BomInput(name="my model (prod)", version="1", identity=manifest.identity, manifest=manifest,
                             publisher="ACME Corp", revision="abc"))
    assert "purl" not in bom["metadata"]["component"]
    assert bom["metadata"]["component"]["publisher"] == "ACME Corp"


def test_undecodable_file_names_and_non_text_facts_still_give_valid_json() -> None:
    name = "weights-\udcff.bin"  # how Python hands over a file name that is not UTF-8 (surrogate escape)
    manifest = Manifest("m", Serialization(), (Resource(name, "sha256", bytes(32)),))
    text = bom_json(BomInput(name="m", version="1", identity=manifest.identity, manifest=manifest,
                             properties=(("gate_passed", True), ("findings", 0))),  # type: ignore[arg-type]
                    serial=SERIAL, timestamp=WHEN)
    text.encode("utf-8")  # writable as a UTF-8 file
    assert VALIDATOR.validate_str(text) is None
    bom = json.loads(text)
    assert [c["name"] for c in bom["components"]] == [name]
    assert ("assay:gate_passed", "True") in props(bom["metadata"]["component"])
