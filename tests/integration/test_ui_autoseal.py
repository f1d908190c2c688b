"""The web UI under auto-unseal (a static seal key): recovery shares at init, and after an operator's seal the
unseal page asks for recovery keys. One real server with `ui = true`, one chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.integration.autoseal import static_block
from tests.integration.strongroom_server import run_strongroom
from tests.integration.ui_browser import Tab, chromium
from tests.integration.unsealed import assert_clean_log

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tab]:
    directory = tmp_path_factory.mktemp("ui-autoseal")
    seal = static_block(directory / "unseal.key")
    with run_strongroom(directory, extra_config="ui = true\nworkers = 1\n" + seal) as server, chromium() as browser:
        tab = Tab.open(browser, server.address)
        yield tab
        tab.close()
        assert tab.foreign_requests() == [] and tab.console_errors == []
        assert_clean_log(server)


def test_recovery_keys_at_init_and_after_an_operators_seal(tab: Tab) -> None:
    page = tab.page
    expect(page.get_by_role("heading", name="Initialise Strongroom")).to_be_visible()
    expect(page.get_by_label("Key shares")).to_have_count(0)
    page.get_by_label("Recovery shares").fill("3")
    page.get_by_label("Recovery threshold").fill("2")
    page.get_by_role("button", name="Initialise").click()
    expect(page.get_by_role("heading", name="Strongroom is initialised")).to_be_visible()
    recovery_keys = page.locator("ol.keys code").all_inner_texts()
    root_token = page.locator(".key-row code").inner_text()
    assert len(recovery_keys) == 3
    expect(page.get_by_text("Recovery key 1", exact=True)).to_be_visible()
    page.get_by_role("button", name="Continue").click()

    # the seal device unsealed it: straight to signing in
    tab.sign_in(root_token)
    page.get_by_role("button", name="Seal").click()
    page.get_by_role("dialog").get_by_role("button", name="Seal now").click()
    expect(page.get_by_role("heading", name="Unseal with recovery keys")).to_be_visible()
    share = page.get_by_label("Recovery key")
    expect(page.get_by_role("status", name="Unseal progress")).to_have_text("0 of 2")
    share.fill(recovery_keys[0])
    share.press("Enter")
    expect(page.get_by_role("status", name="Unseal progress")).to_have_text("1 of 2")
    share.fill(recovery_keys[1])
    share.press("Enter")
    expect(page.get_by_role("status", name="Seal state")).to_have_text("Unsealed")  # still signed in, this tab
