"""The topic catalogue: names, partition counts, keys, who writes and who reads.

Topics are created explicitly at start with these partition counts: the embedded broker drops
produces to topics that do not exist, and auto-created topics get the wrong partition count.
Every consumed topic has a dead-letter topic (`<name>.dlq`) for messages that cannot be parsed
or break the contract; they keep the original bytes and headers plus the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from contracts import claims as c, messages as m

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    messages: tuple[type[m.Payload], ...]
    description: str = ""
    #: An audit trail no one waits on: its writers publish it in batches, within two seconds of the commit
    #: (runtime/outbox.py), instead of one produce request per record.
    audit: bool = False

    @property
    def dead_letter(self) -> str:
        return self.name + DLQ_SUFFIX


REQUEST_MESSAGES: tuple[type[m.Payload], ...] = (
    m.IssuanceRequested,
    m.SealedIssuanceRequested,
    m.DuplicateRequested,
    m.ReplacementRequested,
)
#: Requests of one NGA: one topic per NGA, so a Kafka ACL lets each NGA write only its own, and the
#: issuer takes the NGA from the topic (a record whose body names another NGA is refused).
ISSUANCE_REQUESTS_PREFIX = "ata.issuance.requests."


def issuance_requests(nga: str) -> Topic:
    """`ata.issuance.requests.<nga>.v1` (lower-case NGA code), keyed by the NGA's request id."""
    return Topic(
        f"{ISSUANCE_REQUESTS_PREFIX}{nga.lower()}.v1",
        6,
        "request_id",
        ("nga",),
        ("issuer",),
        REQUEST_MESSAGES,
        f"Requests of NGA {nga}: carnets, duplicates (R5) and replacements (R6). A record whose `nga` is not "
        f"{nga} is refused (IssuanceRejected, rule 'sender', code 'nga_mismatch').",
    )


def nga_of_request_topic(name: str) -> str | None:
    """The NGA whose request topic `name` is (upper case), or None (the shared topic, any other topic)."""
    if not (name.startswith(ISSUANCE_REQUESTS_PREFIX) and name.endswith(".v1")):
        return None
    code = name[len(ISSUANCE_REQUESTS_PREFIX) : -len(".v1")]
    return code.upper() if len(code) == 2 and code.isascii() and code.isalpha() and code.islower() else None


#: The shared request topic of before the per-NGA topics: nothing binds a record on it to its `nga` field.
#: Still consumed until SHARED_REQUESTS_END (each record counted and logged as deprecated), then removed.
SHARED_REQUESTS_END = date(2027, 3, 31)
ISSUANCE_REQUESTS = Topic(
    "ata.issuance.requests.v1",
    6,
    "request_id",
    ("nga",),
    ("issuer",),
    REQUEST_MESSAGES,
    f"DEPRECATED, read until {SHARED_REQUESTS_END.isoformat()}: write to ata.issuance.requests.<nga>.v1. NGAs ask "
    "for carnets, duplicates (R5) and replacements (R6). IssuanceRequested (plain document) is still parsed but "
    "refused: the document must travel sealed (SealedIssuanceRequested).",
)
ISSUANCE_EVENTS = Topic(
    "ata.issuance.events.v1",
    6,
    "carnet_number (issued) or request_id (rejected)",
    ("issuer",),
    ("core", "nga", "customs_gateway"),
    (m.CarnetIssued, m.IssuanceRejected, m.DuplicateCarnetIssued, m.ReplacementCarnetIssued),
    "Answers to issuance requests; the core builds its ledger from the issued carnets.",
)
ISSUANCE_OUTCOMES = Topic(
    "ata.issuance.outcomes.v1",
    6,
    "original carnet_number",
    ("core",),
    ("issuer",),
    (m.CarnetSuccessionDecided,),
    "The core's decision on a duplicate or replacement; the issuer forwards it to the NGA.",
)
#: Responses to one NGA's requests: one topic per NGA, so a Kafka ACL can let each NGA read only its own.
ISSUANCE_RESPONSES_PREFIX = "ata.issuance.responses."
RESPONSE_MESSAGES: tuple[type[m.Payload], ...] = (m.CarnetIssued, m.IssuanceRejected, m.CarnetSuccessionDecided)


def issuance_responses(nga: str) -> Topic:
    """`ata.issuance.responses.<nga>.v1`, keyed by the NGA's request id; the issuer creates it at start."""
    return Topic(
        f"{ISSUANCE_RESPONSES_PREFIX}{nga.lower()}.v1",
        6,
        "request_id",
        ("issuer",),
        (),
        RESPONSE_MESSAGES,
        f"Answers to the requests of NGA {nga}, one per request id.",
    )


DECLARATIONS = Topic(
    "ata.declarations.v1",
    6,
    "carnet_number",
    ("core",),
    (),
    (m.DeclarationSubmitted, m.TokenIssued, m.DeclarationRefused),
    "Declarations prepared by holders and the tokens issued for them (audit trail, published in batches within two "
    "seconds of the declaration). No service consumes it: a gateway asks the core for a declaration by its "
    "transaction code when an officer types one (docs/gateway-subscriptions.md).",
    audit=True,
)
CUSTOMS_COMMITS = Topic(
    "ata.customs.commits.v1",
    6,
    "carnet_number",
    ("customs_gateway",),
    ("core",),
    (m.CustomsCommitPosted, m.ItemsAccountedFor, m.CancellationPosted),
    "Officers' commits and refusals of scanned declarations, cancellations of committed ones, and duty receipts (R17).",
)
TRANSACTIONS = Topic(
    "ata.transactions.v1",
    6,
    "carnet_number",
    ("core",),
    ("claims_worker",),
    (m.TransactionRecorded, m.ItemLocationsChanged, m.TransactionCancelled, m.CancellationRefused),
    "Transactions recorded in the core's ledger, cancellations, and items settled or moved outside a crossing, "
    "with their locations. CancellationRefused is no longer sent here (the gateways read it on "
    "ata.customs.ledger.v1); it stays listed for the records already on the topic.",
)
#: The ledger's few events a customs gateway acts on, without the crossings' TransactionRecorded
#: (docs/gateway-subscriptions.md): low volume, so one partition; keyed by carnet, so a carnet's events stay in order.
CUSTOMS_LEDGER = Topic(
    "ata.customs.ledger.v1",
    1,
    "carnet_number",
    ("core",),
    ("customs_gateway",),
    (m.ItemLocationsChanged, m.TransactionCancelled, m.CancellationRefused),
    "For the customs gateways: items a replacement took over (R6; ItemLocationsChanged with cause 'replacement'), "
    "and the core's decision on each cancellation the gateways posted. The first two are also on "
    "ata.transactions.v1 for the claims worker.",
)
NOTIFICATION_REQUESTS = Topic(
    "ata.notifications.requests.v1",
    6,
    "carnet_number",
    ("core", "claims_worker"),
    ("notifier", "claims_worker"),
    (m.ConfirmationRequested, c.ReminderRequested),
    "Confirmations and notices to push to holders, representatives and NGA systems. The claims worker reads the "
    "confirmations to learn whom to remind of a final date (R19).",
)
NOTIFICATION_EVENTS = Topic(
    "ata.notifications.events.v1",
    6,
    "carnet_number",
    ("notifier",),
    (),
    (m.ConfirmationDelivered,),
    "What the notifier delivered (audit trail, published in batches within two seconds of the delivery).",
    audit=True,
)
#: The trust-list topic's one key (core/usecases/keys.py publishes every list under it).
TRUST_LIST_KEY = "trust-list"
SIGNING_KEYS = Topic(
    "ata.trust.keys.v1",
    1,
    TRUST_LIST_KEY,
    ("core",),
    ("customs_gateway",),
    (m.TrustListPublished, m.SigningKeyPublished),
    "The signed list of keys for offline token verification at the customs gateways. SigningKeyPublished "
    "(unsigned, version 1 of this topic) is still accepted on the wire but no longer trusted.",
)
CARNET_STATUS = Topic(
    "ata.trust.carnets.v1",
    6,
    "carnet_number",
    ("core",),
    ("customs_gateway",),
    (m.CarnetStatusChanged,),
    "Carnets voided by a duplicate or closed: gateways refuse their open tokens offline (R5, R7). Goods a "
    "replacement took over need no message here: the ledger refuses their stale tokens (R11).",
)
COUNTRY_POLICY = Topic(
    "ata.admin.country-policy.v1",
    1,
    "version",
    ("operator",),
    ("core",),
    (m.CountryPolicyUpdated,),
    "Country policy documents (R15, R16); the newest applied version wins.",
)

CLAIMS_CUSTOMS_ACTIONS = Topic(
    "ata.claims.customs-actions.v1",
    6,
    "carnet_number",
    ("customs",),
    ("claims_worker",),
    (c.SeizureStarted, c.SeizureEnded, c.DutyAssessed, c.RefundDecided, c.DiscrepancyFound),
    "What customs do on goods not re-exported: seizures (R19), duty assessments per item (R22, R25), refund "
    "decisions (R23).",
)
CLAIMS_NGA_RESPONSES = Topic(
    "ata.claims.nga-responses.v1",
    6,
    "carnet_number",
    ("nga",),
    ("claims_worker",),
    (c.EvidenceSubmitted, c.PaymentMade, c.RefundRequested),
    "The guaranteeing associations' answers to claims: evidence (R21), payment (R22), refund requests (R23).",
)
CLAIMS_NGA_NOTICES = Topic(
    "ata.claims.nga-notices.v1",
    6,
    "carnet_number",
    ("claims_worker",),
    ("nga",),
    (c.ClaimNoticeIssued, c.DutyMemoIssued),
    "Claim notices (R20, R21) and duty memos (R22, R25) addressed to the guaranteeing association.",
)
CLAIMS_EVENTS = Topic(
    "ata.claims.events.v1",
    6,
    "carnet_number",
    ("claims_worker",),
    ("customs", "nga", "audit"),
    (c.ClaimStateChanged, c.ClaimActionRefused, c.RegularizationFeeFlagged),
    "Every transition of every claim (R19-R25), inputs the rules refused, and regularization-fee flags (R27).",
)

TOPICS: tuple[Topic, ...] = (
    ISSUANCE_REQUESTS,
    ISSUANCE_EVENTS,
    ISSUANCE_OUTCOMES,
    DECLARATIONS,
    CUSTOMS_COMMITS,
    TRANSACTIONS,
    CUSTOMS_LEDGER,
    NOTIFICATION_REQUESTS,
    NOTIFICATION_EVENTS,
    SIGNING_KEYS,
    CARNET_STATUS,
    COUNTRY_POLICY,
    CLAIMS_CUSTOMS_ACTIONS,
    CLAIMS_NGA_RESPONSES,
    CLAIMS_NGA_NOTICES,
    CLAIMS_EVENTS,
)


def audit_topics() -> frozenset[str]:
    """The names of the topics published in batches (`Topic.audit`)."""
    return frozenset(t.name for t in TOPICS if t.audit)


def nga_topics(ngas: Iterable[str]) -> tuple[Topic, ...]:
    """Each NGA's request topic and response topic, in the order of `ngas`."""
    return tuple(t for nga in ngas for t in (issuance_requests(nga), issuance_responses(nga)))


def _with_dead_letters(topics: Iterable[Topic]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in topics:
        out[t.name] = t.partitions
        if t.consumers:
            out[t.dead_letter] = 1
    return out


def nga_topic_partitions(ngas: Iterable[str]) -> dict[str, int]:
    """The per-NGA topics of `ngas` (the issuer's registry), dead-letter topics included."""
    return _with_dead_letters(nga_topics(ngas))


def all_topic_partitions(ngas: Iterable[str] = ()) -> dict[str, int]:
    """Every topic to create at start, dead-letter topics included; with `ngas`, their per-NGA topics too."""
    return _with_dead_letters(TOPICS) | nga_topic_partitions(ngas)
