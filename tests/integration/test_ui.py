"""The web UI in a real headless chromium against one real `strongroom server` (sqlite, `ui = true`).

The tests run in order as one operators' day, sharing the server, the browser and what the ceremony produced:
initialise through the UI, unseal from two browsers at once, sign in, write a secret, seal from the UI; another
operator seals with the CLI while a secret is on screen; keyboard-only unseal; the other pages; phone width.
Every tab records its requests and console errors: none may reach another host, none may log an error.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.integration.cli_harness import REPO_ROOT
from tests.integration.strongroom_server import StrongroomServer, run_strongroom
from tests.integration.ui_browser import PHONE, Tab, chromium
from tests.integration.unsealed import assert_clean_log

pytestmark = pytest.mark.integration

SECRET_VALUE = "correct-horse-battery-staple-7351"
#: the UI polls seal-status every second; the issue asks for the unseal page within 2 s of a seal, and the wait
#: allows for a loaded CI machine
SEALED_PAGE_DEADLINE_MS = 5000


@dataclass
class Day:
    server: StrongroomServer
    browser: Browser
    http: httpx.Client
    tabs: list[Tab] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    root_token: str = ""

    def tab(self, viewport: dict[str, int] | None = None) -> Tab:
        tab = Tab.open(self.browser, self.server.address, viewport)
        self.tabs.append(tab)
        return tab

    def ceremony_done(self) -> None:
        assert self.keys and self.root_token, "the init test (the first of this module) did not run or failed"

    def unseal(self) -> None:
        for key in self.keys[:3]:
            assert self.http.put("/v1/sys/unseal", json={"key": key}).status_code == 200
        assert self.http.get("/v1/sys/seal-status").json()["sealed"] is False


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    directory = tmp_path_factory.mktemp("ui")
    with (
        run_strongroom(directory, extra_config="ui = true\n") as server,
        httpx.Client(base_url=server.address, timeout=30, trust_env=False) as http,
        chromium() as browser,
    ):
        day = Day(server, browser, http)
        yield day
        for tab in day.tabs:
            tab.close()
        assert_clean_log(server)


@pytest.fixture(scope="module")
def first(day: Day) -> Tab:
    """Operator A's browser."""
    return day.tab()


@pytest.fixture(scope="module")
def second(day: Day) -> Tab:
    """Operator B's browser, another context: nothing shared with A but the server."""
    return day.tab()


def test_the_ui_is_served_at_ui_with_strict_headers(day: Day) -> None:
    root = day.http.get("/")
    assert (root.status_code, root.headers["location"]) == (307, "/ui/")
    index = day.http.get("/ui/")
    assert index.status_code == 200 and index.headers["content-type"] == "text/html; charset=utf-8"
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert index.headers["x-frame-options"] == "DENY"
    assert index.headers["referrer-policy"] == "no-referrer"
    assert index.headers["cache-control"] == "no-store"
    assert day.http.get("/ui/main.js").headers["content-type"] == "text/javascript; charset=utf-8"
    assert day.http.get("/ui/%2e%2e/v1/sys/health").status_code == 404


def test_init_refuses_a_threshold_above_the_shares_then_shows_the_keys_once(day: Day, first: Tab) -> None:
    page = first.page
    expect(page.get_by_role("heading", name="Initialise Strongroom")).to_be_visible()
    page.get_by_label("Key shares").fill("3")
    page.get_by_label("Key threshold").fill("4")
    page.get_by_role("button", name="Initialise").click()
    assert "cannot be greater than the number of shares" in first.alert()
    expect(page.get_by_label("Key shares")).to_have_value("3")  # nothing lost
    expect(page.get_by_label("Key threshold")).to_have_value("4")
    assert day.http.get("/v1/sys/seal-status").json()["initialized"] is False

    day.keys, day.root_token = first.initialise(shares=5, threshold=3)
    assert len(day.keys) == 5 and len(set(day.keys)) == 5
    assert day.root_token.startswith("s.") or len(day.root_token) > 20
    expect(page.get_by_text("shown only this once")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download keys as JSON").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert (saved["keys_base64"], saved["root_token"]) == (day.keys, day.root_token) and len(saved["keys"]) == 5
    first.wait_for_polls(2)  # the keys stay, sealed or not, until their reader says so
    expect(page.get_by_role("heading", name="Strongroom is initialised")).to_be_visible()
    page.get_by_role("button", name="Continue to unseal").click()
    expect(page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()
    assert first.progress() == "0 of 3"
    assert day.keys[0] not in page.content()


def test_two_operators_unseal_together_and_a_wrong_share_keeps_the_progress(day: Day, first: Tab, second: Tab) -> None:
    day.ceremony_done()
    progress_a = first.page.get_by_role("status", name="Unseal progress")
    progress_b = second.page.get_by_role("status", name="Unseal progress")
    expect(progress_b).to_have_text("0 of 3")

    first.enter_share(day.keys[0])
    expect(progress_a).to_have_text("1 of 3")
    expect(progress_b).to_have_text("1 of 3")  # B's page learnt it without a reload
    expect(second.page.get_by_text("forgotten in")).to_be_visible()  # progress_expires_at

    second.page.get_by_role("button", name="Unseal").click()
    assert second.alert() == "Enter your unseal key first."
    second.enter_share("c2hvcnQ=")
    assert "key" in second.alert().lower()
    wrong = base64.b64encode(os.urandom(33)).decode()
    second.enter_share(wrong)
    expect(second.page.get_by_role("alert")).to_contain_text("not one of the current unseal key shares")
    expect(progress_b).to_have_text("1 of 3")
    expect(progress_a).to_have_text("1 of 3")

    second.enter_share(day.keys[1])
    expect(progress_a).to_have_text("2 of 3")
    first.enter_share(day.keys[2])
    for tab in (first, second):
        expect(tab.page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_sign_in_write_a_secret_read_it_through_the_api_and_seal_from_the_ui(day: Day, first: Tab, second: Tab) -> None:
    day.ceremony_done()
    page = first.page
    page.get_by_label("Token", exact=True).fill("s.not-a-token-of-this-server")
    page.get_by_label("Token", exact=True).press("Enter")
    assert "not valid" in first.alert()
    first.sign_in(day.root_token)
    expect(page.get_by_role("button", name="Seal")).to_be_visible()  # root may seal

    first.go("#/mounts")
    page.get_by_label("Type").first.select_option("kv-v2")
    page.get_by_label("Path", exact=True).first.fill("secret")
    page.get_by_role("button", name="Enable").first.click()
    expect(page.get_by_role("cell", name="secret/", exact=True)).to_be_visible()

    first.go("#/secrets/secret/")
    page.get_by_role("button", name="Create secret").click()
    page.get_by_label("Path", exact=True).fill("app/db")
    page.get_by_label("Key 1").fill("password")
    page.get_by_label("Value 1").fill(SECRET_VALUE)
    page.get_by_role("button", name="Save secret").click()
    expect(page.get_by_role("heading", name="secret/app/db")).to_be_visible()
    assert SECRET_VALUE not in page.content()  # hidden until revealed
    page.get_by_role("button", name="Reveal password").click()
    expect(page.get_by_text(SECRET_VALUE)).to_be_visible()

    read = day.http.get("/v1/secret/data/app/db", headers={"X-Vault-Token": day.root_token})
    assert read.json()["data"]["data"] == {"password": SECRET_VALUE}

    page.get_by_role("button", name="Seal").click()
    dialog = page.get_by_role("dialog", name="Seal Strongroom?")
    expect(dialog).to_contain_text("3 key holders")
    dialog.get_by_role("button", name="Seal now").click()
    expect(page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()
    assert SECRET_VALUE not in page.content()
    assert day.http.get("/v1/sys/seal-status").json()["sealed"] is True
    expect(second.page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()


def test_a_seal_from_the_cli_takes_an_open_secret_off_the_page(day: Day, first: Tab) -> None:
    day.ceremony_done()
    day.unseal()
    page = first.page
    expect(page.get_by_role("status", name="Seal state")).to_have_text("Unsealed")  # still signed in (this tab)
    first.go("#/secrets/secret/app/db")
    page.get_by_role("button", name="Reveal password").click()
    expect(page.get_by_text(SECRET_VALUE)).to_be_visible()

    env = {key: value for key, value in os.environ.items() if not key.startswith(("STRONGROOM_", "VAULT_", "BAO_"))}
    env.update(STRONGROOM_ADDR=day.server.address, STRONGROOM_TOKEN=day.root_token, PYTHONPATH=str(REPO_ROOT))
    sealed = subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "operator", "seal"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert sealed.returncode == 0, sealed.stderr
    expect(page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible(timeout=SEALED_PAGE_DEADLINE_MS)
    assert SECRET_VALUE not in page.content()


def test_unseal_with_the_keyboard_alone(day: Day) -> None:
    day.ceremony_done()
    tab = day.tab()
    page = tab.page
    expect(page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()
    share = page.get_by_label("Unseal key")
    expect(share).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")  # back to the share, focus shown
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    for done, key in enumerate(day.keys[:2], start=1):
        page.keyboard.type(key)
        page.keyboard.press("Enter")
        expect(page.get_by_role("status", name="Unseal progress")).to_have_text(f"{done} of 3")
        expect(share).to_be_focused()
    page.keyboard.type(day.keys[2])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_policy_with_a_syntax_error_is_reported_and_kept(day: Day, first: Tab) -> None:
    day.ceremony_done()
    page = first.page
    first.go("#/policies")
    broken = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n'
    page.get_by_label("Name").fill("app-read")
    page.get_by_label("Policy (HCL)").fill(broken)
    page.get_by_role("button", name="Create policy").click()
    assert first.alert()
    expect(page.get_by_label("Policy (HCL)")).to_have_value(broken)
    page.get_by_label("Policy (HCL)").fill(broken + "}\n")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("heading", name="Policy app-read")).to_be_visible()
    stored = day.http.get("/v1/sys/policies/acl/app-read", headers={"X-Vault-Token": day.root_token})
    assert stored.json()["data"]["policy"] == broken + "}\n"


def test_versions_tokens_keys_dcos_and_cluster_pages(day: Day, first: Tab) -> None:
    day.ceremony_done()
    page = first.page
    first.go("#/secrets/secret/app/db")
    page.get_by_role("button", name="New version").click()
    page.get_by_label("Value 1").fill("second-value")
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_text("version 2 (current)")).to_be_visible()
    page.get_by_role("button", name="Delete version 1").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Undelete version 1")).to_be_visible()
    page.get_by_role("button", name="Undelete version 1").click()
    page.get_by_role("dialog").get_by_role("button", name="Undelete").click()
    page.get_by_role("button", name="Destroy version 1").click()
    page.get_by_role("dialog").get_by_role("button", name="Destroy").click()
    expect(page.get_by_role("cell", name="destroyed")).to_be_visible()
    versions = day.http.get("/v1/secret/metadata/app/db", headers={"X-Vault-Token": day.root_token})
    assert versions.json()["data"]["versions"]["1"]["destroyed"] is True

    first.go("#/tokens")
    page.get_by_label("Policies").fill("default, app-read")
    page.get_by_role("button", name="Create token").click()
    accessor = page.get_by_role("row", name="Accessor").get_by_role("cell").nth(1).inner_text()
    page.get_by_label("Look up by").select_option("accessor")
    page.get_by_label("Token or accessor", exact=True).fill(accessor)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("cell", name="app-read, default", exact=True).last).to_be_visible()
    page.get_by_label("Revoke by").select_option("accessor")
    page.get_by_label("Token or accessor to revoke").fill(accessor)
    page.get_by_role("button", name="Revoke", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Revoked.")).to_be_visible()
    gone = day.http.post(
        "/v1/auth/token/lookup-accessor", json={"accessor": accessor}, headers={"X-Vault-Token": day.root_token}
    )
    assert gone.status_code == 400

    first.go("#/keys")
    expect(page.get_by_text("Key term", exact=True)).to_be_visible()
    page.get_by_role("button", name="Rotate the encryption key").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
    expect(page.locator("dl.facts dd").first).to_have_text("2")

    first.go("#/dcos")
    page.get_by_label("Path", exact=True).fill("ops/ssh-key")
    page.get_by_label("Value", exact=True).fill("dcos-value-9931")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="ops/ssh-key")).to_be_visible()
    page.get_by_role("button", name="Reveal value").click()
    expect(page.get_by_text("dcos-value-9931")).to_be_visible()
    through_vault = day.http.get("/v1/secret/data/ops/ssh-key", headers={"X-Vault-Token": day.root_token})
    assert through_vault.json()["data"]["data"]["value"] == "dcos-value-9931"

    binary = day.http.put(
        "/secrets/v1/secret/default/ops/keytab",
        content=b"\x00\x01binary",
        headers={"Authorization": f"token={day.root_token}", "Content-Type": "application/octet-stream"},
    )
    assert binary.status_code == 201, binary.text
    first.go("#/dcos/ops/keytab")
    expect(page.get_by_text("A binary secret")).to_be_visible()

    first.go("#/cluster")
    expect(page.get_by_text("runs as a single node")).to_be_visible()
    expect(page.get_by_label("Node role")).to_have_text("Single node")


def test_sign_in_with_userpass_and_no_seal_button_without_sudo(day: Day, first: Tab) -> None:
    day.ceremony_done()
    page = first.page
    first.go("#/mounts")
    auth = page.locator("form", has_text="Enable an auth method")
    auth.get_by_label("Type").select_option("userpass")
    auth.get_by_label("Path", exact=True).fill("userpass")
    auth.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("cell", name="userpass/", exact=True)).to_be_visible()
    created = day.http.post(
        "/v1/auth/userpass/users/alice",
        json={"password": "alice-pass-4411", "token_policies": "app-read"},
        headers={"X-Vault-Token": day.root_token},
    )
    assert created.status_code == 204, created.text

    tab = day.tab()
    page = tab.page
    page.get_by_label("Sign-in method").select_option("userpass")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_label("Password").press("Enter")
    assert "Sign-in refused" in tab.alert()
    expect(page.get_by_label("Username")).to_have_value("alice")
    page.get_by_label("Password").fill("alice-pass-4411")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("status", name="Seal state")).to_have_text("Unsealed")
    expect(page.get_by_text("userpass-alice")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("button", name="Seal")).to_be_hidden()  # app-read and default: no sudo on sys/seal
    assert "alice-pass-4411" not in page.content()


def test_every_page_fits_a_phone_without_sideways_scrolling(day: Day) -> None:
    day.ceremony_done()
    phone = day.tab(PHONE)
    phone.sign_in(day.root_token)
    for route in (
        "#/secrets",
        "#/secrets/secret/",
        "#/secrets/secret/app/db",
        "#/dcos",
        "#/mounts",
        "#/policies",
        "#/policies/app-read",
        "#/tokens",
        "#/keys",
        "#/cluster",
    ):
        phone.go(route)
        expect(phone.page.get_by_role("heading", level=1)).to_be_visible()
        phone.page.wait_for_load_state("networkidle")
        assert not phone.scrolls_sideways(), route
    day.http.put("/v1/sys/seal", headers={"X-Vault-Token": day.root_token})
    expect(phone.page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()
    assert not phone.scrolls_sideways()


def test_no_request_left_the_server_and_no_console_error(day: Day) -> None:
    assert len(day.tabs) >= 4
    for tab in day.tabs:
        assert tab.requests and tab.foreign_requests() == []
        assert tab.console_errors == []
