"""Reproduce a version bit for bit: rebuild its point-in-time training set from what it recorded
(as-of time, training window, feature service, the accepted partitions of the lake, the label
source), refit its recorded trial on every row as the training run did (the same functions,
``bantay.training.dataset`` and ``bantay.training.published``), and compare, artifact by
artifact, the digests with the recorded ones; when one differs, say why: the data changed (and on
which days), the libraries or the code differ, or neither (non-determinism).

The rebuilt files go to their own run folder (``runs/<model>/reproduce__<version>/``); the
version's own run folder, the registry and the model store are left as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bantay.layout import Layout
from bantay.settings import ModelSettings
from bantay.stores.registry import VersionNotFound
from bantay.training.dataset import build_training_set, load_split
from bantay.training.fingerprint import changed_days, training_set_digest
from bantay.training.lineage import code_version, library_changes, library_versions
from bantay.training.published import MODEL_FILE, REFERENCE_FILE, all_rows, write_published
from bantay.training.run import RunContext, run_dir
from bantay.training.staging import sha256

if TYPE_CHECKING:
    from feast import FeatureStore

    from bantay.stores.registry import Registry

TRAINING_SET = "training set"
NOT_RECORDED = "not recorded with the version (trained before reproduction was recorded)"


@dataclass(frozen=True)
class ArtifactCheck:
    """One artifact: the recorded and the rebuilt digest, whether they are equal, and why not."""

    artifact: str
    recorded: str | None
    rebuilt: str | None
    equal: bool
    why: str


@dataclass(frozen=True)
class Reproduction:
    """Every artifact of one version, checked; where the rebuilt files are."""

    model: str
    version: str
    folder: str
    checks: list[ArtifactCheck]

    @property
    def equal(self) -> bool:
        return all(c.equal for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "equal": self.equal}

    def as_table(self) -> str:
        """One line per artifact: name, verdict, short recorded and rebuilt digests, why."""
        width = max(len(c.artifact) for c in self.checks)
        lines = [f"{self.model} {self.version}, rebuilt in {self.folder}"]
        for c in self.checks:
            verdict = "equal" if c.equal else "DIFFERENT"
            digests = f"{(c.recorded or '-')[:12]:12} {(c.rebuilt or '-')[:12]:12}"
            lines.append(f"{c.artifact:{width}}  {verdict:9}  {digests}  {c.why}".rstrip())
        return "\n".join(lines)


def reproduce_version(
    version: str,
    *,
    model: ModelSettings,
    layout: Layout,
    registry: Registry,
    feast: FeatureStore,
) -> Reproduction:
    """Rebuild ``version`` of ``model`` from its record and compare every artifact's digest.

    Raises ``VersionNotFound`` for a version the registry does not hold, ``ValueError`` for one
    whose record lacks what a rebuild needs."""
    record = registry.versions.get(model.name, version)
    if record is None:
        raise VersionNotFound(
            f"{model.name} has no version {version!r} in the registry; list the versions in "
            "the Airflow UI's bantay pages or the training DAG's evaluate task logs"
        )
    lineage = record.lineage or {}
    missing = [k for k in ("as_of", "feature_service", "reference") if k not in lineage]
    if missing or not record.params:
        raise ValueError(
            f"{model.name} {version} cannot be rebuilt: its record has no "
            f"{', '.join(missing or ['params'])}; only versions the training DAG evaluated can be"
        )
    recorded = recorded_settings(model, lineage)
    ctx = RunContext(model.name, f"reproduce__{version}", lineage["as_of"], f"reproduce {version}")
    training = build_training_set(ctx, model=recorded, layout=layout, feast=feast)
    everything = all_rows(load_split(recorded, training["path"]))
    folder = run_dir(layout, ctx)
    write_published(
        record.params,
        everything,
        training["features"],
        lineage["reference"],
        model=recorded,
        feast=feast,
        folder=folder,
    )
    checks = compare(lineage, training_set_digest(everything), rebuilt_digests(folder))
    return Reproduction(model.name, version, str(folder), checks)


def recorded_settings(model: ModelSettings, lineage: dict[str, Any]) -> ModelSettings:
    """``model`` with what the version recorded in place of today's settings: its feature
    service, training window and drift-reference sample (today's where it recorded none)."""
    sample = lineage.get("reference_sample") or {}
    drift = model.drift.model_copy(
        update={
            "seed": sample.get("seed", model.drift.seed),
            "sample_size": sample.get("size", model.drift.sample_size),
        }
    )
    return model.model_copy(
        update={
            "feature_service": lineage["feature_service"],
            "training_window_days": lineage.get("training_window_days", model.training_window_days),
            "drift": drift,
        }
    )


def rebuilt_digests(folder: Path) -> dict[str, str]:
    return {name: sha256((folder / name).read_bytes()) for name in (MODEL_FILE, REFERENCE_FILE)}


def compare(
    lineage: dict[str, Any], training_set: dict[str, Any], files: dict[str, str]
) -> list[ArtifactCheck]:
    """The training set, then each published file: recorded against rebuilt, with the reason."""
    then = lineage.get("training_set") or {}
    data = data_change(then, training_set)
    causes = [*([data] if data else []), *environment_changes(lineage)]
    checks = [check(TRAINING_SET, then.get("sha256"), training_set["sha256"], causes)]
    artifacts = lineage.get("artifacts") or {}
    checks += [check(name, artifacts.get(name), files[name], causes) for name in files]
    return checks


def check(artifact: str, recorded: str | None, rebuilt: str, causes: list[str]) -> ArtifactCheck:
    """The verdict on one artifact: equal, not recorded, or different because of ``causes``
    (none: non-determinism, for the same data, libraries and code gave other bytes)."""
    if recorded is None:
        return ArtifactCheck(artifact, None, rebuilt, False, NOT_RECORDED)
    if recorded == rebuilt:
        return ArtifactCheck(artifact, recorded, rebuilt, True, "")
    why = "; ".join(causes) or (
        "non-determinism: the same training data, libraries and code gave other bytes"
    )
    return ArtifactCheck(artifact, recorded, rebuilt, False, why)


def data_change(recorded: dict[str, Any], rebuilt: dict[str, Any]) -> str | None:
    """How the rebuilt training set differs from the recorded one (None when equal), naming the
    event days whose rows changed; unknown when the version recorded no digest."""
    if not recorded.get("sha256"):
        return "the data may have changed: the version recorded no training-set digest"
    if recorded["sha256"] == rebuilt["sha256"]:
        return None
    days = changed_days(recorded.get("days") or {}, rebuilt["days"])
    shown = ", ".join(days[:10]) + (f" and {len(days) - 10} more" if len(days) > 10 else "")
    return (
        f"data changed: the rebuilt training set differs ({recorded.get('rows')} rows recorded, "
        f"{rebuilt['rows']} rebuilt)" + (f" on {plural(len(days), 'day')}: {shown}" if days else "")
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def environment_changes(lineage: dict[str, Any]) -> list[str]:
    """Library versions and the code revision, recorded against this process's."""
    causes = []
    libraries = lineage.get("libraries")
    changed = library_changes(libraries, library_versions()) if libraries else []
    if changed:
        causes.append("library versions differ: " + ", ".join(changed))
    now = code_version()
    then = {k: lineage.get(k) for k in now}
    if then != now and any(then.values()):
        causes.append(
            "code differs: "
            + ", ".join(f"{k} {then[k]} -> {now[k]}" for k in now if then[k] != now[k])
        )
    return causes
