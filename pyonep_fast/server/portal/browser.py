"""Driving the portal in a real browser (Playwright with the system's
Chromium, nothing downloaded): the launch options and sign-in steps that the
browser tests (tests/portal), bench/bench_portal.py and the screenshot
script (examples/portal_screenshots.py) share. Needs the `playwright`
package (the test extra) and Debian's `chromium`."""
import os
import shutil

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path():
    """The system Chromium ($PYONEP_FAST_CHROMIUM, else /usr/bin/chromium or
    chromium on PATH), or None."""
    for candidate in (os.environ.get("PYONEP_FAST_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch(playwright):
    """A headless Chromium Browser from the system's binary."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium found: apt-get install chromium (or set PYONEP_FAST_CHROMIUM)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)


def sign_in(page, url, credential, api="onep"):
    """Opens the portal of the server at url and signs in (credential: a
    string, or {field: value} for an API whose credential has fields);
    returns once the resource tree is shown."""
    page.goto(url + "/portal/")
    page.select_option("#signin-api", api)
    for name, value in (credential.items() if isinstance(credential, dict) else [("credential", credential)]):
        page.fill(f"#signin-{name}", value)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#tree .node")


def open_resource(page, rid):
    page.click(f'#tree .node[data-rid="{rid}"]')
    page.wait_for_selector(f'#tree .node.selected[data-rid="{rid}"]')


def wait_drawn(page, count, timeout_ms=10000):
    """Waits until the open chart has drawn `count` ranges; returns its metrics."""
    page.wait_for_function(f"() => window.portalChart && window.portalChart.metrics.length >= {count}",
                           timeout=timeout_ms)
    return page.evaluate("() => window.portalChart.metrics")
