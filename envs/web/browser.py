"""Headless Chromium for the web envs: discovery, a thread-safe pool, and no orphans.

Browsers are expensive to start (seconds) and cheap to reuse (a page load), so envs borrow
them from a process-wide :class:`BrowserPool` on ``reset`` and give them back on ``close``.

Every chromedriver runs in its own process group (its Chromium children inherit it), and a
small watchdog process, started with the first browser, holds one end of a pipe to this
process. When this process exits in any way -- normally, by an exception, by Ctrl-C or by
SIGKILL -- the pipe closes and the watchdog kills every process group still registered, so no
chromium or chromedriver outlives the run. Normal shutdown quits the drivers first (atexit).

Chromium and chromedriver are found at ``$MINIWOB_CHROME_BINARY`` / ``$MINIWOB_CHROMEDRIVER``,
else on ``PATH`` (Debian: ``apt-get install -y chromium chromium-driver``). Selenium is given
both paths, so selenium-manager never runs and nothing is fetched from the network.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "Browser",
    "BrowserPool",
    "browser_unavailable",
    "chrome_paths",
    "chrome_options",
    "default_pool",
]

INSTALL_HINT = "apt-get install -y chromium chromium-driver"

#: Chromium flags for a headless browser as root on a closed network.
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--mute-audio",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--window-size=1024,768",
)

_WATCHDOG = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line.startswith("+"):
        groups.add(int(line[1:]))
    elif line.startswith("-"):
        groups.discard(int(line[1:]))
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""


def chrome_paths() -> tuple[str | None, str | None]:
    """The Chromium binary and chromedriver to use (None where not found)."""
    binary = os.environ.get("MINIWOB_CHROME_BINARY") or None
    driver = os.environ.get("MINIWOB_CHROMEDRIVER") or None
    if binary is None:
        binary = next(
            (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None
        )
    if driver is None:
        driver = shutil.which("chromedriver")
    return binary, driver


def browser_unavailable() -> str | None:
    """None when headless Chromium can run here, else why not and how to fix it."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed; pip install 'gymnpt[web]'"
    binary, driver = chrome_paths()
    if not binary or not os.path.exists(binary):
        return f"Chromium is not installed; install it with: {INSTALL_HINT}"
    if not driver or not os.path.exists(driver):
        return f"chromedriver is not installed; install it with: {INSTALL_HINT}"
    return None


def chrome_options(user_data_dir: str, width: int = 1024, height: int = 768) -> Any:
    """Selenium ``ChromeOptions`` for a headless, offline Chromium."""
    from selenium import webdriver

    binary, _ = chrome_paths()
    opts = webdriver.ChromeOptions()
    for flag in CHROME_FLAGS:
        if not flag.startswith("--window-size"):
            opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    opts.add_argument(f"--user-data-dir={user_data_dir}")
    if binary:
        opts.binary_location = binary
    return opts


class _Watchdog:
    """A child process that kills registered process groups when this process goes away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", _WATCHDOG],
                    stdin=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()
            except OSError:
                pass

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


_watchdog = _Watchdog()


@dataclass
class Browser:
    """One headless Chromium driven by selenium.

    Attributes:
        driver: the selenium ``WebDriver``.
        pgid: the process group of its chromedriver and Chromium processes.
        episodes: how many episodes it served.
    """

    driver: Any
    pgid: int
    user_data_dir: str
    episodes: int = 0
    closed: bool = field(default=False)
    #: The page it shows now, when an env keeps a page loaded between episodes.
    page_url: str | None = None

    @classmethod
    def launch(
        cls, width: int = 1024, height: int = 768, page_load_timeout: float = 30.0
    ) -> Browser:
        """Start a new headless Chromium.

        Raises:
            RuntimeError: when Chromium, chromedriver or selenium is missing.
        """
        why = browser_unavailable()
        if why:
            raise RuntimeError(why)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        _, driver_path = chrome_paths()
        tmp = tempfile.mkdtemp(prefix="gymnpt-chromium-")
        service = Service(
            executable_path=driver_path,
            log_output=subprocess.DEVNULL,
            popen_kw={"start_new_session": True},
        )
        try:
            driver = webdriver.Chrome(service=service, options=chrome_options(tmp, width, height))
        except Exception:
            proc = getattr(service, "process", None)
            if proc is not None:
                _killpg(proc.pid)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pgid = service.process.pid
        _watchdog.watch(pgid)
        driver.set_page_load_timeout(page_load_timeout)
        driver.set_script_timeout(page_load_timeout)
        return cls(driver=driver, pgid=pgid, user_data_dir=tmp)

    def alive(self) -> bool:
        """True when the browser still answers."""
        if self.closed:
            return False
        try:
            return self.driver.execute_script("return 1") == 1
        except Exception:  # noqa: BLE001 - any failure means it is gone
            return False

    def quit(self) -> None:
        """Stop the browser and everything it started."""
        if self.closed:
            return
        self.closed = True
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - the process may be dead already
            pass
        _killpg(self.pgid)
        _watchdog.forget(self.pgid)
        shutil.rmtree(self.user_data_dir, ignore_errors=True)


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


class BrowserPool:
    """Browsers shared by the envs of one process (thread-safe).

    At most ``max_open`` browsers run at once; :meth:`acquire` waits for a free one beyond
    that, so many concurrent episodes share a few browsers instead of starving the CPU.

    Args:
        max_open: browsers open at once (default ``$GYMNPT_WEB_BROWSERS``, else the number
            of CPU cores, at least 2).
        max_idle: browsers kept open while unused; more are quit on release.
    """

    def __init__(self, max_open: int | None = None, max_idle: int = 8) -> None:
        if max_open is None:
            max_open = int(os.environ.get("GYMNPT_WEB_BROWSERS", "0") or 0) or max(
                2, os.cpu_count() or 2
            )
        if max_open < 1:
            raise ValueError(f"max_open must be at least 1, got {max_open}")
        self.max_open = max_open
        self.max_idle = max_idle
        self._lock = threading.Condition()
        self._idle: list[Browser] = []
        self._browsers: dict[int, Browser] = {}
        self._starting = 0
        self.launched = 0

    def acquire(self, timeout: float = 110.0) -> Browser:
        """An idle browser that still answers, or a newly launched one.

        Raises:
            TimeoutError: when no browser is free within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                while not self._idle and len(self._browsers) + self._starting >= self.max_open:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"no browser became free within {timeout:g}s "
                            f"({self.max_open} open; set GYMNPT_WEB_BROWSERS for more)"
                        )
                    self._lock.wait(left)
                browser = self._idle.pop() if self._idle else None
                if browser is None:
                    self._starting += 1
            if browser is None:
                break
            if browser.alive():
                return browser
            self._drop(browser)
        try:
            browser = Browser.launch()
        except BaseException:
            with self._lock:
                self._starting -= 1
                self._lock.notify()
            raise
        with self._lock:
            self._starting -= 1
            self.launched += 1
            self._browsers[id(browser)] = browser
        return browser

    def release(self, browser: Browser, *, broken: bool = False) -> None:
        """Give a browser back; a broken one (or one over ``max_idle``) is quit."""
        if browser.closed:
            self._drop(browser)
            return
        with self._lock:
            keep = not broken and len(self._idle) < self.max_idle
            if keep:
                self._idle.append(browser)
                self._lock.notify()
        if not keep:
            self._drop(browser)

    def _drop(self, browser: Browser) -> None:
        browser.quit()
        with self._lock:
            self._browsers.pop(id(browser), None)
            self._lock.notify()

    @property
    def open_count(self) -> int:
        """Browsers open now (idle or lent)."""
        with self._lock:
            return len(self._browsers)

    @property
    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    def close_all(self) -> None:
        """Quit every browser of this pool, lent or idle."""
        with self._lock:
            browsers = list(self._browsers.values())
            self._browsers.clear()
            self._idle.clear()
        for b in browsers:
            b.quit()


_pool: BrowserPool | None = None
_pool_lock = threading.Lock()


def default_pool() -> BrowserPool:
    """The process-wide browser pool (its browsers are quit at exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = BrowserPool()
            atexit.register(_pool.close_all)
        return _pool
