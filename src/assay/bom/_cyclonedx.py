"""A model version as a CycloneDX 1.6 ML-BOM (JSON), built as plain dicts.

cyclonedx-python-lib does not model ``modelCard``, so the document is written by hand and the tests
validate it against the 1.6 JSON schema in strict mode. Layout:

- ``metadata.component`` is the model (type ``machine-learning-model``): purl, the manifest root
  digest as its SHA-256 hash, licenses, external references, ``modelCard``, base models as
  ``pedigree.ancestors`` and assay's facts as ``assay:`` properties.
- top-level ``components`` are the model's files (type ``file``) and its datasets (type ``data``);
  ``dependencies`` says the model depends on its files, and the model card points at the datasets
  by ``bom-ref``.
- shards manifests: one ``file`` component per file, without ``hashes`` (a shard digest is not the
  digest of the file); each shard is an ``assay:shard`` property ``<start>-<end> <alg>:<hex>``.

Free text never breaks the schema: URLs are percent-encoded into valid URIs or, when they are not
http(s) URLs at all, kept only as ``assay:`` properties; digests of an unknown algorithm or length
become properties instead of ``hashes``; licenses that are not SPDX fall back to a named license.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from assay.bom._interface import MAX_VERSION_CHARS, BomDataset, BomInput
from assay.errors import InputError, UsageError

SPEC_VERSION = "1.6"
"""The CycloneDX version written."""
PROPERTY_PREFIX = "assay:"
"""Namespace of every property assay writes."""
HASH_ALGORITHMS: dict[str, tuple[str, int]] = {"sha256": ("SHA-256", 32), "blake2b": ("BLAKE2b-512", 64),
                                               "blake3": ("BLAKE3", 32)}
"""OMS hash type -> (CycloneDX ``hash-alg``, digest length in bytes)."""

_IDENTITY = re.compile(r"sha256:[0-9a-f]{64}")
_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")
_HF_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;="
_HEX = "0123456789abcdefABCDEF"


def build_bom(inp: BomInput, *, serial: str | None = None, timestamp: datetime | None = None) -> dict[str, Any]:
    """The CycloneDX 1.6 BOM of ``inp`` as a JSON-able dict; the same input, serial and timestamp give the same dict.

    ``serial`` is a UUID (bare or ``urn:uuid:...``; a random one when omitted); ``timestamp`` defaults to
    now and a naive one is read as UTC. Raises ``InputError`` when the identity is malformed or is not the
    manifest's, or a version label is too long, and ``UsageError`` for a malformed serial or timestamp.
    """
    identity = inp.identity.strip().lower()
    if not _IDENTITY.fullmatch(identity):
        raise InputError(f"model identity must be sha256:<64 hex digits>, got {inp.identity[:80]!r}")
    if identity != inp.manifest.identity:
        raise InputError(f"model identity {identity} is not the manifest's ({inp.manifest.identity})")
    _check_version(inp.version, "model")
    for dataset in inp.datasets:
        if dataset.version is not None:
            _check_version(dataset.version, f"dataset {dataset.name[:80]!r}")

    files = _file_components(inp)
    datasets = _dataset_components(inp)
    model = _model_component(inp, identity, [d["bom-ref"] for d in datasets])
    from assay._version import __version__

    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": _serial(serial),
        "version": 1,
        "metadata": {
            "timestamp": _timestamp(timestamp),
            "tools": {"components": [{"type": "application", "name": "assay", "version": __version__}]},
            "component": model,
        },
        "components": files + datasets,
        "dependencies": [{"ref": model["bom-ref"], "dependsOn": [f["bom-ref"] for f in files]}]
        + [{"ref": c["bom-ref"]} for c in files + datasets],
    }


def bom_json(inp: BomInput, *, serial: str | None = None, timestamp: datetime | None = None) -> str:
    """``build_bom`` as JSON text, indented by 2, keys in CycloneDX reading order (not sorted)."""
    bom = build_bom(inp, serial=serial, timestamp=timestamp)
    text = json.dumps(bom, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable file names (surrogate escapes) cannot be written raw; escape them
        text = json.dumps(bom, indent=2, ensure_ascii=True)
    return text


# --- document parts -------------------------------------------------------------------------------------


def _model_component(inp: BomInput, identity: str, dataset_refs: list[str]) -> dict[str, Any]:
    card, report = inp.card, inp.license
    comp: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": f"model:{inp.name}@{inp.version}",
                            "name": inp.name, "version": inp.version}
    if card is not None and card.summary:
        comp["description"] = card.summary
    if inp.publisher:
        comp["publisher"] = inp.publisher
    purl = _model_purl(inp)
    if purl:
        comp["purl"] = purl
    comp["hashes"] = [{"alg": "SHA-256", "content": identity.split(":", 1)[1]}]
    props: list[tuple[str, str]] = [("identity", identity), ("manifest_method", inp.manifest.serialization.method),
                                    ("manifest_hash_type", inp.manifest.serialization.hash_type)]
    license_link = card.license_link if card is not None else None
    licenses = None
    if report is not None:
        props.append(("license_class", report.license_class))
        props += [("license_obligation", o) for o in report.obligations]
        if report.name:
            props.append(("license_name", report.name))
        if report.expression:
            licenses = _licenses(report.expression, license_link, "concluded")
    elif card is not None and card.license:  # no analysis: what the card declares is all there is
        licenses = _licenses(card.license, license_link, "declared")
    if licenses:
        comp["licenses"] = licenses
    refs, url_props = _external_refs([("distribution", inp.source_url, "source_url"),
                                      ("license", license_link, "license_link")])
    props += url_props
    if refs:
        comp["externalReferences"] = refs
    if card is not None and card.tags:
        comp["tags"] = list(card.tags)
    model_card = _model_card(inp, dataset_refs)
    if model_card:
        comp["modelCard"] = model_card
    ancestors = _ancestors(inp)
    if ancestors:
        comp["pedigree"] = {"ancestors": ancestors}
    if card is not None:
        if card.library_name:
            props.append(("library_name", card.library_name))
        props += [("language", lang) for lang in card.languages]
        if card.path:
            props.append(("card_path", card.path))
    props += list(inp.properties)
    comp["properties"] = _properties(props)
    return comp


def _model_card(inp: BomInput, dataset_refs: list[str]) -> dict[str, Any]:
    card = inp.card
    out: dict[str, Any] = {}
    params: dict[str, Any] = {}
    if card is not None and card.pipeline_tag:
        params["task"] = card.pipeline_tag
    if dataset_refs:
        params["datasets"] = [{"ref": ref} for ref in dataset_refs]
    if params:
        out["modelParameters"] = params
    if card is not None and card.metrics:
        out["quantitativeAnalysis"] = {"performanceMetrics": [
            {"type": metric, "value": str(value), "slice": where} for where, metric, value in card.metrics]}
    if inp.intended_use:
        out["considerations"] = {"useCases": [inp.intended_use]}
    return out


def _ancestors(inp: BomInput) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for base in inp.card.base_models if inp.card is not None else ():
        if (base.name, base.relation) in seen:
            continue
        seen.add((base.name, base.relation))
        comp: dict[str, Any] = {"type": "machine-learning-model", "name": base.name}
        if _HF_REPO.fullmatch(base.name):  # a hub repo id; a URL or a local path gets no purl
            namespace, _, name = base.name.rpartition("/")
            comp["purl"] = _hf_purl(namespace or None, name, None)
        if base.relation:
            comp["properties"] = _properties([("base_model_relation", base.relation)])
        out.append(comp)
    return out


def _file_components(inp: BomInput) -> list[dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}  # insertion order = manifest order
    sharded = inp.manifest.serialization.method == "shards"
    for res in inp.manifest.resources:
        base_alg = res.algorithm.split("-sharded-")[0]
        path, span = _split_shard(res.name) if sharded else (res.name, None)
        comp = files.setdefault(path, {"type": "file", "bom-ref": f"file:{path}", "name": path})
        hashed = None if sharded else _hash(base_alg, res.digest)
        if hashed is not None:
            comp.setdefault("hashes", []).append(hashed)
            continue
        # a shard, or a digest CycloneDX has no name or length for (hand-built manifests): kept, not as a hash
        fact = ("shard", f"{span or res.name} {base_alg}:{res.hex}") if sharded else ("digest", f"{base_alg}:{res.hex}")
        comp.setdefault("properties", []).extend(_properties([fact]))
    return list(files.values())


def _dataset_components(inp: BomInput) -> list[dict[str, Any]]:
    datasets = list(dict.fromkeys(inp.datasets))  # drop exact repeats; CycloneDX components must be unique
    known = {d.name for d in datasets}
    for name in inp.card.datasets if inp.card is not None else ():
        if name not in known:  # the card names a dataset the caller knows nothing more about
            known.add(name)
            datasets.append(BomDataset(name=name))
    out: list[dict[str, Any]] = []
    refs: set[str] = set()
    for d in datasets:
        ref = f"dataset:{d.name}" + (f"@{d.version}" if d.version is not None else "")
        n = 2
        while ref in refs:
            ref, n = f"dataset:{d.name}#{n}", n + 1
        refs.add(ref)
        out.append(_dataset_component(d, ref))
    return out


def _dataset_component(d: BomDataset, ref: str) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": "data", "bom-ref": ref, "name": d.name}
    if d.version is not None:
        comp["version"] = d.version
    props: list[tuple[str, str]] = []
    if d.digest:
        alg, _, hexdigest = d.digest.partition(":")
        try:
            hashed = _hash(alg.lower(), bytes.fromhex(hexdigest))
        except ValueError:
            hashed = None
        if hashed is not None:
            comp["hashes"] = [hashed]
        else:
            props.append(("digest", d.digest))
    if d.license:
        comp["licenses"] = _licenses(d.license, None, None)
    url = _url(d.source_url) if d.source_url else None
    data: dict[str, Any] = {"type": "dataset", "name": d.name}
    if url:
        data["contents"] = {"url": url}
        comp["externalReferences"] = [{"type": "distribution", "url": url}]
    elif d.source_url:
        props.append(("source_url", d.source_url))
    comp["data"] = [data]
    if props:
        comp["properties"] = _properties(props)
    return comp


# --- values ----------------------------------------------------------------------------------------------


def _licenses(text: str, link: str | None, acknowledgement: str | None) -> list[dict[str, Any]]:
    """A CycloneDX ``licenseChoice``: a listed SPDX id as ``license.id``, a compound SPDX expression as
    ``expression``, anything else (``LicenseRef-...``, ``other``, free text) as ``license.name``."""
    extra: dict[str, Any] = {"acknowledgement": acknowledgement} if acknowledgement else {}
    url = _url(link) if link else None
    kind, normalized = _classify_license(text)
    if kind == "expression":
        return [{"expression": normalized, **extra}]
    lic: dict[str, Any] = {"id": normalized} if kind == "id" else {"name": text.strip() or text}
    lic.update(extra)
    if url:
        lic["url"] = url
    return [{"license": lic}]


@lru_cache(maxsize=256)
def _classify_license(text: str) -> tuple[str, str]:
    """``("id", key)`` for one listed SPDX license, ``("expression", normalized)`` for a compound expression
    of listed ids and ``LicenseRef-`` ids, ``("name", text)`` otherwise."""
    from license_expression import LicenseSymbol

    from assay.card import spdx_licensing  # one SPDX index per process: it is slow to load

    licensing = spdx_licensing()
    try:
        parsed = licensing.parse(text.strip())
        symbols = licensing.license_symbols(parsed, decompose=True) if parsed is not None else []
    except Exception:  # noqa: BLE001 - a third-party parser reading free text; any failure means "not SPDX"
        return ("name", text)
    if parsed is None or not symbols:
        return ("name", text)
    known = licensing.known_symbols

    def listed(key: str) -> bool:
        return key in known and not key.startswith("LicenseRef-")

    if isinstance(parsed, LicenseSymbol):  # one symbol: a listed license is an id; a LicenseRef or free text a name
        if listed(parsed.key) and not known[parsed.key].is_exception:
            return ("id", known[parsed.key].key)
        return ("name", text)
    if all(listed(s.key) or _LICENSE_REF.fullmatch(s.key) for s in symbols):
        return ("expression", str(parsed))
    return ("name", text)


def _hash(alg: str, digest: bytes) -> dict[str, str] | None:
    """A CycloneDX hash, or None when the algorithm or the digest length is not one CycloneDX can state."""
    known = HASH_ALGORITHMS.get(alg)
    if known is None or len(digest) != known[1]:
        return None
    return {"alg": known[0], "content": digest.hex()}


def _model_purl(inp: BomInput) -> str | None:
    if not (inp.publisher and inp.revision):
        return None
    name = inp.name
    if name.startswith(inp.publisher + "/"):  # registry names are often the hub repo id "<owner>/<name>"
        name = name[len(inp.publisher) + 1:]
    if not _HF_REPO.fullmatch(f"{inp.publisher}/{name}"):  # not a hub repo id: a purl would name something else
        return None
    return _hf_purl(inp.publisher, name, inp.revision.strip())


def _hf_purl(namespace: str | None, name: str, revision: str | None) -> str:
    """``pkg:huggingface/<namespace>/<name>@<revision>``; the purl spec lowercases a huggingface version."""
    parts = [quote(p, safe=".-_~") for p in ((namespace,) if namespace else ()) + (name,)]
    purl = "pkg:huggingface/" + "/".join(parts)
    return purl + "@" + quote(revision.lower(), safe=".-_~+") if revision else purl


def _external_refs(items: list[tuple[str, str | None, str]]) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """External references for the usable URLs; the rest as ``(property, raw text)`` so nothing is lost."""
    urls = [(kind, raw, _url(raw), prop) for kind, raw, prop in items if raw]
    return ([{"type": kind, "url": url} for kind, _, url, _ in urls if url],
            [(prop, raw) for _, raw, url, prop in urls if not url])


def _url(raw: str) -> str | None:
    """``raw`` as a valid http(s) URI (characters outside URI syntax percent-encoded), or None when it is
    not an http(s) URL with a host. The schema checks ``iri-reference`` format, so free text must not pass."""
    try:
        parts = urlsplit(raw.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if not colon or not re.fullmatch(r"[0-9]*", port):
        host, port = hostport, ""
    if not host or host.startswith("["):  # IP literals are rare in model sources and strict to validate
        return None
    pchar = _UNRESERVED + _SUB_DELIMS + ":@"
    out = parts.scheme + "://"
    if at:
        out += _pct(userinfo, _UNRESERVED + _SUB_DELIMS + ":") + "@"
    out += _pct(host, _UNRESERVED + _SUB_DELIMS) + (":" + port if colon and port else "")
    out += _pct(parts.path, pchar + "/")
    if parts.query:
        out += "?" + _pct(parts.query, pchar + "/?")
    if parts.fragment:
        out += "#" + _pct(parts.fragment, pchar + "/?")
    return out


def _pct(text: str, safe: str) -> str:
    """Percent-encode every character not in ``safe``, keeping well-formed ``%XX`` escapes as they are."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and len(text) >= i + 3 and text[i + 1] in _HEX and text[i + 2] in _HEX:
            out.append(text[i:i + 3])
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _split_shard(name: str) -> tuple[str, str | None]:
    """``path:start:end`` -> (path, "start-end"); a name that is not one keeps its whole text as the path."""
    parts = name.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isascii() and parts[1].isdigit() and parts[2].isascii() and parts[2].isdigit():
        return parts[0], f"{parts[1]}-{parts[2]}"
    return name, None


def _properties(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    # str(): a caller's non-text fact (a bool, a number) must not make the document invalid
    return [{"name": n if str(n).startswith(PROPERTY_PREFIX) else PROPERTY_PREFIX + str(n), "value": str(v)}
            for n, v in pairs]


def _check_version(version: str, what: str) -> None:
    if len(version) > MAX_VERSION_CHARS:
        raise InputError(f"{what} version label is {len(version)} characters; CycloneDX allows {MAX_VERSION_CHARS}")


def _serial(serial: str | None) -> str:
    if serial is None:
        return uuid.uuid4().urn
    text = serial.strip()
    try:
        return uuid.UUID(text[len("urn:uuid:"):] if text.lower().startswith("urn:uuid:") else text).urn
    except ValueError:
        raise UsageError(f"BOM serial must be a UUID, got {serial[:80]!r}") from None


def _timestamp(ts: datetime | None) -> str:
    ts = ts or datetime.now(UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        utc = ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise UsageError(f"BOM timestamp {ts!r} cannot be expressed in UTC") from None
    return utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
