"""Validated settings for bantay: environment variables plus one project file, ``bantay.yaml``.

Everything that is not a credential lives here (credentials are Airflow Connections). A wrong key
or value fails at parse time with a message that names the key and what is allowed, so a typo in
``bantay.yaml`` stops a deploy instead of a 3 a.m. run.

Precedence (highest first): keyword arguments, ``BANTAY_*`` environment variables (nested keys
with ``__``, e.g. ``BANTAY_STORAGE__BUCKET``), ``bantay.yaml`` (path in ``BANTAY_CONFIG``, default
``./bantay.yaml``), defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from croniter import croniter
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bantay.layout import Layout
from bantay.settings.drift import DriftConfig
from bantay.settings.explain import ExplainConfig
from bantay.settings.feeds import ColumnSpec, FeedSettings, default_feeds
from bantay.settings.gate import GateConfig
from bantay.settings.retention import RetentionConfig
from bantay.settings.search_space import SearchSpaceError, expand_search_space
from bantay.settings.source import (
    ConfigError,
    ProjectFile,
    config_path,
    did_you_mean,
    format_error,
)

LABEL_SOURCE = "term_outcomes"  # the demo's label feed: the default of a model's label_source


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContractSettings(_Strict):
    """Thresholds for the data contract checked before anything is materialized."""

    max_lateness_days: int = Field(
        1, ge=0, le=14, description="days a row may arrive after the day it describes"
    )
    row_count_window_days: int = Field(
        7, ge=1, le=60, description="days whose median row count today's is compared with"
    )
    min_row_ratio: float = Field(
        0.5, gt=0, le=1, description="today's rows / that median must be at least this"
    )
    max_row_ratio: float = Field(
        1.5, ge=1, description="today's rows / that median must be at most this"
    )
    max_duplicate_ratio: float = Field(
        0.0, ge=0, le=1, description="share of rows repeating a (learner_id, event_timestamp) key"
    )


def _manual(value: str | None) -> str | None:
    """``manual`` (or ``none``) turns a DAG's schedule off; anything else must be a cron string."""
    if value is None or value.strip().lower() in ("manual", "none", ""):
        return None
    if not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a cron expression (five fields, e.g. '0 4 * * 0' for Sundays at "
            "04:00 UTC) nor 'manual'"
        )
    return value


def _recipients(value: list[str]) -> list[str]:
    """E-mail addresses, checked when the configuration loads rather than when a mail bounces."""
    bad = []
    for address in value:
        try:
            validate_email(address, check_deliverability=False, test_environment=True)
        except EmailNotValidError as exc:
            bad.append(f"{address!r} ({exc})")
    if bad:
        raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
    if not value:
        raise ValueError("give at least one address")
    return value


class FeatureSettings(_Strict):
    """The features DAG: the feeds it validates, where raw partitions arrive and how long to
    wait for them."""

    schedule: str | None = Field(
        "0 0 * * *", description="cron (UTC) of the features DAG, or 'manual'"
    )
    feeds: list[FeedSettings] = Field(
        default_factory=lambda: list(default_feeds()),
        description="every daily feed: its columns (type, range, allowed values, null "
        "tolerance) and role (features or labels); default: the demo's four feeds",
    )
    sources: tuple[str, ...] | None = Field(
        None,
        description="features feeds the features DAG waits for and validates (default: every "
        "feed whose role is features)",
    )
    sensor_timeout_hours: float = Field(
        6, gt=0, le=48, description="how long to wait for the day's raw partitions"
    )
    sensor_poke_minutes: float = Field(10, gt=0, description="how often to look for them")
    contract: ContractSettings = ContractSettings()

    _schedule = field_validator("schedule")(_manual)

    @field_validator("feeds")
    @classmethod
    def _one_population(cls, value: list[FeedSettings]) -> list[FeedSettings]:
        names = [f.name for f in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"feed names must be unique; {twice} declared more than once")
        population = [f.name for f in value if f.population]
        if len(population) != 1:
            raise ValueError(
                f"exactly one features feed must have 'population: true' (the daily list of "
                f"enrolled learners); found {population or 'none'}"
            )
        return value

    @model_validator(mode="after")
    def _sources_are_feature_feeds(self) -> FeatureSettings:
        declared = [f.name for f in self.feeds if not f.is_labels]
        if self.sources is None:
            object.__setattr__(self, "sources", tuple(declared))
            return self
        for name in self.sources:
            if name not in declared:
                raise ValueError(
                    f"source {name!r} is not a declared features feed{did_you_mean(name, declared)};"
                    f" declared: {declared} (declare it under features.feeds)"
                )
        if self.population not in self.sources:
            raise ValueError(f"sources must include the population feed {self.population!r}")
        return self

    def feed(self, name: str) -> FeedSettings:
        """The declaration of feed ``name``; an unknown name lists the declared ones."""
        for feed in self.feeds:
            if feed.name == name:
                return feed
        names = [f.name for f in self.feeds]
        raise ConfigError(
            f"unknown feed {name!r}{did_you_mean(name, names)}; declared feeds: {names} "
            "(declare it under features.feeds in bantay.yaml)"
        )

    @property
    def population(self) -> str:
        return next(f.name for f in self.feeds if f.population)

    def feature_columns(self) -> dict[str, ColumnSpec]:
        """Every declared column of the features feeds (what feature views can read)."""
        return {n: c for f in self.feeds if not f.is_labels for n, c in f.columns.items()}


@lru_cache(maxsize=1)
def _default_features() -> FeatureSettings:
    return FeatureSettings()


class TrialSpec(_Strict):
    """One estimator family in the search space; each list in ``params`` is a grid axis."""

    name: str = Field(description="the entry's name in reports", examples=["logreg"])
    estimator: Literal["logistic_regression", "hist_gradient_boosting"] = Field(
        description="the estimator family"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="estimator parameters; a list is a grid axis"
    )


def _default_search_space() -> list[TrialSpec]:
    return [
        TrialSpec(name="logreg", estimator="logistic_regression", params={"C": [0.1, 1.0]}),
        TrialSpec(
            name="hgb",
            estimator="hist_gradient_boosting",
            params={"max_depth": [3, 6], "learning_rate": [0.1]},
        ),
    ]


class ModelSettings(_Strict):
    """One model: its features, label, training schedule, gate, approval and drift policy."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{1,62}$",
        description="the model's name (DAG ids, S3 keys, e-mails)",
        examples=["learner_risk"],
    )
    feature_service: str = Field(
        "learner_risk_v1", description="the Feast feature service the model reads (must be applied)"
    )
    label: str = Field("at_risk", description="the label column in label_source")
    label_source: str = Field(LABEL_SOURCE, description="the feed whose column is the label")
    label_delay_days: int = Field(
        14,
        ge=0,
        le=365,
        description="days from observing a learner to their label maturing in label_source; "
        "training windows and drift guards must allow for it",
    )
    approval: Literal["auto", "manual"] = Field(
        "auto", description="auto, or manual (approve in the Airflow UI, Required Actions)"
    )
    training_schedule: str | None = Field(
        "0 4 * * 0", description="cron (UTC) of scheduled retrains, or 'manual'"
    )
    training_window_days: int = Field(
        56, ge=7, le=730, description="days of matured labels a training run reads"
    )
    split: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15), description="train, validation, test fractions (temporal), summing to 1"
    )
    search_space: list[TrialSpec] = Field(
        default_factory=_default_search_space,
        description="estimator families and grids a retrain tries",
    )
    gate: GateConfig = GateConfig()
    slices: list[str] = Field(
        default_factory=lambda: ["region", "grade_band", "parent_abroad"],
        description="columns (or grade_band) whose recall gap the gate's fairness check bounds",
    )
    drift: DriftConfig = Field(default_factory=DriftConfig)
    explain: ExplainConfig = Field(
        default_factory=ExplainConfig,
        description="reason codes per learner and the global explanation of each version",
    )
    output_ids: Literal["id", "pseudonym"] = Field(
        "id",
        description="how learners leave bantay in the batch output: id (downstream reads the "
        "prediction log, predictions/<model>/), or pseudonym (scoring also writes "
        "outputs/<model>/date=D/ with learner_pseudonym, a keyed hash under the erasure key, "
        "and no id; the prediction log stays inside bantay)",
    )
    recipients: list[str] = Field(
        default_factory=lambda: ["oncall@example.org"],
        description="who receives the drift and retrain e-mails",
    )

    _features: FeatureSettings | None = PrivateAttr(None)

    _schedule = field_validator("training_schedule")(_manual)
    _recipients = field_validator("recipients")(_recipients)

    @field_validator("search_space")
    @classmethod
    def _grid_is_valid(cls, value: list[TrialSpec]) -> list[TrialSpec]:
        # Estimator parameters are checked per estimator (names, types, ranges) at load time.
        try:
            expand_search_space(value)
        except SearchSpaceError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _drift_target_is_the_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("drift", {}), dict):
            drift = dict(data.get("drift") or {})
            drift.setdefault("target_column", data.get("label", "at_risk"))
            data = {**data, "drift": drift}
        return data

    @property
    def feeds(self) -> FeatureSettings:
        """The declared feeds this model reads (``features`` of its :class:`Settings`; a model
        block built on its own sees the default feeds)."""
        return self._features or _default_features()

    @property
    def columns(self) -> dict[str, ColumnSpec]:
        """The declared columns of every features feed: the kinds, ranges and allowed values of
        this model's features."""
        return self.feeds.feature_columns()

    @property
    def reasons(self) -> ExplainConfig:
        """The ``explain`` block over the declared columns (their domains and protected ones)."""
        return self.explain.for_columns(self.columns)

    @property
    def categorical(self) -> frozenset[str]:
        """Declared feature columns that are categories rather than quantities."""
        return frozenset(n for n, c in self.columns.items() if c.is_categorical)

    def declared_features(self) -> dict[str, list[str]]:
        """Every declared feature column split by kind, for a version that recorded none of its
        own (versions record the features of their service in the manifest)."""
        cat = self.categorical
        return {
            "numerical": [n for n in self.columns if n not in cat],
            "categorical": [n for n in self.columns if n in cat],
        }

    @model_validator(mode="after")
    def _split_sums_to_one(self) -> ModelSettings:
        if abs(sum(self.split) - 1.0) > 1e-6 or min(self.split) <= 0:
            raise ValueError(
                f"split {list(self.split)} must be three positive fractions summing to 1"
            )
        return self


class StorageSettings(_Strict):
    """Where serving artifacts and reports live (credentials: Connection ``aws_default``)."""

    bucket: str = Field(
        "bantay",
        pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$",
        description="S3 bucket for model versions, the production pointer and reports",
    )
    prefix: str = Field("bantay", description="key prefix inside the bucket")
    aws_conn_id: str = Field("aws_default", description="Airflow connection of S3")
    presign_expiry_hours: int = Field(
        72, ge=1, le=168, description="lifetime of the report link in the on-call e-mail"
    )

    @field_validator("prefix")
    @classmethod
    def _clean_prefix(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/") or not value.strip("/"):
            raise ValueError(f"prefix {value!r} must be a relative key prefix like 'bantay/prod'")
        return value.strip("/")


class FeastSettings(_Strict):
    """Which ``feature_store.yaml`` to use; paths and URLs inside it come from ``${ENV}``."""

    repo_path: Path = Field(
        Path("feature_repo"),
        description="the Feast feature repo folder (relative: to the project root)",
    )
    store_yaml: str = Field(
        "feature_store.yaml",
        description="the feature_store.yaml inside it (a profile: redis, spark)",
    )


class NotifySettings(_Strict):
    smtp_conn_id: str = Field("smtp_default", description="Airflow connection of the SMTP server")
    sender: str = Field("bantay@example.org", description="From: address of bantay's e-mails")
    failure_recipients: list[str] = Field(
        default_factory=lambda: ["data-eng@example.org"],
        description="who receives task-failure e-mails",
    )
    airflow_base_url: str = Field(
        "http://localhost:8080", description="base URL of the Airflow UI, for links in e-mails"
    )

    _failure_recipients = field_validator("failure_recipients")(_recipients)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _recipients([value])[0]


class UISettings(_Strict):
    """Who sees learners on the bantay pages (by Airflow role, matched without regard to case;
    with Airflow's simple auth manager the role is the one given each user)."""

    learner_roles: list[str] = Field(
        default_factory=lambda: ["Admin", "Op"],
        description="roles that may open a learner's page (scores, reasons); others get 403",
    )
    learner_id_roles: list[str] = Field(
        default_factory=lambda: ["Admin"],
        description="of those, the roles shown learner ids; the others see the learner's "
        "pseudonym (HMAC under the erasure key, as in the pseudonymous output) instead",
    )
    learner_days: int = Field(
        30, ge=1, le=366, description="days of the prediction log a learner's page shows"
    )


class Settings(BaseSettings):
    """All of bantay's non-secret configuration."""

    model_config = SettingsConfigDict(
        env_prefix="BANTAY_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        yaml_file=None,
    )

    project: str = Field("bantay", description="project name (Feast project, asset names)")
    home: Path = Field(
        Path("var"),
        description="local state: run folders, SQLite files, e-mail outbox (BANTAY_HOME)",
    )
    data_dir: Path | None = Field(
        None, description="the lake: raw/, accepted/, quarantine/, predictions/ (default home/data)"
    )
    features: FeatureSettings = FeatureSettings()
    models: list[ModelSettings] = Field(
        default_factory=lambda: [ModelSettings(name="learner_risk")], min_length=1
    )
    storage: StorageSettings = StorageSettings()
    feast: FeastSettings = FeastSettings()
    notify: NotifySettings = NotifySettings()
    ui: UISettings = UISettings()
    retention: RetentionConfig = RetentionConfig()
    registry_conn_id: str = Field(
        "bantay_registry", description="Airflow connection of the registry database"
    )
    registry_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the registry; wins over registry_conn_id"
    )
    drift_schedule: str | None = Field(
        "0 6 * * *", description="cron (UTC) of the daily drift check, or 'manual'"
    )
    nightly_deadline: str | None = Field(
        "0 8 * * *",
        description="cron (UTC): when the previous day's features, scoring and drift check must be "
        "done; bantay_deadline e-mails which DAG is late. 'manual' turns it off",
    )

    _drift_schedule = field_validator("drift_schedule")(_manual)
    _nightly_deadline = field_validator("nightly_deadline")(_manual)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            sources.append(ProjectFile(settings_cls, yaml_file=path))
        return tuple(sources)

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[ModelSettings]) -> list[ModelSettings]:
        names = [m.name for m in value]
        if len(names) != len(set(names)):
            raise ValueError(f"model names must be unique, got {names}")
        return value

    @model_validator(mode="after")
    def _models_see_the_feeds(self) -> Settings:
        """Each model sees the declared feeds (kinds, ranges, allowed values, the population);
        whether its label is a declared column of a labels feed is ``bantay config check``'s."""
        for m in self.models:
            m._features = self.features
        return self

    @model_validator(mode="after")
    def _retention_keeps_what_runs_read(self) -> Settings:
        """Retention never deletes the days a training run or the drift check reads."""
        kept = self.retention
        for m in self.models:
            need = {
                "accepted": m.training_window_days + m.label_delay_days,
                "predictions": max(
                    m.label_delay_days + m.drift.label_lookback_days, m.drift.reference_days
                ),
            }
            for kind, days in need.items():
                period = getattr(kept, kind)
                if period is not None and period < days:
                    raise ValueError(
                        f"retention.{kind} is {period} days, but model {m.name!r} reads {days} "
                        f"days of them (training window, label delay, drift windows): set "
                        f"retention.{kind} to at least {days}, or null"
                    )
        return self

    def model(self, name: str) -> ModelSettings:
        """The settings of model ``name``; unknown names list the configured ones."""
        for m in self.models:
            if m.name == name:
                return m
        names = [m.name for m in self.models]
        raise ConfigError(
            f"unknown model {name!r}{did_you_mean(name, names)}; configured models: {names} "
            "(add it under 'models:' in bantay.yaml)"
        )

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        # Resolved once, when settings load: a task that changes directory keeps the same paths.
        home = Path(self.home).expanduser().resolve()
        object.__setattr__(self, "home", home)
        data = Path(self.data_dir).expanduser().resolve() if self.data_dir else home / "data"
        object.__setattr__(self, "data_dir", data)
        return self

    @property
    def layout(self) -> Layout:
        """Every path of this deployment (see :mod:`bantay.layout`)."""
        return Layout(home=self.home, data=self.data_dir)

    @property
    def raw_dir(self) -> Path:
        return self.layout.raw

    @property
    def quarantine_dir(self) -> Path:
        return self.layout.quarantine

    @property
    def predictions_dir(self) -> Path:
        return self.layout.predictions


def load_settings(**overrides: Any) -> Settings:
    """Parse and validate settings; raise ``ConfigError`` naming every bad key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_error(exc, Settings)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        source = os.environ.get("BANTAY_CONFIG", "bantay.yaml")
        raise ConfigError(f"{source}{where}: {problem}; fix the YAML syntax there") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached: parse once per worker process)."""
    return load_settings()
