"""Screenshots of every page of the web UI, for docs/ui/ and the README: `scripts/ui-screenshots [DIR]`.

A throwaway server (sqlite in a temporary directory, `ui = true`) is initialised, unsealed and filled through the
UI and the HTTP API, and each page is photographed in Debian's chromium. The keys and tokens in the pictures
belong to that server, which is gone when the script ends.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.integration.strongroom_server import run_strongroom
from tests.integration.ui_browser import PHONE, Tab, chromium

ROOT = Path(__file__).resolve().parents[2]
WIDE = {"width": 1100, "height": 760}


def shoot(page: Page, directory: Path, name: str, *, full_page: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(directory / f"{name}.png"), full_page=full_page)
    print(f"{directory / name}.png")


def fill_the_store(address: str, token: str) -> None:
    with httpx.Client(base_url=address, headers={"X-Vault-Token": token}, trust_env=False, timeout=30) as http:
        http.post("/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}}).raise_for_status()
        http.post("/v1/sys/mounts/legacy", json={"type": "kv", "options": {"version": "1"}}).raise_for_status()
        for path, data in [
            ("app/db", {"username": "app", "password": "first-password"}),
            ("app/db", {"username": "app", "password": "rotated-password"}),
            ("app/api-key", {"key": "k-123"}),
            ("ops/tls", {"certificate": "-----BEGIN CERTIFICATE-----"}),
        ]:
            http.post(f"/v1/secret/data/{path}", json={"data": data}).raise_for_status()
        http.put(
            "/secrets/v1/secret/default/ops/ssh-key",
            json={"value": "ssh-ed25519 AAAA", "description": "deploy key"},
            headers={"Authorization": f"token={token}"},
        ).raise_for_status()
        http.put(
            "/v1/sys/policies/acl/app-read",
            json={"policy": 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'},
        ).raise_for_status()


def main(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        run_strongroom(Path(scratch), extra_config="ui = true\nworkers = 1\n") as server,
        chromium() as browser,
    ):
        tab = Tab.open(browser, server.address, WIDE)
        page = tab.page
        expect(page.get_by_role("heading", name="Initialise Strongroom")).to_be_visible()
        shoot(page, directory, "01-init")
        keys, root_token = tab.initialise(shares=5, threshold=3)
        shoot(page, directory, "02-init-keys", full_page=True)
        page.get_by_role("button", name="Continue to unseal").click()
        tab.enter_share(keys[0])
        expect(page.get_by_role("status", name="Unseal progress")).to_have_text("1 of 3")
        tab.enter_share("c2hvcnQ=")
        tab.alert()
        shoot(page, directory, "03-unseal")
        tab.enter_share(keys[1])
        tab.enter_share(keys[2])
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        shoot(page, directory, "04-sign-in")
        fill_the_store(server.address, root_token)
        tab.sign_in(root_token)
        shoot(page, directory, "05-secrets")
        tab.go("#/secrets/secret/app/")
        expect(page.get_by_role("link", name="db")).to_be_visible()
        shoot(page, directory, "06-folder")
        tab.go("#/secrets/secret/app/db")
        page.get_by_role("button", name="Reveal username").click()
        shoot(page, directory, "07-secret", full_page=True)
        tab.go("#/dcos/ops/ssh-key")
        expect(page.get_by_role("heading", name="ops/ssh-key")).to_be_visible()
        shoot(page, directory, "08-dcos")
        tab.go("#/mounts")
        expect(page.get_by_role("heading", name="Mounts")).to_be_visible()
        shoot(page, directory, "09-mounts", full_page=True)
        tab.go("#/policies/app-read")
        editor = page.get_by_label("Policy (HCL)")
        editor.fill('path "secret/data/app/*" {\n  capabilities = ["read"\n}\n')
        page.get_by_role("button", name="Save policy").click()
        tab.alert()
        shoot(page, directory, "10-policy-error")
        tab.go("#/tokens")
        page.get_by_label("Policies").fill("default, app-read")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_text("shown only now")).to_be_visible()
        shoot(page, directory, "11-tokens", full_page=True)
        tab.go("#/keys")
        expect(page.get_by_text("Key term", exact=True)).to_be_visible()
        shoot(page, directory, "12-keys")
        tab.go("#/cluster")
        expect(page.get_by_role("heading", name="Cluster")).to_be_visible()
        shoot(page, directory, "13-cluster")
        page.get_by_role("button", name="Seal").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        shoot(page, directory, "14-seal-confirm")

        phone = Tab.open(browser, server.address, PHONE)
        phone.sign_in(root_token)
        phone.go("#/secrets/secret/app/db")
        expect(phone.page.get_by_role("heading", name="secret/app/db")).to_be_visible()
        shoot(phone.page, directory, "15-phone-secret")
        page.get_by_role("dialog").get_by_role("button", name="Seal now").click()
        expect(phone.page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()
        phone.enter_share(keys[0])
        expect(phone.page.get_by_role("status", name="Unseal progress")).to_have_text("1 of 3")
        shoot(phone.page, directory, "16-phone-unseal")
        for open_tab in (tab, phone):
            problems = open_tab.foreign_requests() + open_tab.console_errors
            if problems:
                raise SystemExit(f"the UI misbehaved while photographed: {problems}")
            open_tab.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "ui")
