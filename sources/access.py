"""Who can see what: ``access.yaml`` at the catalog root, its roles, their grants and who holds them.

A grant says which dataset sensitivities (the passport's ``sensitivity``) a role may read and, for each
column, whether the role sees it in clear, masked, or not at all, chosen by the column's PII kind, then
its classification, then the grant's default. "Clear" only exists where the contract keeps a reversible
form (``encrypt``): such columns are decrypted with the key for the role; every other masking rule is
one-way, so "clear" there means the masked value. Raw and quarantined data are readable by no role.

`resolve_access` turns the policy into each role's datasets and columns; the flows build one physically
separate output per role from that (see ``flows.access``), so what a role may not read is never where
its session can reach it.

Labels datasets (``labels_<dataset>``, published by the labeling flows) follow the dataset they label:
a role that reads the dataset reads its labels, at the dataset's sensitivity, the row key shown as it is
in the dataset (decrypted too, so joins match) and the labeling output by the grant's default. A
``labeling`` grant reads what labeling plans send, and labels are not sent: annotators label on their
own, without the verdicts of others.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from contracts.errors import CatalogError
from contracts.model import Classification, EncryptRule, PiiKind, StrictModel
from contracts.yamlio import read_yaml
from sources.catalog import parse_model
from sources.passport import Sensitivity, Slug  # noqa: TC001 - pydantic needs them at run time

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from contracts.diagnostics import Problem
    from contracts.model import Property
    from contracts.yamlio import YamlDocument
    from sources.catalog import Catalog, Source

ACCESS_FILE = "access.yaml"
USER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$"


class Visibility(StrEnum):
    """How a role sees a column: in clear (decrypted where the contract encrypts), masked, or not at all."""

    CLEAR = "clear"
    MASKED = "masked"
    NONE = "none"


class Grant(StrictModel):
    """What one role may read."""

    description: str | None = None
    sensitivity: list[Sensitivity] = Field(
        default_factory=list, description="Dataset sensitivities (passport `sensitivity`) the role may read."
    )
    datasets: list[Slug] | None = Field(
        None, description="Only these datasets (among those its sensitivities allow); all when omitted."
    )
    labeling: bool = Field(
        False, description="Only the datasets and columns the catalog's labeling plans send to annotators."
    )
    columns: Visibility = Field(
        Visibility.MASKED,
        description="Columns no `pii` or `classification` entry decides: clear, masked or none.",
    )
    pii: dict[PiiKind, Visibility] = Field(
        default_factory=dict, description="By the column's PII kind (contract `pii`); decides first."
    )
    classification: dict[Classification, Visibility] = Field(
        default_factory=dict, description="By the column's classification (contract `classification`)."
    )

    @field_validator("sensitivity")
    @classmethod
    def _once_each(cls, value: list[Sensitivity]) -> list[Sensitivity]:
        if len(set(value)) != len(value):
            raise ValueError("a sensitivity is listed twice")
        return value


class Group(StrictModel):
    """People who hold the same roles."""

    members: list[str] = Field(min_length=1, description="User names (LOCKGATE_USER or the OS login).")
    roles: list[Slug] = Field(min_length=1)


class AccessPolicy(StrictModel):
    """``access.yaml``: the roles, their grants, and which users and groups hold them."""

    schema_: str | None = Field(None, alias="$schema", description="Editor hint; ignored.")
    roles: dict[Slug, Grant] = Field(description="Role name → what it may read.")
    users: dict[str, list[Slug]] = Field(default_factory=dict, description="User name → roles.")
    groups: dict[Slug, Group] = Field(default_factory=dict, description="Group name → members and roles.")

    @model_validator(mode="after")
    def _user_names(self) -> AccessPolicy:
        names = [*self.users, *(m for g in self.groups.values() for m in g.members)]
        bad = [n for n in names if not re.fullmatch(USER_PATTERN, n)]
        if bad:
            raise ValueError(f"{len(bad)} user name(s) are not plain login names (letters, digits, _.@+-)")
        return self


@dataclass(frozen=True)
class ColumnAccess:
    """One curated column as a role sees it; `reason` says which entry of the grant decided."""

    name: str
    visibility: Visibility
    reason: str
    decrypt_key: str | None = None  # the encrypt rule's key name, when the role sees the column decrypted


@dataclass(frozen=True)
class DatasetAccess:
    """One dataset for one role: readable or not (and why), and its columns."""

    dataset: str
    sensitivity: str
    pii: bool
    readable: bool
    reason: str
    columns: list[ColumnAccess] = field(default_factory=list)

    @property
    def visible(self) -> list[ColumnAccess]:
        return [c for c in self.columns if c.visibility is not Visibility.NONE]


@dataclass(frozen=True)
class LabelsDataset:
    """A labels dataset the labeling flows publish: keyed like the dataset it labels, plus their output."""

    name: str  # labels_<dataset>
    dataset: str  # the source it labels
    key: str  # the row key, a curated column of that source
    columns: tuple[str, ...]  # the labeling output beside the key


@dataclass(frozen=True)
class RoleAccess:
    """Everything one role may read, and the users who hold it."""

    role: str
    description: str | None
    users: list[str]
    datasets: list[DatasetAccess]


def load_access(catalog: Catalog) -> AccessPolicy | None:
    """``access.yaml`` of the catalog, checked against its sources; None when the catalog has none.

    Raises `CatalogError` with every problem, each at its file, line and column.
    """
    path = catalog.root / ACCESS_FILE
    if not os.path.lexists(path):
        return None
    document = read_yaml(path, root=catalog.root)
    policy, problems = parse_model(AccessPolicy, document)
    if policy is not None:
        problems = _cross_check(policy, catalog, document)
    if problems:
        raise CatalogError(problems)
    return policy


def _cross_check(policy: AccessPolicy, catalog: Catalog, document: YamlDocument) -> list[Problem]:
    """Roles that users and groups name must exist; datasets that grants name must be sources."""
    problems: list[Problem] = []
    roles = sorted(policy.roles)
    known = sorted(s.name for s in catalog.sources)
    for user, held in policy.users.items():
        for i, role in enumerate(held):
            if role not in policy.roles:
                problems.append(document.problem(("users", user, i), _unknown_role(role, roles)))
    for name, group in policy.groups.items():
        for i, role in enumerate(group.roles):
            if role not in policy.roles:
                problems.append(document.problem(("groups", name, "roles", i), _unknown_role(role, roles)))
    for name, grant in policy.roles.items():
        for i, dataset in enumerate(grant.datasets or []):
            if dataset not in known:
                problems.append(
                    document.problem(
                        ("roles", name, "datasets", i),
                        f"no source '{dataset}' in this catalog; it has: {', '.join(known)}",
                    )
                )
    return problems


def _unknown_role(role: str, roles: list[str]) -> str:
    return f"unknown role '{role}'; access.yaml defines: {', '.join(roles) or 'none'}"


def role_users(policy: AccessPolicy) -> dict[str, list[str]]:
    """Role → the users who hold it, directly or through a group, sorted."""
    held: dict[str, set[str]] = {role: set() for role in policy.roles}
    for user, roles in policy.users.items():
        for role in roles:
            held[role].add(user)
    for group in policy.groups.values():
        for role in group.roles:
            held[role].update(group.members)
    return {role: sorted(users) for role, users in held.items()}


def resolve_access(
    catalog: Catalog,
    policy: AccessPolicy,
    labeling: Mapping[str, set[str]] | None = None,
    labels: Sequence[LabelsDataset] = (),
) -> list[RoleAccess]:
    """Each role's datasets and columns; `labeling` is dataset → the columns labeling plans send,
    `labels` the labels datasets the plans publish (each listed right after the dataset it labels)."""
    users = role_users(policy)
    return [
        RoleAccess(
            role=role,
            description=grant.description,
            users=users[role],
            datasets=[
                access
                for source in catalog.sources
                for access in _with_labels(source, grant, labeling or {}, labels)
            ],
        )
        for role, grant in sorted(policy.roles.items())
    ]


def _with_labels(
    source: Source, grant: Grant, labeling: Mapping[str, set[str]], labels: Sequence[LabelsDataset]
) -> list[DatasetAccess]:
    access = _dataset_access(source, grant, labeling)
    return [
        access,
        *(_labels_access(source, access, grant, of) for of in labels if of.dataset == source.name),
    ]


def _labels_access(
    source: Source, access: DatasetAccess, grant: Grant, labels: LabelsDataset
) -> DatasetAccess:
    """The labels of a dataset as a role sees them: through the dataset's own access."""
    pii = any(p.pii is not None for p in source.contract.columns if p.name == labels.key)
    base = functools.partial(DatasetAccess, labels.name, access.sensitivity, pii)
    if grant.labeling:
        return base(
            readable=False, reason="labels are not what labeling plans send: annotators label on their own"
        )
    if not access.readable:
        return base(readable=False, reason=f"labels of {access.dataset}, denied: {access.reason}")
    key = next((c for c in access.columns if c.name == labels.key), None)
    columns = [
        ColumnAccess(labels.key, key.visibility, f"as in {access.dataset}: {key.reason}", key.decrypt_key)
        if key is not None
        else ColumnAccess(labels.key, Visibility.NONE, f"not a curated column of {access.dataset}")
    ]
    output = Visibility.NONE if grant.columns is Visibility.NONE else Visibility.CLEAR
    reason = f"the grant's default: {grant.columns.value}" + (
        "; labels are not masked" if output is Visibility.CLEAR else ""
    )
    columns += [ColumnAccess(name, output, reason) for name in labels.columns]
    if not any(c.visibility is not Visibility.NONE for c in columns):
        return base(readable=False, reason="no column of it is visible", columns=columns)
    return base(readable=True, reason=f"labels of {access.dataset}: {access.reason}", columns=columns)


def _dataset_access(source: Source, grant: Grant, labeling: Mapping[str, set[str]]) -> DatasetAccess:
    level = source.passport.sensitivity
    pii = any(p.pii is not None for p in source.contract.columns)
    base = functools.partial(DatasetAccess, source.name, level.value, pii)
    if level not in grant.sensitivity:
        granted = ", ".join(s.value for s in grant.sensitivity) or "none"
        return base(readable=False, reason=f"sensitivity {level.value} not granted ({granted})")
    if grant.datasets is not None and source.name not in grant.datasets:
        return base(readable=False, reason="not among the role's datasets")
    sent = labeling.get(source.name) if grant.labeling else None
    if grant.labeling and sent is None:
        return base(readable=False, reason="no labeling plan sends this dataset")
    columns = [
        _column_access(prop, grant, sent)
        for prop in source.contract.columns
        if prop.masking is None or prop.masking.rule != "drop"  # dropped columns never reach curated
    ]
    if not any(c.visibility is not Visibility.NONE for c in columns):
        return base(readable=False, reason="no column of it is visible", columns=columns)
    return base(readable=True, reason=f"sensitivity {level.value} granted", columns=columns)


def _column_access(prop: Property, grant: Grant, sent: set[str] | None) -> ColumnAccess:
    if sent is not None and prop.name not in sent:
        return ColumnAccess(prop.name, Visibility.NONE, "not sent by any labeling plan")
    if prop.pii is not None and prop.pii in grant.pii:
        wanted, reason = grant.pii[prop.pii], f"pii {prop.pii.value}"
    elif prop.classification is not None and prop.classification in grant.classification:
        wanted, reason = (
            grant.classification[prop.classification],
            f"classification {prop.classification.value}",
        )
    else:
        wanted, reason = grant.columns, "the grant's default"
    reason = f"{reason}: {wanted.value}"
    if wanted is Visibility.NONE:
        return ColumnAccess(prop.name, wanted, reason)
    if prop.masking is None:  # nothing masked: the curated value is the value
        return ColumnAccess(prop.name, Visibility.CLEAR, f"{reason}; the contract masks nothing here")
    if wanted is Visibility.MASKED:
        return ColumnAccess(prop.name, wanted, reason)
    if isinstance(prop.masking, EncryptRule):
        return ColumnAccess(prop.name, Visibility.CLEAR, f"{reason} (decrypted)", prop.masking.key)
    # one-way rules: the masked value is all there is
    return ColumnAccess(prop.name, Visibility.MASKED, f"{reason}, but {prop.masking.rule} is one-way")


__all__ = [
    "ACCESS_FILE",
    "AccessPolicy",
    "ColumnAccess",
    "DatasetAccess",
    "Grant",
    "Group",
    "LabelsDataset",
    "RoleAccess",
    "Visibility",
    "load_access",
    "resolve_access",
    "role_users",
]
