"""A real Airflow API server (SimpleAuthManager, a named user, PostgreSQL metadata) serving the
bantay pages over a seeded registry and S3 store, and Debian's Chromium driven by Playwright.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (Debian's ``chromium``
package; ``.ci/run`` installs it when missing). ``BANTAY_UI_SCREENSHOTS=<dir>`` keeps a PNG of each
page the tests visit (``docs/img`` for the README).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from support.services import free_port, moto_s3, pg_database  # noqa: F401
from support.ui import MODELS, SIMPLE_AUTH_MANAGER, bantay_env, seed_all

CHROMIUM = Path(os.environ.get("BANTAY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
USER, ROLE = "operator", "user"


@dataclass
class Server:
    base: str
    user: str
    password: str
    token: str
    seeded: dict
    log: Path

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")


def _airflow(env: dict[str, str], *args: str) -> None:
    exe = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(exe), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-3000:]}"


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the API server exited: {log.read_text()[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(base + "/api/v2/monitor/health", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"the API server was not healthy in {timeout}s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, moto_s3) -> Iterator[Server]:  # noqa: F811
    home = tmp_path_factory.mktemp("ui_server")
    port = free_port()
    password = secrets.token_urlsafe(12)
    (home / "bantay.yaml").write_text("project: bantay\n")  # models come from BANTAY_MODELS
    with pg_database() as metadata_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "BANTAY_"))}
        env.update(bantay_env(home / "bantay", moto_s3, f"bantay-ui-{uuid.uuid4().hex[:10]}"))
        env.update(
            {
                "AIRFLOW_HOME": str(home / "airflow"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "BANTAY_CONFIG": str(home / "bantay.yaml"),
                **auth_env(home, port, {USER: password}),
            }
        )
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in env.items() if k.startswith("BANTAY_")})
        from bantay.settings import get_settings

        get_settings.cache_clear()
        try:
            seeded = seed_all(env, approved=(MODELS[1],))
        finally:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()
        _airflow(env, "db", "migrate")
        _airflow(env, "dags", "reserialize")
        with api_server(env, home) as (base, log):
            token = login(base, USER, password)
            yield Server(base, USER, password, token, seeded, log)


def auth_env(home: Path, port: int, users: dict[str, str]) -> dict[str, str]:
    """Airflow's API server on ``port`` with the SimpleAuthManager and ``users`` (name ->
    password, each with the role ``user``: the least that may trigger runs and answer requests)."""
    (home / "passwords.json").write_text(json.dumps(users))
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{ROLE}" for u in users),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    }


@contextlib.contextmanager
def api_server(env: dict[str, str], home: Path) -> Iterator[tuple[str, Path]]:
    """``airflow api-server`` with ``env`` (see :func:`auth_env`), until the block ends."""
    log = home / "api-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "api-server"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = env["AIRFLOW__API__BASE_URL"]
    try:
        _wait_healthy(base, proc, log)
        yield base, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def login(base: str, user: str, password: str) -> str:
    """A bearer token for ``user`` from Airflow's ``/auth/token``."""
    request = urllib.request.Request(
        base + "/auth/token",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


@contextlib.contextmanager
def launched() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright in the calling thread."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; "
            ".ci/run does) or point BANTAY_CHROMIUM at a Chromium binary. No browser is "
            "downloaded by the tests.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with launched() as browser:
        yield browser


@pytest.fixture(scope="module")
def logged_in(chromium, airflow_server) -> Iterator[object]:
    """A browser context that signed in through Airflow's login form, as a person does."""
    context = sign_in(chromium, airflow_server.base, airflow_server.user, airflow_server.password)
    try:
        yield context
    finally:
        context.close()


def sign_in(browser, base: str, user: str, password: str):
    """A new browser context signed in through Airflow's own login form, at 1440x900."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(base + "/auth/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)
    assert any(c["name"] == "_token" for c in context.cookies()), "login set no session cookie"
    page.close()
    return context


@pytest.fixture
def page(logged_in) -> Iterator[object]:
    page = logged_in.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        page.close()


def shot(page, name: str) -> None:
    """Keep a PNG of ``page`` when ``BANTAY_UI_SCREENSHOTS`` names a folder."""
    folder = os.environ.get("BANTAY_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


AIRFLOW_NAV = "[data-testid=nav-sidebar]"  # the navigation bar of Airflow's shell


def frame(page):
    """The bantay page inside the Airflow UI's iframe."""
    return page.frame_locator("iframe").first


def airflow_navs(page) -> int:
    """How many Airflow navigation bars are on screen, counting every frame of the page.

    A frame of the page left behind may detach while it is counted (the shell replaces its
    iframe as it navigates): it is no longer on screen, so the count is taken again."""
    from playwright.sync_api import Error as PlaywrightError

    page.locator(AIRFLOW_NAV).first.wait_for()
    page.wait_for_load_state("networkidle")
    for _ in range(10):
        try:
            frames = [f for f in page.frames if not f.is_detached()]
            return sum(f.locator(AIRFLOW_NAV).count() for f in frames)
        except PlaywrightError as exc:
            if "detached" not in str(exc):
                raise
            page.wait_for_timeout(200)
    raise AssertionError("the page's frames kept detaching; the shell never settled")


def arrives_at(page, url: str) -> None:
    """Wait until the address bar shows ``url`` (compared decoded: run ids hold ``+`` and ``:``)."""
    page.wait_for_url(lambda at: unquote(at) == url, timeout=15_000)
