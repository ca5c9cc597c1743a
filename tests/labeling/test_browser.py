"""An annotator's real path through Label Studio's own web UI, in headless Chromium.

API tests post annotations as admin with ``completed_by``; they cannot show that a person invited by
the organisation's link can sign up, find the project, see only masked text and submit a label that
Lockgate then collects. This test walks the whole path: a ticket with personal data goes through the
ingest flow (masked on the way), ``label dispatch`` sends it to the session's Label Studio server, an
invited annotator labels it in a browser, and ``label collect`` gates and publishes the label.

Chromium is Debian's (``make test`` installs it): Playwright's own browser download does not work here.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import polars as pl
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from flows.label import label_collect, label_dispatch
from flows.pipeline import ingest
from labeling.server import TOKEN_ENV, URL_ENV
from storage.curated import read_current
from storage.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

    from labeling.server import LabelStudioServer
    from labeling.studio import Studio

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]
REPO = Path(__file__).resolve().parents[2]

CHROMIUM = Path("/usr/bin/chromium")
# No GPU, no sandbox (we run as root in CI), and nothing that phones home: the machine is offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous for a 2-core CI box rendering a React app, yet bounded: a stuck page fails in seconds, not hours.
STEP_TIMEOUT_MS = 30_000

# The raw values never reach Label Studio: the task holds what the contract's masking makes of them.
RAW_BODY = "Меня зовут Мария Петрова, мой номер +7 912 345-67-89. Код подтверждения не приходит."
RAW_VALUES = ("Мария", "Петрова", "+7 912 345-67-89", "345-67-89")
TICKET = {
    "ticket_id": "T-000042",
    "customer_id": 100042,
    "created_at": "2024-03-01T10:00:00Z",
    "channel": "chat",
    "priority": "normal",
    "subject": "Не приходит код подтверждения",
    "body": RAW_BODY,
    "status": "open",
    "csat": None,
}
CHOSEN = "account"


@pytest.fixture
def one_ticket_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The example catalog with one support ticket, and a labeling plan of this test's own."""
    catalog = Path(shutil.copytree(REPO / "examples" / "catalog", tmp_path / "catalog"))
    (catalog / "data" / "support_tickets.ndjson").write_text(json.dumps(TICKET, ensure_ascii=False) + "\n")
    name = f"browser{uuid.uuid4().hex[:8]}"
    plan = catalog / "labeling" / "support_topics.yaml"
    text = plan.read_text(encoding="utf-8").replace("name: support_topics", f"name: {name}")
    text = text.replace("overlap: 3", "overlap: 2").replace("size: 60", "size: 1")
    plan.write_text(text.replace("gold:\n  path: labeling/support_topics_gold.csv", ""), encoding="utf-8")
    monkeypatch.setenv("LOCKGATE_HASH_KEY", secrets.token_hex(32))
    return catalog, name


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright; missing Chromium is a broken setup, so it fails, not skips."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium), "
            "or install it by hand; Playwright's own browser download does not work here",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def evidence_on_failure(page: Page, directory: Path) -> Iterator[None]:
    """Turn any failure into an assertion naming a screenshot and the page's HTML, taken at that moment.

    A failed browser step says little by itself ("timeout waiting for locator"); what the page showed
    (an error banner, a spinner, a login form) usually says why.
    """
    try:
        yield
    except (AssertionError, PlaywrightError) as exc:
        shot, html = directory / "failure.png", directory / "failure.html"
        try:
            page.screenshot(path=shot, full_page=True)
            html.write_text(page.content(), encoding="utf-8")
            where = f"screenshot: {shot}\npage HTML: {html}\nURL: {page.url}"
        except PlaywrightError as shot_exc:
            where = f"no screenshot ({shot_exc})"
        raise AssertionError(f"{exc}\n\n{where}") from exc


def test_invited_annotator_labels_masked_text_in_the_browser(
    label_studio: LabelStudioServer,
    studio: Studio,
    browser: Browser,
    one_ticket_catalog: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog, plan = one_ticket_catalog
    lake = str(tmp_path / "lake")
    monkeypatch.setenv(URL_ENV, label_studio.url)
    monkeypatch.setenv(TOKEN_ENV, label_studio.token)
    ingest(catalog=str(catalog), lake=lake, sources=["support_tickets"])
    masked = read_current(open_store(lake), "support_tickets")["body"][0]
    assert "[NAME]" in masked and "[PHONE]" in masked, masked
    [sent] = label_dispatch(catalog=str(catalog), lake=lake, plans=[plan])
    assert sent.created == 1
    [task_id] = studio.task_keys(sent.project_id).values()

    run = uuid.uuid4().hex[:8]
    email, password = f"annotator-{run}@example.com", f"pw-{uuid.uuid4().hex}"
    invite = urljoin(label_studio.url + "/", studio.invite_link())
    title = f"{plan} v1"

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        with evidence_on_failure(page, tmp_path):
            # Sign up through the invite link: the server refuses signup without it.
            page.goto(invite)
            page.locator("input[name=email]").fill(email)
            page.locator("input[name=password]").fill(password)
            page.get_by_role("button", name="Create Account").click()
            page.wait_for_url(lambda url: "/user/signup" not in url)

            # Find the project in the list, as an annotator would (newest first, so it is on page one),
            # and open the labeling stream.
            page.goto(urljoin(label_studio.url + "/", "projects/"))
            page.get_by_text(title, exact=True).first.click()
            expect(page).to_have_url(re.compile(rf"/projects/{sent.project_id}/"))
            page.get_by_role("button", name="Label All Tasks").click()

            # The masked text is shown, and nothing of the raw one is anywhere in the page.
            expect(page.get_by_text(masked, exact=True).first).to_be_visible()
            for shown in (page.content(), page.locator("body").inner_text()):
                leaked = [value for value in RAW_VALUES if value in shown]
                assert not leaked, f"unmasked values on the labeling page: {leaked}"

            choice = page.get_by_role("checkbox", name=re.compile(rf"^{CHOSEN}"))
            choice.check()
            expect(choice).to_be_checked()
            with page.expect_response(
                lambda r: r.request.method == "POST" and f"/api/tasks/{task_id}/annotations" in r.url
            ) as submitted:
                page.get_by_role("button", name="Submit current annotation").click()
            assert submitted.value.status == 201, submitted.value.text()
    finally:
        context.close()

    collected = studio.annotations(sent.project_id, from_name="topic").filter(pl.col("task_id") == task_id)
    rows = collected.select("item_id", "annotator", "label").to_dicts()
    assert rows == [{"item_id": TICKET["ticket_id"], "annotator": email, "label": CHOSEN}], collected

    # One annotation of the two the plan asks for: label collect sees it and waits for the second.
    [waiting] = label_collect(catalog=str(catalog), lake=lake, plans=[plan])
    assert waiting.annotations == 1 and waiting.items["pending"] == 1 and waiting.labels_version is None

    # A second annotator agrees (posted through the API): the item is complete and its label accepted.
    from label_studio_sdk import LabelStudio

    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    second = sdk.users.create(username=f"second-{run}@example.com", email=f"second-{run}@example.com")
    choice = {"from_name": "topic", "to_name": "body", "type": "choices", "value": {"choices": [CHOSEN]}}
    sdk.annotations.create(id=task_id, completed_by=int(second.id), result=[choice])
    [done] = label_collect(catalog=str(catalog), lake=lake, plans=[plan])
    assert (done.verdict, done.items["accepted"], done.labels_version) == ("accept", 1, 0)
    labels = read_current(open_store(lake), "labels_support_tickets")
    assert labels.select("ticket_id", "label").to_dicts() == [
        {"ticket_id": TICKET["ticket_id"], "label": CHOSEN}
    ]
