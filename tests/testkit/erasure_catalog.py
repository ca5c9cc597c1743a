"""A small catalog with personal data for erasure tests: customers (CSV) and their tickets (NDJSON, with
a labeling plan), one subject planted in several spellings, layers and versions.

The subject, customer 1007, is in every place erasure must reach: two customer records (a duplicate
account 1099 that the contract quarantines), the second delivery spells her e-mail in capitals, her
tickets quote her e-mail and phone in their bodies. No other row mentions any of her values, so a byte
scan for them after erasure must come up empty. Everyone else's values are distinct too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

SUBJECT_ID = 1007
DUPLICATE_ID = 1099  # the subject's second account, quarantined (segment "vip")
SUBJECT_NAME = "Кузнецова Анна Сергеевна"
SUBJECT_EMAIL = "Anna.Kuznetsova@example.org"
SUBJECT_PHONE = "+7 912 345-67-89"
# Forms a byte scan looks for: as typed, normalised, and as written in free text.
SUBJECT_FORMS = (
    SUBJECT_NAME,
    "Кузнецова Анна",
    SUBJECT_EMAIL,
    SUBJECT_EMAIL.lower(),
    SUBJECT_EMAIL.upper(),
    SUBJECT_PHONE,
    "+79123456789",
    "89123456789",
    "79123456789",
    "912 345-67-89",
)
OTHER_ID = 1003  # someone who must stay untouched

CUSTOMERS_PASSPORT = """\
name: customers
title: Customers
owner: owner@example.com
steward: steward@example.com
purpose: Customer service and billing.
legal_basis: contract
update_frequency: daily
sensitivity: restricted
retention_days: 365
contract: contracts/customers.yaml
connector:
  kind: csv
  path: data/customers.csv
  delimiter: ","
  header: true
  null_values: [""]
"""

CUSTOMERS_CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: customers
version: 1.0.0
schema:
  - name: customers
    properties:
      - name: customer_id
        logicalType: integer
        required: true
        unique: true
        primaryKey: true
      - name: full_name
        logicalType: string
        pii: person_name
        masking: hash
      - name: email
        logicalType: string
        pii: email
        masking: {rule: hash, key: default}
      - name: phone
        logicalType: string
        pii: phone
        masking: {rule: partial, keep_last: 2}
      - name: city
        logicalType: string
      - name: segment
        logicalType: string
        required: true
      - name: comment
        logicalType: string
        pii: free_text
        masking: redact_pii
    quality:
      - id: known_segment
        expectation: expect_column_values_to_be_in_set
        kwargs: {column: segment, value_set: [retail, smb]}
        severity: error
        action: quarantine
"""

TICKETS_PASSPORT = """\
name: tickets
title: Tickets
owner: owner@example.com
steward: steward@example.com
purpose: Measure support load and route problems.
legal_basis: legitimate_interests
update_frequency: daily
sensitivity: confidential
retention_days: 365
contract: contracts/tickets.yaml
connector:
  kind: ndjson
  path: data/tickets.ndjson
"""

TICKETS_CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: tickets
version: 1.0.0
schema:
  - name: tickets
    properties:
      - name: ticket_id
        logicalType: string
        required: true
        unique: true
        primaryKey: true
      - name: customer_id
        logicalType: integer
        required: true
      - name: channel
        logicalType: string
      - name: subject
        logicalType: string
        pii: free_text
        masking: redact_pii
      - name: body
        logicalType: string
        pii: free_text
        masking: redact_pii
"""

PLAN = """\
name: {name}
version: 1
title: Ticket topics
dataset: tickets
label_config: labeling/topics.xml
label: topic
fields: [subject, body, customer_id]
key: ticket_id
sample:
  size: 1000
  strategy: random
  seed: 3
overlap: 2
"""

LABEL_CONFIG = """\
<View>
  <Text name="subject" value="$subject"/>
  <Text name="body" value="$body"/>
  <Choices name="topic" toName="body" choice="single">
    <Choice value="delivery"/>
    <Choice value="payment"/>
    <Choice value="other"/>
  </Choices>
</View>
"""

_SURNAMES = ["Смирнов", "Попов", "Лебедев", "Морозов", "Волков", "Соколов", "Новиков", "Фёдоров"]
_NAMES = ["Олег", "Илья", "Пётр", "Глеб", "Лев", "Марк", "Фёдор", "Тимур"]
_CITIES = ["Тверь", "Казань", "Пермь", "Омск"]


@dataclass(frozen=True)
class Customer:
    customer_id: int
    full_name: str
    email: str
    phone: str
    city: str
    segment: str
    comment: str


def customers(second_delivery: bool = False) -> list[Customer]:
    """Twenty customers: the subject (1007), her duplicate account (1099, quarantined) and 1015 (also
    quarantined, so a quarantine object holds someone else too). The second delivery adds 1021 and
    spells the subject's e-mail in capitals."""
    rows = []
    for i in range(20):
        cid = 1000 + i
        surname, name = _SURNAMES[i % 8], _NAMES[(i * 3) % 8]
        rows.append(
            Customer(
                cid,
                f"{surname} {name} {i:02d}",
                f"user{cid}@mail.example.com",
                f"+7 900 {cid:03d}-{i:02d}-{i + 10:02d}",
                _CITIES[i % 4],
                "partner" if cid == 1015 else ("smb" if i % 3 == 0 else "retail"),
                "Перезвонить вечером" if i % 2 else "",
            )
        )
    rows[5] = Customer(**{**rows[5].__dict__, "comment": "Первая строка,\nвторая строка"})  # a quoted newline
    email = SUBJECT_EMAIL.upper() if second_delivery else SUBJECT_EMAIL
    rows[7] = Customer(
        SUBJECT_ID,
        SUBJECT_NAME,
        email,
        SUBJECT_PHONE,
        "Самара",
        "retail",
        "Просила не звонить, ответ, на почту",
    )
    rows.append(Customer(DUPLICATE_ID, SUBJECT_NAME, SUBJECT_EMAIL, SUBJECT_PHONE, "Самара", "vip", ""))
    if second_delivery:
        rows.append(
            Customer(
                1021, "Орлов Денис 21", "user1021@mail.example.com", "+7 900 1021-21-31", "Омск", "retail", ""
            )
        )
    return rows


def customers_csv(second_delivery: bool = False) -> str:
    """As a CRM would export it: quoted where needed, CRLF line ends."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["customer_id", "full_name", "email", "phone", "city", "segment", "comment"])
    for c in customers(second_delivery):
        writer.writerow([c.customer_id, c.full_name, c.email, c.phone, c.city, c.segment, c.comment])
    return buffer.getvalue()


def tickets_ndjson() -> str:
    """Thirty tickets; three are the subject's, one quoting her e-mail and one her phone in the body."""
    lines = []
    for i in range(30):
        cid = 1000 + (i % 20)
        if cid == SUBJECT_ID:
            cid = 1000 + (i % 20) + 1
        body = f"Где мой заказ номер {5000 + i}?"
        lines.append(
            {
                "ticket_id": f"T-{i:04d}",
                "customer_id": cid,
                "channel": "email",
                "subject": "Доставка",
                "body": body,
            }
        )
    lines[3] = {
        "ticket_id": "T-0003",
        "customer_id": SUBJECT_ID,
        "channel": "email",
        "subject": "Возврат",
        "body": f"Прошу вернуть деньги, пишите на {SUBJECT_EMAIL.lower()}",
    }
    lines[11] = {
        "ticket_id": "T-0011",
        "customer_id": SUBJECT_ID,
        "channel": "phone",
        "subject": "Оплата",
        "body": f"Перезвоните мне: {SUBJECT_PHONE}",
    }
    lines[25] = {
        "ticket_id": "T-0025",
        "customer_id": SUBJECT_ID,
        "channel": "chat",
        "subject": "Доставка",
        "body": "Курьер не приехал",
    }
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


SUBJECT_TICKETS = ("T-0003", "T-0011", "T-0025")


def write_erasure_catalog(root: Path, plan_name: str = "topics") -> Path:
    """The catalog under `root` (customers, tickets and the labeling plan `plan_name`); returns it."""
    for folder in ("sources", "contracts", "data", "labeling"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "sources" / "customers.yaml").write_text(CUSTOMERS_PASSPORT, encoding="utf-8")
    (root / "contracts" / "customers.yaml").write_text(CUSTOMERS_CONTRACT, encoding="utf-8")
    (root / "sources" / "tickets.yaml").write_text(TICKETS_PASSPORT, encoding="utf-8")
    (root / "contracts" / "tickets.yaml").write_text(TICKETS_CONTRACT, encoding="utf-8")
    (root / "labeling" / "topics.yaml").write_text(PLAN.format(name=plan_name), encoding="utf-8")
    (root / "labeling" / "topics.xml").write_text(LABEL_CONFIG, encoding="utf-8")
    (root / "data" / "customers.csv").write_bytes(customers_csv().encode("utf-8"))
    (root / "data" / "tickets.ndjson").write_text(tickets_ndjson(), encoding="utf-8")
    return root


def deliver_again(root: Path) -> None:
    """The CRM's next export: one more customer, the subject's e-mail now in capitals."""
    (root / "data" / "customers.csv").write_bytes(customers_csv(second_delivery=True).encode("utf-8"))
