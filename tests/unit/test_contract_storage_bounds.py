"""Bounds agree with storage: no contract admits a value a column it lands in cannot store.

Every SQL migration (runtime/migrations and each service's) is read into its columns' types;
STORED, a reviewed table, says which contract field lands in which column. For each pair the
contract's bound must fit the column: integer width (int2/int4/int8), numeric precision and
scale, varchar length, and for text and jsonb no NUL (PostgreSQL refuses it) and a btree-indexable
length where the column is indexed. The issue this guards: a quantity of 2^31 the contract
admitted was "issued" but never recorded, the ledger's column being a 32-bit integer (R3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from contracts import claims as c, messages as m
from contracts.catalogue import MESSAGE_TYPES
from tests.support.bounds import Limits, limits, limits_of

ROOT = Path(__file__).resolve().parents[2]
MIGRATION_DIRS = {
    "runtime": "runtime/migrations",
    "core": "core/migrations",
    "issuer": "issuer/migrations",
    "customs_gateway": "customs_gateway/migrations",
    "claims_worker": "claims_worker/migrations",
    "notifier": "notifier/migrations",
}
INT_RANGES = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
#: Largest btree index entry PostgreSQL accepts (a third of an 8 kB page, less the tuple header).
BTREE_MAX_BYTES = 2704

# --- the reviewed table: contract field -> (service, table, column) --------------------------------

STORED: list[tuple[type[BaseModel], str, str]] = [
    # core: the ledger (core/repository.py)
    (m.CarnetIssued, "carnet_number", "core.carnets.carnet_number"),
    (m.CarnetIssued, "nga", "core.carnets.home_country"),
    (m.CarnetIssued, "countries", "core.carnets.countries"),
    (m.CarnetIssued, "holder_id", "core.carnets.holder_id"),
    (m.CarnetIssued, "representative_ids", "core.carnets.representative_ids"),
    (m.CarnetIssued, "general_list_digest", "core.carnets.general_list_digest"),
    (m.CarnetIssued, "request_id", "core.carnets.request_id"),
    (m.SealedDocument, "ciphertext", "core.carnets.document"),
    (m.DuplicateCarnetIssued, "duplicate_number", "core.carnets.successor"),
    (m.CarnetItem, "item_number", "core.items.item_number"),
    (m.CarnetItem, "quantity", "core.items.quantity"),
    (m.CarnetItem, "origin_country", "core.items.origin_country"),
    (m.ItemLocation, "country", "core.items.country"),
    (m.DeclarationSubmitted, "items", "core.declarations.items"),
    (m.DeclarationSubmitted, "sequence", "core.declarations.sequence"),
    (m.DeclarationSubmitted, "transaction_code", "core.declarations.transaction_code"),
    (m.DeclarationSubmitted, "declared_by", "core.declarations.declared_by"),
    (m.DeclarationSubmitted, "country", "core.declarations.country"),
    (m.CustomsCommitPosted, "items", "core.transactions.items"),
    (m.CustomsCommitPosted, "office_id", "core.transactions.office_id"),
    (m.CustomsCommitPosted, "officer_id", "core.transactions.officer_id"),
    (m.CustomsCommitPosted, "country", "core.transactions.country"),
    (m.TransactionRecorded, "sequence", "core.transactions.sequence"),
    (m.Reason, "message", "core.transactions.reasons"),
    (m.Reason, "field", "core.transactions.reasons"),
    (m.CancellationPosted, "cancellation_code", "core.transactions.cancellation_code"),
    (m.CancellationPosted, "officer_id", "core.transactions.cancelled_by"),
    (m.CancellationPosted, "reason", "core.transactions.cancellation_reason"),
    (m.CancellationPosted, "transaction_code", "core.cancellation_requests.transaction_code"),
    (m.CancellationPosted, "officer_id", "core.cancellation_requests.officer_id"),
    (m.TrustListPublished, "sequence", "core.trust_lists.sequence"),
    (m.TrustedKey, "kid", "core.signing_keys.kid"),
    (m.CountryPolicyUpdated, "version", "core.country_policies.version"),
    (m.CountryPolicyUpdated, "published_by", "core.country_policies.published_by"),
    (m.CountryPolicyEntry, "note", "core.country_policies.document"),
    # issuer (issuer/repository.py)
    (m.SealedIssuanceRequested, "request_id", "issuer.requests.request_id"),
    (m.DuplicateRequested, "request_id", "issuer.requests.request_id"),
    (m.IssuanceRequested, "request_id", "issuer.requests.request_id"),
    (m.SealedIssuanceRequested, "nga", "issuer.requests.nga"),
    (m.Reason, "message", "issuer.requests.response"),
    (m.SealedIssuanceRequested, "issuing_association", "issuer.carnets.issuing_association"),
    (m.SealedIssuanceRequested, "holder_id", "issuer.carnets.holder_id"),
    (m.ReplacementRequested, "original_number", "issuer.carnets.original_number"),
    # customs gateway
    (m.CustomsCommitPosted, "items", "customs_gateway.commits.items"),
    (m.CustomsCommitPosted, "transaction_code", "customs_gateway.commits.transaction_code"),
    (m.CustomsCommitPosted, "office_id", "customs_gateway.commits.office_id"),
    (m.CustomsCommitPosted, "officer_id", "customs_gateway.commits.officer_id"),
    (m.CustomsCommitPosted, "refusal_reason", "customs_gateway.commits.refusal_reason"),
    (m.CarnetStatusChanged, "rule", "customs_gateway.carnet_status.rule"),
    (m.CarnetStatusChanged, "reason", "customs_gateway.carnet_status.reason"),
    (m.CarnetStatusChanged, "successor", "customs_gateway.carnet_status.successor"),
    (m.TrustListPublished, "sequence", "customs_gateway.trust_list_state.sequence"),
    (m.TrustListPublished, "anchor_kid", "customs_gateway.trust_list_state.anchor_kid"),
    (m.CarnetIssued, "countries", "customs_gateway.carnets_on_file.countries"),
    (m.ItemLocation, "item_number", "customs_gateway.transferred_items.item_number"),
    (m.ItemLocationsChanged, "successor", "customs_gateway.transferred_items.successor"),
    (m.CancellationPosted, "reason", "customs_gateway.cancellations.reason"),
    # claims worker
    (m.ItemLocation, "item_number", "claims_worker.watched_items.item_number"),
    (m.ItemLocation, "country", "claims_worker.watched_items.country"),
    (m.TransactionRecorded, "office_timezone", "claims_worker.watched_items.office_timezone"),
    (c.SeizureStarted, "seizure_id", "claims_worker.seizures.seizure_id"),
    (c.SeizureStarted, "items", "claims_worker.seizures.items"),
    (c.SeizureStarted, "office_timezone", "claims_worker.seizures.office_timezone"),
    (c.ItemDuty, "item_number", "claims_worker.duty_assessments.item_number"),
    (c.ItemDuty, "currency", "claims_worker.duty_assessments.currency"),
    (c.ItemDuty, "duties", "claims_worker.duty_assessments.duties"),
    (c.ItemDuty, "claimed", "claims_worker.duty_assessments.claimed"),
    (c.PaymentMade, "amounts", "claims_worker.claims.paid"),
    (m.ConfirmationRequested, "recipient_ids", "claims_worker.recipients.recipient_ids"),
    (c.ClaimNoticeIssued, "items", "claims_worker.claims.items"),
    (c.ReminderRequested, "days_before", "claims_worker.deadlines.days_before"),
    (c.ReminderRequested, "items", "claims_worker.deadlines.items"),
    # notifier
    (m.ConfirmationRequested, "recipient_ids", "notifier.deliveries.recipient_id"),
    (m.ConfirmationRequested, "carnet_number", "notifier.deliveries.carnet_number"),
    (m.ConfirmationDelivered, "attempts", "notifier.deliveries.attempts"),
]


# --- the migrations, read --------------------------------------------------------------------------


@dataclass
class Column:
    type: str
    index_columns: int = 0  # columns of the widest btree index it is part of; 0: not indexed


def _split_top(body: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in body:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


_TYPE = re.compile(
    r"^(double precision|character varying\s*\(\d+\)|varchar\s*\(\d+\)|char\s*\(\d+\)|"
    r"numeric\s*\(\s*\d+\s*,\s*\d+\s*\)|numeric|\w+)(\[\])?",
    re.I,
)
_CONSTRAINT_WORDS = {"primary", "unique", "check", "foreign", "constraint", "exclude"}


def _column(defn: str) -> tuple[str, str, bool] | None:
    words = defn.strip().split(None, 1)
    if len(words) < 2 or words[0].lower() in _CONSTRAINT_WORDS:
        return None
    typ = _TYPE.match(words[1].strip())
    assert typ, f"unread column type in {defn!r}"
    rest = words[1].lower()
    return words[0], re.sub(r"\s+", " ", typ.group(0).lower()), "primary key" in rest or " unique" in f" {rest}"


def read_migrations(root: Path = ROOT) -> dict[str, Column]:
    """`service.table.column` -> its type and indexing, after every migration in order."""
    cols: dict[str, Column] = {}
    for service, folder in MIGRATION_DIRS.items():
        for path in sorted((root / folder).glob("*.sql")):
            sql = re.sub(r"--[^\n]*", "", path.read_text())
            for stmt in sql.split(";"):
                s = " ".join(stmt.split())
                if t := re.match(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+) \((.*)\)$", s, re.I):
                    table = t.group(1)
                    for part in _split_top(t.group(2)):
                        if col := _column(part):
                            cols[f"{service}.{table}.{col[0]}"] = Column(col[1], 1 if col[2] else 0)
                        elif k := re.match(r"\s*(?:PRIMARY KEY|UNIQUE) \(([^)]*)\)", part, re.I):
                            _indexed(cols, service, table, k.group(1))
                elif t := re.match(r"ALTER TABLE (?:ONLY )?(\w+) (.*)$", s, re.I):
                    for part in _split_top(t.group(2)):
                        if a := re.match(r"\s*ADD COLUMN (?:IF NOT EXISTS )?(.*)$", part, re.I):
                            col = _column(a.group(1))
                            assert col, part
                            cols[f"{service}.{t.group(1)}.{col[0]}"] = Column(col[1], 1 if col[2] else 0)
                elif t := re.match(r"CREATE (?:UNIQUE )?INDEX (?:\w+ )?ON (\w+) (?:USING btree )?\(([^)]*)\)", s, re.I):
                    _indexed(cols, service, t.group(1), t.group(2))
                elif t := re.match(r"DROP TABLE (?:IF EXISTS )?(\w+)$", s, re.I):
                    prefix = f"{service}.{t.group(1)}."
                    cols = {name: c for name, c in cols.items() if not name.startswith(prefix)}
    return cols


def _indexed(cols: dict[str, Column], service: str, table: str, names: str) -> None:
    members = [n.strip().split()[0] for n in names.split(",")]
    for name in members:
        col = cols[f"{service}.{table}.{name}"]
        col.index_columns = max(col.index_columns, len(members))


# --- the check -------------------------------------------------------------------------------------


#: Strings a NUL-free pattern must refuse; a pattern that admits NUL admits one of these.
NUL_PROBES = ("\x00", "a\x00", "A\x00", "0\x00", "a\x00a")


def _admits_nul(lim: Limits) -> bool:
    return lim.pattern is None or any(re.fullmatch(lim.pattern, probe) for probe in NUL_PROBES)


def problems(lim: Limits, column: Column, where: str) -> list[str]:
    """Why a value within `lim` might not fit `column`; empty when it always fits."""
    typ, array = column.type.removesuffix("[]"), column.type.endswith("[]")
    if lim.kind in (list, tuple, set, frozenset) and (array or typ in ("text", "integer", "smallint", "bigint")):
        assert lim.item is not None
        lim = lim.item  # an array column, or one row per element
    if lim.kind is dict:
        assert lim.key is not None and lim.item is not None
        return problems(lim.key, column, where) + problems(lim.item, column, where)
    out: list[str] = []
    if typ in INT_RANGES:
        top = INT_RANGES[typ]
        if lim.kind is not int:
            out.append(f"{where}: {lim.kind} stored in {typ}")
        elif lim.le is None or lim.le > top or lim.ge is None or lim.ge < -top - 1:
            out.append(f"{where}: admits {lim.ge}..{lim.le}, {typ} holds {-top - 1}..{top}")
    elif num := re.fullmatch(r"numeric\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", typ):
        p, s = int(num.group(1)), int(num.group(2))
        largest = Decimal(10) ** (p - s) - Decimal(10) ** -s
        if lim.max_digits is None or lim.max_digits > p or lim.decimal_places is None or lim.decimal_places > s:
            out.append(f"{where}: {lim.max_digits} digits, {lim.decimal_places} places in numeric({p}, {s})")
        if lim.le is None or Decimal(lim.le) > largest:
            out.append(f"{where}: admits up to {lim.le}, numeric({p}, {s}) holds {largest}")
    elif var := re.fullmatch(r"(?:character varying|varchar|char)\s*\((\d+)\)", typ):
        if lim.max_length is None or lim.max_length > int(var.group(1)):
            out.append(f"{where}: {lim.max_length} characters in {typ}")
    if lim.kind is str and (typ in ("text", "jsonb") or var):
        if _admits_nul(lim):
            out.append(f"{where}: admits NUL, which PostgreSQL {typ} refuses")
        if column.index_columns and (
            lim.max_length is None or lim.max_length * 4 > BTREE_MAX_BYTES // column.index_columns
        ):
            out.append(f"{where}: {lim.max_length} characters may exceed a btree index entry")
    elif lim.kind is str and typ not in ("text", "jsonb"):
        out.append(f"{where}: str stored in {typ}")
    return out


def test_every_mapped_column_exists_in_the_migrations() -> None:
    cols = read_migrations()
    assert [where for _, _, where in STORED if where not in cols] == []
    assert [f"{model.__name__}.{name}" for model, name, _ in STORED if name not in model.model_fields] == []


def test_the_migrations_are_read() -> None:
    cols = read_migrations()
    assert cols["core.items.quantity"].type == "integer"
    assert cols["claims_worker.duty_assessments.duties"].type == "numeric(18, 2)"
    assert cols["core.declarations.items"].type == "integer[]"
    assert cols["issuer.requests.request_id"].index_columns == 2  # PRIMARY KEY (nga, request_id)
    assert cols["core.declarations.transaction_code"].index_columns == 1


@pytest.mark.parametrize("model,name,where", STORED, ids=[f"{mo.__name__}.{n}->{w}" for mo, n, w in STORED])
def test_r3_every_contract_field_fits_the_column_it_is_stored_in(model: type[BaseModel], name: str, where: str) -> None:
    assert problems(limits(model, name), read_migrations()[where], f"{model.__name__}.{name}") == []


def test_every_integer_and_numeric_column_a_contract_feeds_is_in_the_table() -> None:
    """A new integer or numeric column named like a contract field must be reviewed into STORED."""
    fields = {name for mo in _models() for name in mo.model_fields}
    mapped = {where for _, _, where in STORED}
    numeric = {
        k
        for k, col in read_migrations().items()
        if col.type.split("(")[0].removesuffix("[]") in (*INT_RANGES, "numeric") and k.rsplit(".", 1)[1] in fields
    }
    assert sorted(numeric - mapped - UNFED) == []


#: Integer columns named like a contract field but written by the service itself, not from a message.
UNFED = {
    "claims_worker.deadlines.attempts",
    "notifier.delivery_attempts.attempt",
    "notifier.dead_letters.attempts",
    "core.history.position",
}


def _models() -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = list(MESSAGE_TYPES.values())
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name in model.model_fields:
            lim = limits(model, name)
            for part in (lim, lim.item):
                if part is not None and isinstance(part.kind, type) and issubclass(part.kind, BaseModel):
                    todo.append(part.kind)
    return seen


# --- the check can fail ----------------------------------------------------------------------------


class _Wrong(BaseModel):
    quantity: int = Field(ge=1, le=2**31)  # the bound before: one over int4
    amount: Decimal = Field(ge=0, le=Decimal("99999999999999999.99"), max_digits=19, decimal_places=2)
    name: str = Field(max_length=100)  # no character bound: NUL passes
    code: str = Field(max_length=2000, pattern=r"^[A-Z]+$")


def test_the_check_fails_on_a_deliberately_wrong_bound() -> None:
    assert problems(limits(_Wrong, "quantity"), Column("integer"), "q") == [
        "q: admits 1..2147483648, integer holds -2147483648..2147483647"
    ]
    assert len(problems(limits(_Wrong, "amount"), Column("numeric(18, 2)"), "a")) == 2
    assert problems(limits(_Wrong, "name"), Column("text"), "n") == ["n: admits NUL, which PostgreSQL text refuses"]
    assert problems(limits(_Wrong, "name"), Column("varchar(50)"), "n")[0] == "n: 100 characters in varchar(50)"
    assert problems(limits(_Wrong, "code"), Column("text", index_columns=1), "c") == [
        "c: 2000 characters may exceed a btree index entry"
    ]
    assert (
        problems(
            limits_of(m.CarnetItem.model_fields["quantity"].annotation, m.CarnetItem.model_fields["quantity"].metadata),
            Column("smallint"),
            "s",
        )
        != []
    )


def test_the_check_passes_the_bounds_as_declared() -> None:
    assert problems(limits(m.CarnetItem, "quantity"), Column("integer"), "q") == []
    assert problems(limits(c.ItemDuty, "duties"), Column("numeric(18, 2)"), "d") == []
