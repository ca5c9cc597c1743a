"""An annotator's real path through Label Studio's own web UI, in headless Chromium.

API tests post annotations as admin with ``completed_by``; they cannot show that a person invited by
the organisation's link can sign up, find the project, see only masked text and submit a label that
Lockgate then collects under their e-mail. This test walks that path in a browser, against the
session's Label Studio server, and reads the result back through `Studio.annotations`.

Chromium is Debian's (``make test`` installs it): Playwright's own browser download does not work here.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import polars as pl
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from contracts.pii.redact import redact_text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

    from labeling.server import LabelStudioServer
    from labeling.studio import Studio

pytestmark = pytest.mark.slow

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

# The raw value never reaches Label Studio: the task holds what Lockgate's masking makes of it.
RAW_TEXT = "Звонила Мария Петрова, просила перезвонить по номеру +7 912 345-67-89."
RAW_VALUES = ("Мария", "Петрова", "+7 912 345-67-89", "345-67-89")
TOPICS = ("callback", "complaint", "other")
CHOSEN = "complaint"
LABEL_CONFIG = f"""<View>
  <Text name="text" value="$text"/>
  <Choices name="topic" toName="text" choice="single" showInline="true">
    {"".join(f'<Choice value="{topic}"/>' for topic in TOPICS)}
  </Choices>
</View>"""


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
    label_studio: LabelStudioServer, studio: Studio, browser: Browser, tmp_path: Path
) -> None:
    masked = redact_text(RAW_TEXT)
    assert "[NAME]" in masked and "[PHONE]" in masked, masked
    run = uuid.uuid4().hex[:8]
    title = f"Browser e2e {run}"
    key = f"browser-e2e-{run}"
    email, password = f"annotator-{run}@example.com", f"pw-{uuid.uuid4().hex}"

    project = studio.ensure_project(title, LABEL_CONFIG, overlap=1, description="Lockgate browser test")
    project_id = project.id
    [task_id] = studio.import_tasks(project_id, [{"data": {"text": masked, "lockgate_key": key}}])
    invite = urljoin(label_studio.url + "/", studio.invite_link())

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
            expect(page).to_have_url(re.compile(rf"/projects/{project_id}/"))
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

            collected = studio.annotations(project_id, from_name="topic").filter(pl.col("task_id") == task_id)
            rows = collected.select("item_id", "annotator", "label").to_dicts()
            assert rows == [{"item_id": key, "annotator": email, "label": CHOSEN}], collected
    finally:
        context.close()
