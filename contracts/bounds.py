"""The one place contract bounds live: every field of every message uses a type from here.

Each type carries its length, range and characters, so an identifier, a country or an amount
has the same bound wherever it occurs. The bounds agree with storage and transport, and tests
hold them there rather than care: `tests/unit/test_contract_storage_bounds.py` checks every
field against the column it lands in (integer width, numeric precision), and
`tests/unit/test_contract_message_size.py` builds the largest valid instance of every message
and proves it fits one Kafka record (`runtime.settings.Settings.kafka_max_message_bytes`) with
margin.

Characters: no identifier or text admits NUL or another control character (PostgreSQL refuses
NUL in text and jsonb; the others have no business in a name or an id). Only prose a person
writes (an officer's reason) admits tab, line feed and carriage return.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

#: PostgreSQL `integer` (int4), the width of every integer column a contract value lands in.
INT4_MAX = 2_147_483_647
#: PostgreSQL `numeric(18, 2)`, the claims worker's amounts.
MONEY_DIGITS, MONEY_PLACES = 18, 2
MONEY_MAX = Decimal("9999999999999999.99")

#: Items on one general list. A sealed request carries each item's number, quantity, origin and
#: category beside a sealed document holding every description and value: at 1,000 items the
#: largest request still fits one Kafka record with margin (9,999 did not; the test above says so).
MAX_ITEMS = 1000
#: Highest item number (R3 numbers run 1..n, so with MAX_ITEMS items no higher number is valid).
MAX_ITEM_NUMBER = 9999
#: Wallets one carnet is shared with: the holder plus 31 representatives (the sealed key limit).
MAX_RECIPIENTS = 32
MAX_REPRESENTATIVES = MAX_RECIPIENTS - 1
#: Countries of use on one carnet; ISO 3166-1 has 249 codes.
MAX_COUNTRIES = 250
#: Reasons in one refusal; beyond it the rest are folded into one last reason (see `Reasons`).
MAX_REASONS = 100
#: Currencies in one set of amounts.
MAX_CURRENCIES = 20
#: Set numbers within a kind of crossing (R8) and days of a stay or a reminder: far above any real one.
MAX_VOUCHER = 9999
MAX_DAYS = 3660

# --- characters ----------------------------------------------------------------------------

#: Identifiers: ASCII letters and digits first, then also . _ : @ + - (no space, no slash, no control).
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$"
#: One line of text in any script: no C0 or C1 control character, no line or paragraph separator.
LINE = r"^[^\x00-\x1F\x7F-\x9F\u2028\u2029]*$"
#: Prose a person writes: as LINE, plus tab, line feed and carriage return.
PROSE = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
COUNTRY = r"^[A-Z]{2}$"
CURRENCY = r"^[A-Z]{3}$"
CARNET_NUMBER = r"^[A-Z]{2}[0-9]{10}$"
SHA256_HEX = r"^[0-9a-f]{64}$"
KID_HEX = r"^[0-9a-f]{16}$"
BASE64URL = r"^[A-Za-z0-9_-]+$"
#: A compact JWS (RFC 7515 section 7.1): base64url segments joined by dots; the verifier checks its structure.
COMPACT_JWS = r"^[A-Za-z0-9_.-]+$"
#: IANA time zone names ("Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5").
TIME_ZONE = r"^[A-Za-z][A-Za-z0-9_+/-]*$"
#: A canonical transaction code: 12 Crockford Base32 symbols and a check symbol (contracts.txcode).
TRANSACTION_CODE = r"^[0-9A-HJKMNP-TV-Z]{12}[0-9A-HJKMNP-TV-Z*~$=U]$"
#: A rule id ("R4") or a short rule label ("contract", "customs", "cancellation").
RULE = r"^[A-Za-z][A-Za-z0-9_-]*$"


def ident(max_length: int) -> Any:
    """An identifier of at most `max_length` characters (IDENTIFIER)."""
    return Annotated[str, Field(min_length=1, max_length=max_length, pattern=IDENTIFIER)]


def line(max_length: int, min_length: int = 1) -> Any:
    """One line of text of at most `max_length` characters (LINE)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=LINE)]


def prose(max_length: int, min_length: int = 1) -> Any:
    """Text a person writes, newlines allowed, of at most `max_length` characters (PROSE)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=PROSE)]


Country = Annotated[str, Field(pattern=COUNTRY, min_length=2, max_length=2)]
Currency = Annotated[str, Field(pattern=CURRENCY, min_length=3, max_length=3)]
CarnetNumber = Annotated[str, Field(pattern=CARNET_NUMBER, min_length=12, max_length=12)]
Sha256Hex = Annotated[str, Field(pattern=SHA256_HEX, min_length=64, max_length=64)]
KeyId = Annotated[str, Field(pattern=KID_HEX, min_length=16, max_length=16)]
#: The largest valid trust list (32 keys at their bounds) as an ES256 compact JWS over its RFC 8785 JSON is
#: about 230,000 characters (tests/unit/test_trustlist_jws.py measures it); real lists are a few hundred.
TRUST_LIST_JWS_MAX = 240_000
CompactJws = Annotated[str, Field(pattern=COMPACT_JWS, min_length=5, max_length=TRUST_LIST_JWS_MAX)]
TimeZone = Annotated[str, Field(pattern=TIME_ZONE, min_length=1, max_length=64)]
TransactionCode = Annotated[str, Field(pattern=TRANSACTION_CODE, min_length=13, max_length=13)]
RuleId = Annotated[str, Field(pattern=RULE, min_length=1, max_length=30)]
ReasonCode = Annotated[str, Field(pattern=RULE, min_length=1, max_length=60)]
#: R4's second signal: a Harmonized System tariff code, 4 to 10 digits, dots allowed ("2208.30", "8525.89.10").
HS_CODE = r"^[0-9]{4}(?:\.?[0-9]{2}){0,3}$"
TariffCode = Annotated[str, Field(pattern=HS_CODE, min_length=4, max_length=13)]
MessageType = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]*$", min_length=1, max_length=60)]

WalletId = ident(64)
RequestId = ident(100)
AssociationId = ident(50)
OfficeId = ident(64)
OfficerId = ident(64)
Reference = ident(200)
#: Names, addresses, descriptions and explanations: one line each.
ShortText = line(200)
Text = line(500)

ItemNumber = Annotated[int, Field(ge=1, le=MAX_ITEM_NUMBER)]
#: R3: pieces of one line; the ledger's column is a 32-bit integer, so no more than 2^31 - 1.
Quantity = Annotated[int, Field(ge=1, le=INT4_MAX)]
VoucherNumber = Annotated[int, Field(ge=1, le=MAX_VOUCHER)]
Counter32 = Annotated[int, Field(ge=1, le=INT4_MAX)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
#: Amounts as PostgreSQL numeric(18, 2) holds them.
Money = Annotated[Decimal, Field(ge=0, le=MONEY_MAX, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)]
#: Weights (kg) and volumes (l) of a general-list line, to the gram or millilitre.
Measure = Annotated[Decimal, Field(ge=0, le=Decimal("999999999.999"), max_digits=12, decimal_places=3)]

ItemNumbers = Annotated[list[ItemNumber], Field(max_length=MAX_ITEMS)]
Countries = Annotated[list[Country], Field(min_length=1, max_length=MAX_COUNTRIES)]
Representatives = Annotated[list[WalletId], Field(max_length=MAX_REPRESENTATIVES)]
Recipients = Annotated[list[WalletId], Field(min_length=1, max_length=MAX_RECIPIENTS)]
#: An RFC 7517 public JWK: a few short members (kty, crv, x, y, alg, use, kid).
Jwk = Annotated[
    dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=16)],
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:+/=-]*$", max_length=512)],
    ],
    Field(min_length=1, max_length=10),
]

#: Longest explanation a refusal carries; longer texts composed by a service are cut with "…".
REASON_MESSAGE_MAX = 1000


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > REASON_MESSAGE_MAX:
        return value[: REASON_MESSAGE_MAX - 1] + "…"
    return value


ReasonMessage = Annotated[str, BeforeValidator(_cut), Field(min_length=1, max_length=REASON_MESSAGE_MAX, pattern=LINE)]


def fold_reasons(value: Any) -> Any:
    """At most MAX_REASONS reasons: the first MAX_REASONS - 1 kept, the rest counted in one last reason.

    A refusal of a 1,000-item list could name every item; the NGA gets the first ones in full and
    the count of the others, and the answer still fits one record."""
    if not isinstance(value, list) or len(value) <= MAX_REASONS:
        return value
    kept, rest = value[: MAX_REASONS - 1], value[MAX_REASONS - 1 :]
    rules = sorted({str(_get(r, "rule")) for r in rest})
    first = rules[0] if len(rules) == 1 else "several"
    return kept + [
        {
            "rule": first,
            "code": "more_reasons",
            "message": f"and {len(rest)} more reasons (rules {', '.join(rules)})"[:REASON_MESSAGE_MAX],
        }
    ]


def _get(reason: Any, name: str) -> Any:
    return reason.get(name) if isinstance(reason, dict) else getattr(reason, name, None)


_NOT_IN_LINE = re.compile(r"[\x00-\x1F\x7F-\x9F\u2028\u2029]")


def to_line(text: str, max_length: int) -> str:
    """`text` made to fit a LINE field of `max_length`: control characters shown as "?", cut with "…"."""
    text = _NOT_IN_LINE.sub("?", text)
    return text if len(text) <= max_length else text[: max_length - 1] + "…"
