"""The search page in a real browser: Debian's chromium, headless, driven by selenium.

A real uvicorn server runs the app over the session's real index in a background thread. The
browser is never downloaded: the tests use the Debian packages and fail (never skip) without
them, saying how to install them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from indexer.settings import Settings
from service.api.app import create_app
from service.searcher import Searcher
from tests.conftest import live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "run `apt-get install chromium chromium-driver` (as root) to run the browser tests"
QUERY = "Who was elected INTERPOL President?"
WAIT_S = 60  # the first query of a session warms the model up
FAIL_S = 10  # for what the page does at once once the model is warm: a failure fails sooner
LOADING = {  # the service's answer while it loads
    "status": 503,
    "headers": {"content-type": "application/json", "retry-after": "5"},
    "body": json.dumps({"detail": "service not ready: the model and index are still loading"}),
}
PROXY_503 = {  # a reverse proxy's answer with the service down
    "status": 503,
    "headers": {"content-type": "text/html"},
    "body": "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
}
# Run before the page's own script: fetch answers from the first of window.stubs whose path
# starts the address (and whose ``times`` are not used up), else from the server: a stub
# {path, status, headers, body} answers with them, {fail: true} as a network failure,
# {hold: true} never. Timers are capped at 20 ms, so that the page polls at test speed;
# window.answered lists what the server answered, window.loggedErrors what the page logged.
FETCH_STUB = """(() => {
  const realFetch = window.fetch.bind(window);
  const realTimeout = window.setTimeout.bind(window);
  window.setTimeout = (callback, ms, ...args) =>
    realTimeout(callback, Math.min(ms ?? 0, 20), ...args);
  window.stubs = STUBS;
  window.answered = [];
  window.loggedErrors = [];
  const realError = console.error.bind(console);
  console.error = (...args) => {
    window.loggedErrors.push(args.map(String).join(" "));
    realError(...args);
  };
  window.fetch = (resource, options) => {
    const path = String(resource);
    const stub = window.stubs.find((s) => path.startsWith(s.path) && s.times !== 0);
    if (!stub) {
      return realFetch(resource, options).then((response) => {
        window.answered.push(path);
        return response;
      });
    }
    if (stub.times) stub.times -= 1;
    if (stub.hold) return new Promise(() => {});
    if (stub.fail) return Promise.reject(new TypeError("Failed to fetch"));
    const { status = 200, headers = {}, body = "" } = stub;
    return Promise.resolve(new Response(body, { status, headers }));
  };
})();"""


@pytest.fixture(scope="module")
def base_url(settings: Settings, searcher: Searcher) -> Iterator[str]:
    """The app over the session's searcher, served for real."""
    with live_server(create_app(settings, searcher)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless chromium at a desktop size, with a throwaway profile and no network chatter."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: {INSTALL}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(
    browser: WebDriver, condition: Callable[[WebDriver], object], what: str, timeout: float = WAIT_S
) -> object:
    """Poll ``condition`` until it is truthy; fail saying ``what`` never happened."""
    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(
        condition, message=f"timed out waiting for {what}"
    )


@contextmanager
def stubbed_fetch(browser: WebDriver, *stubs: dict[str, Any]) -> Iterator[None]:
    """Pages opened meanwhile run FETCH_STUB, starting with ``stubs``; more are added with
    :func:`stub` once a page is open."""
    source = FETCH_STUB.replace("STUBS", json.dumps(list(stubs)))
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})
    try:
        yield
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


def stub(browser: WebDriver, path: str, **answer: Any) -> None:
    """From now on, fetch(``path``…) gets ``answer`` (see FETCH_STUB), before older stubs."""
    browser.execute_script("window.stubs.unshift(arguments[0])", {"path": path, **answer})


def unstub(browser: WebDriver) -> None:
    browser.execute_script("window.stubs.length = 0")


def answered(browser: WebDriver, path: str) -> int:
    """How many of the page's requests for ``path`` the server has answered."""
    return browser.execute_script(
        "return window.answered.filter((p) => p.startsWith(arguments[0])).length", path
    )


def submit(browser: WebDriver, query: str) -> None:
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query, Keys.ENTER)


def busy(browser: WebDriver) -> str | None:
    return browser.find_element(By.ID, "results").get_attribute("aria-busy")


def status_text(browser: WebDriver) -> str:
    return browser.find_element(By.ID, "status").text


def results(browser: WebDriver) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, "#results > li.result")


def wait_for_results(browser: WebDriver, query: str, timeout: float = WAIT_S) -> list[WebElement]:
    """The results of ``query`` once the page has shown them."""
    wait_for(
        browser,
        lambda b: f"for “{query}”" in status_text(b) and results(b) and busy(b) is None,
        f"results for {query!r}",
        timeout,
    )
    return results(browser)


def open_page(browser: WebDriver, url: str) -> None:
    """Load the page and wait until it has asked the service for its documents."""
    browser.get(url)
    wait_for(
        browser,
        lambda b: b.find_elements(By.CSS_SELECTOR, "#document option[value='interpol-2021-fr']"),
        "the document filter to list the report",
    )


def url_state(browser: WebDriver) -> dict[str, list[str]]:
    return parse_qs(urlsplit(browser.current_url).query)


def test_page_and_its_files_come_from_this_service(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200 and kind in served.headers["content-type"]
        assert "://" not in served.text  # nothing fetched from elsewhere: works offline
    assert 'src="/static/app.js"' in page.text and "://" not in page.text


def test_keyboard_search_shows_the_answer_with_its_sources(browser, base_url, tmp_path):
    open_page(browser, f"{base_url}/")
    box = browser.find_element(By.ID, "q")
    box.send_keys(QUERY, Keys.ENTER)  # submitted with the keyboard

    first = wait_for_results(browser, QUERY)[0]
    assert "Al Raisi" in first.text
    assert first.find_element(By.CSS_SELECTOR, ".rank").get_attribute("textContent") == "Rank 1"
    meta = first.find_element(By.CSS_SELECTOR, ".meta").text
    assert "Page " in meta and "French" in meta
    passage = first.find_element(By.CSS_SELECTOR, ".passage")
    mark = passage.find_element(By.TAG_NAME, "mark")
    assert mark.text.strip() and mark.text in passage.text
    # The passage opens its section: its heading is shown once, as the title above it.
    section = first.find_element(By.CSS_SELECTOR, ".section").text
    assert section and not passage.text.startswith(section)
    assert passage.text.startswith(mark.text)  # the highlight opens the passage's body
    link = first.find_element(By.CSS_SELECTOR, ".sources a")
    assert "interpol.int" in (link.get_attribute("href") or "")
    assert link.get_attribute("target") == "_blank"
    assert set((link.get_attribute("rel") or "").split()) == {"noopener", "noreferrer"}

    assert url_state(browser) == {"q": [QUERY]}
    assert browser.title.startswith(QUERY)
    assert "(asked in English, " in status_text(browser)
    screenshot = tmp_path / "search-page.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000


def test_a_passage_that_holds_a_joined_section_names_it(browser, base_url, searcher):
    # A short section's own heading, asked as a query, finds the passage it was joined to.
    found = [
        (p, title)
        for p in searcher.index.passages
        for title in p.sections
        if title != p.section and searcher.search(title, k=1).hits[0].passage.id == p.id
    ]
    assert found, "no joined section is found first by its own heading"
    joined, other = found[0]
    open_page(browser, f"{base_url}/?{urlencode({'q': other})}")
    first = wait_for_results(browser, other)[0]
    assert first.get_attribute("data-passage-id") == joined.id
    assert f"Also: {other}" in first.find_element(By.CSS_SELECTOR, ".meta").text
    # The passage is shown line by line as the report prints it: the joined heading on a
    # line of its own, not run into the text around it.
    shown = first.find_element(By.CSS_SELECTOR, ".passage").text.split("\n")
    printed = joined.text.split("\n")[1 if joined.text.startswith(f"{joined.section}\n") else 0 :]
    assert [" ".join(line.split()) for line in shown] == [" ".join(ln.split()) for ln in printed]
    assert other in shown


def test_state_is_in_the_url_for_sharing_and_back_forward(browser, base_url):
    shared = "Opération Pangea"
    open_page(browser, f"{base_url}/?{urlencode({'q': shared, 'lang': 'fr'})}")
    found = wait_for_results(browser, shared)
    assert browser.find_element(By.ID, "q").get_attribute("value") == shared
    assert browser.find_element(By.ID, "lang").get_attribute("value") == "fr"
    assert all("French" in r.find_element(By.CSS_SELECTOR, ".meta").text for r in found)

    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(QUERY, Keys.ENTER)
    wait_for_results(browser, QUERY)
    assert url_state(browser) == {"q": [QUERY], "lang": ["fr"]}

    browser.back()
    wait_for_results(browser, shared)
    assert browser.find_element(By.ID, "q").get_attribute("value") == shared
    browser.forward()
    wait_for_results(browser, QUERY)
    assert browser.find_element(By.ID, "q").get_attribute("value") == QUERY


def test_a_query_of_no_known_language_says_so_in_words(browser, base_url):
    gibberish = "zxqv wqpl"
    open_page(browser, f"{base_url}/?{urlencode({'q': gibberish})}")
    wait_for_results(browser, gibberish)
    assert "(language not recognised, " in status_text(browser)
    assert "und" not in status_text(browser)


def test_language_filter_offers_the_languages_of_the_passages(browser, base_url, searcher):
    """A language no passage is in would only get the service's 422; over passages all in
    one language the filter has nothing to choose, and is shown only when a URL sets it."""
    open_page(browser, f"{base_url}/")
    select = browser.find_element(By.ID, "lang")
    wait_for(browser, lambda _: len(options(select)) > 1, "the languages from /stats")
    assert options(select) == ["", *sorted(searcher.passage_languages)] == ["", "fr"]
    assert select.find_elements(By.TAG_NAME, "option")[1].get_attribute("textContent") == "French"
    assert not select.is_displayed()
    open_page(browser, f"{base_url}/?{urlencode({'q': 'pêche', 'lang': 'fr'})}")
    wait_for_results(browser, "pêche")
    assert browser.find_element(By.ID, "lang").is_displayed()


def options(select: WebElement) -> list[str]:
    return [o.get_attribute("value") for o in select.find_elements(By.TAG_NAME, "option")]


def test_empty_query_is_explained_without_asking_the_service(browser, base_url):
    open_page(browser, f"{base_url}/")
    box = browser.find_element(By.ID, "q")
    box.send_keys("   ", Keys.ENTER)
    error = browser.find_element(By.ID, "q-error")
    wait_for(browser, lambda _: error.is_displayed(), "the empty-query message")
    assert error.text == "Type a question or some keywords to search for."
    assert box.get_attribute("aria-invalid") == "true"
    assert url_state(browser) == {}
    requested = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert not [name for name in requested if "/search" in name]
    box.send_keys("x")  # typing clears the message
    assert not error.is_displayed()


def test_service_4xx_messages_name_the_pages_own_fields(browser, base_url):
    """In the page's words: the schema's message for a malformed code quoted its regular
    expression ("String should match pattern '^[A-Za-z]{2,3}…'")."""
    browser.get(f"{base_url}/?{urlencode({'q': 'INTERPOL', 'lang': 'french!'})}")
    status = browser.find_element(By.ID, "status")
    wait_for(browser, lambda _: "Passage language:" in status.text, "the service's 422 message")
    assert status.text == "Passage language: not a language code (such as fr or en)"
    assert "status-error" in (status.get_attribute("class") or "")
    assert not results(browser)


def test_a_refused_query_is_said_at_the_box_and_nothing_else_stays(browser, base_url):
    """An earlier search's results and status would read as the answer to the refused one;
    a query over the limit is said rather than cut short; one from a shared URL too."""
    open_page(browser, f"{base_url}/")
    box = browser.find_element(By.ID, "q")
    box.send_keys(QUERY, Keys.ENTER)
    wait_for_results(browser, QUERY)
    error = browser.find_element(By.ID, "q-error")
    assert error.get_attribute("role") == "alert"
    box.clear()
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda _: error.is_displayed(), "the empty-query message")
    assert not results(browser) and not status_text(browser)

    browser.execute_script("document.getElementById('q').value = 'x'.repeat(1200)")
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda _: "limited to 1,000 characters" in error.text, "the length message")
    assert "this one has 1,200." in error.text and box.get_attribute("aria-invalid") == "true"

    submit(browser, "???")  # refused by the service, which names the query ("q: …")
    wait_for(browser, lambda _: "no letters" in error.text, "the service's refusal at the box")
    assert error.text == "The query has no letters or digits to search for."
    assert box.get_attribute("aria-invalid") == "true" and not status_text(browser)

    # From a shared URL, in the page's words too, not the schema's ("String should have at
    # most 1000 characters").
    browser.get(f"{base_url}/?{urlencode({'q': 'y' * 1200})}")
    error = browser.find_element(By.ID, "q-error")
    wait_for(browser, lambda _: error.is_displayed(), "the length message at the box")
    assert error.text == "Questions are limited to 1,000 characters; this one has 1,200."
    assert not results(browser) and not status_text(browser)


def test_skip_link_lands_on_the_result_count(browser, base_url):
    open_page(browser, f"{base_url}/?{urlencode({'q': QUERY})}")
    wait_for_results(browser, QUERY)
    skip = browser.find_element(By.CSS_SELECTOR, ".skip-link")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip.send_keys(Keys.ENTER)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "status"
    assert focused.is_displayed() and "passages for" in focused.text


def test_the_status_says_the_query_in_its_own_language(browser, base_url):
    query = "¿Quién fue elegido presidente de INTERPOL?"
    open_page(browser, f"{base_url}/?{urlencode({'q': query})}")
    wait_for_results(browser, query)
    marked = browser.find_element(By.CSS_SELECTOR, "#status span[lang]")
    assert (marked.get_attribute("lang"), marked.text) == ("es", query)
    assert "asked in Spanish" in status_text(browser)


def test_a_section_in_a_shared_url_filters_and_is_said(browser, base_url):
    open_page(browser, f"{base_url}/?{urlencode({'q': 'opération', 'section': 'zzzz'})}")
    status = browser.find_element(By.ID, "status")
    wait_for(browser, lambda _: "No passage matches" in status.text, "the empty result")
    assert "in sections titled “zzzz”" in status.text


def test_section_filter_offers_the_report_s_sections_and_narrows_the_search(
    browser, base_url, client
):
    outline = client.get("/documents/interpol-2021-fr").json()
    finance = next(s for s in outline["sections"] if s["title"].startswith("FINANCES"))
    open_page(browser, f"{base_url}/?{urlencode({'q': 'revenus'})}")
    wait_for_results(browser, "revenus")
    wait_for(
        browser,
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#section option")) > 1,
        "the section filter to list the sections",
    )
    sections = Select(browser.find_element(By.ID, "section"))
    offered = [option.get_attribute("value") for option in sections.options]
    # Every title of the outline once, in reading order, after "All sections".
    assert offered == ["", *dict.fromkeys(s["title"] for s in outline["sections"])]
    sections.select_by_value(finance["title"])
    wait_for(browser, lambda _: url_state(browser).get("section") == [finance["title"]], "the URL")
    wait_for(
        browser,
        lambda b: "in sections titled" in status_text(b) and results(b),
        "results within the section",
    )
    titles = {h.text for h in browser.find_elements(By.CSS_SELECTOR, "#results .section")}
    assert titles == {finance["title"]}


def test_the_section_list_follows_the_document_filter(browser, settings, searcher):
    """Over two reports, each one's sections come under its title; choosing one of them
    chooses its report, and choosing another report drops a section it does not have."""
    index = searcher.index
    (report,) = index.manifest.documents
    other = dataclasses.replace(report, id="later-report", title="A later report")
    passages = tuple(
        dataclasses.replace(p, document=other.id) if p.page >= 18 else p for p in index.passages
    )
    manifest = dataclasses.replace(index.manifest, documents=(report, other))
    two = Searcher(
        dataclasses.replace(index, manifest=manifest, passages=passages), searcher.encoder
    )
    later_title = next(p.section for p in passages if p.document == other.id)
    with live_server(create_app(settings, two)) as url:
        open_page(browser, f"{url}/?{urlencode({'q': 'police'})}")
        wait_for_results(browser, "police")
        wait_for(
            browser,
            lambda b: len(b.find_elements(By.CSS_SELECTOR, "#section optgroup")) == 2,
            "two groups",
        )
        groups = browser.find_elements(By.CSS_SELECTOR, "#section optgroup")
        # Each group is labelled as the document filter names the report.
        named = [o.text for o in Select(browser.find_element(By.ID, "document")).options[1:]]
        assert [g.get_attribute("label") for g in groups] == named
        assert named[1].startswith(other.title)
        Select(browser.find_element(By.ID, "section")).select_by_value(later_title)
        wait_for(browser, lambda _: url_state(browser).get("document") == [other.id], "its report")
        assert url_state(browser)["section"] == [later_title]
        Select(browser.find_element(By.ID, "document")).select_by_value(report.id)
        wait_for(browser, lambda _: "section" not in url_state(browser), "the section dropped")
        offered = options(browser.find_element(By.ID, "section"))
        assert later_title not in offered and len(offered) > 1


def test_page_works_from_the_keyboard_with_visible_focus(browser, base_url):
    open_page(browser, f"{base_url}/")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # first stop: the skip link, then the form in reading order
    order = []
    for _ in range(5):
        focused = browser.switch_to.active_element
        order.append(focused.get_attribute("id") or focused.get_attribute("class"))
        assert focused.value_of_css_property("outline-style") == "solid", order[-1]
        focused.send_keys(Keys.TAB)
    # No language filter: the passages are all in one language.
    assert order == ["skip-link", "q", "search-button", "document", "section"]
    labels = {label.get_attribute("for") for label in browser.find_elements(By.TAG_NAME, "label")}
    assert {"q", "lang", "document", "section"} <= labels
    assert browser.find_element(By.ID, "status").get_attribute("aria-live") == "polite"


def test_page_fits_a_phone_screen(browser, base_url):
    browser.set_window_size(390, 844)
    try:
        open_page(browser, f"{base_url}/?{urlencode({'q': QUERY})}")
        wait_for_results(browser, QUERY)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        # The answer shows on the first screen, not only its title: room is left under the
        # highlight's start for five lines of it.
        top, height, line = browser.execute_script(
            "const mark = document.querySelector('#results mark');"
            "return [mark.getBoundingClientRect().top, window.innerHeight,"
            " parseFloat(getComputedStyle(mark).lineHeight)]"
        )
        assert top + 5 * line <= height, (top, height, line)
    finally:
        browser.set_window_size(1280, 900)


def test_page_reflows_on_a_narrow_screen_with_text_doubled(browser, base_url):
    """320 px with the browser's text size at 200 %: a long word of a card and the search
    button pushed the page sideways, and the hidden skip link, wrapped onto several lines,
    showed its last one at the top."""
    browser.set_window_size(320, 900)
    browser.execute_cdp_cmd("Page.setFontSizes", {"fontSizes": {"standard": 32}})
    try:
        open_page(browser, f"{base_url}/?{urlencode({'q': QUERY})}")
        wait_for_results(browser, QUERY)
        overflow, skip_bottom = browser.execute_script(
            "const root = document.documentElement;"
            "return [root.scrollWidth - root.clientWidth,"
            " document.querySelector('.skip-link').getBoundingClientRect().bottom]"
        )
        assert overflow <= 0
        assert skip_bottom <= 0
    finally:
        browser.execute_cdp_cmd("Page.setFontSizes", {"fontSizes": {"standard": 16}})
        browser.set_window_size(1280, 900)


def test_not_ready_service_says_it_is_starting_then_answers(browser, settings, searcher):
    app = create_app(settings)
    state = app.state.service
    state.load_in_background = lambda loader: None  # stays "loading" until served below
    with live_server(app) as url:
        browser.get(f"{url}/?{urlencode({'q': QUERY})}")
        status = browser.find_element(By.ID, "status")
        wait_for(browser, lambda _: "still starting" in status.text, "the not-ready message")
        assert status.text.startswith("The search service is still starting")
        assert not results(browser)
        state.serve(searcher)  # the page polls /readyz and runs the search once ready
        assert "Al Raisi" in wait_for_results(browser, QUERY)[0].text


def test_source_links_are_named_by_words_not_by_ids(browser, base_url):
    """A tweet's address ends in a number: "twitter.com › 1463417455980818435" named the
    link by an id; the site alone says more."""
    open_page(browser, f"{base_url}/?{urlencode({'q': 'Avant-propos du Secrétaire Général'})}")
    wait_for_results(browser, "Avant-propos du Secrétaire Général")
    names = browser.execute_script(
        "return [...document.querySelectorAll('.sources a')].map(a => a.firstChild.textContent)"
    )
    assert "twitter.com" in names
    assert not [name for name in names if re.search(r"› [^\w]*\d+$", name)]
    assert any(name.startswith("interpol.int › ") for name in names)


def test_a_filter_changed_after_typing_a_new_query_keeps_the_last_search_in_history(
    browser, base_url
):
    """The query typed, not submitted, is searched with the filter, as the form shows it, as a
    new search: the address of the previous one was replaced, and Back skipped it."""
    open_page(browser, f"{base_url}/")
    for query in ("cybercriminalité", "budget"):
        submit(browser, query)
        wait_for_results(browser, query)
    wait_for(
        browser,
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#section option")) > 1,
        "the sections",
    )
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("terrorisme")
    Select(browser.find_element(By.ID, "section")).select_by_index(1)
    wait_for(browser, lambda _: url_state(browser).get("q") == ["terrorisme"], "the new search")
    assert "section" in url_state(browser)
    browser.back()
    wait_for_results(browser, "budget", FAIL_S)
    assert url_state(browser) == {"q": ["budget"]}
    assert box.get_attribute("value") == "budget"


def test_the_filters_load_with_the_first_answer_if_the_service_was_down_at_first(browser, base_url):
    with stubbed_fetch(browser, {"path": "/readyz", "fail": True, "times": 1}):
        browser.get(f"{base_url}/")
        wait_for(browser, lambda b: "could not be reached" in status_text(b), "the failure")
        assert options(browser.find_element(By.ID, "document")) == [""]
        submit(browser, QUERY)
        wait_for_results(browser, QUERY)
        assert options(browser.find_element(By.ID, "document")) == ["", "interpol-2021-fr"]
        wait_for(
            browser,
            lambda b: len(b.find_elements(By.CSS_SELECTOR, "#section option")) > 1,
            "the sections",
            FAIL_S,
        )


def test_a_search_left_for_the_blank_page_leaves_no_notice_and_no_busy_list(browser, base_url):
    with stubbed_fetch(browser):
        open_page(browser, f"{base_url}/")
        # The service reloads: the search waits for it, and the user goes back meanwhile.
        stub(browser, "/search", **LOADING)
        stub(browser, "/readyz", **LOADING)
        submit(browser, "pêche")
        wait_for(browser, lambda b: "still starting" in status_text(b), "the notice", FAIL_S)
        browser.back()
        ready = answered(browser, "/readyz")
        unstub(browser)
        wait_for(browser, lambda b: answered(b, "/readyz") > ready, "the service ready", FAIL_S)
        assert not status_text(browser) and busy(browser) is None
        assert not results(browser) and url_state(browser) == {}
        assert browser.execute_script("return searchInFlight") is None

        # A search still under way when the user goes back.
        stub(browser, "/search", hold=True)
        submit(browser, "pêche")
        wait_for(browser, lambda b: busy(b) == "true", "the search under way", FAIL_S)
        browser.back()
        wait_for(browser, lambda b: busy(b) is None, "the list no longer busy", FAIL_S)
        assert not status_text(browser)


def test_a_503_not_from_the_service_is_no_start_up_and_waiting_ends(browser, base_url):
    """A proxy's HTML 503 was read as "still starting", and the page polled every 2 s for
    ever; with Retry-After it may be a start-up, but the page stops waiting (timers are
    sped up here)."""
    with stubbed_fetch(browser):
        open_page(browser, f"{base_url}/")
        stub(browser, "/search", **PROXY_503)
        submit(browser, QUERY)
        status = browser.find_element(By.ID, "status")
        wait_for(browser, lambda _: "not available" in status.text, "the failure", FAIL_S)
        assert status.text == (
            "The search service is not available (HTTP 503). Please try again later."
        )
        assert "status-error" in (status.get_attribute("class") or "")

        later = {**PROXY_503, "headers": {**PROXY_503["headers"], "retry-after": "5"}}
        stub(browser, "/search", **later)
        stub(browser, "/readyz", **later)
        submit(browser, "budget")
        wait_for(browser, lambda _: "still not ready" in status.text, "the end of waiting", FAIL_S)
        assert status.text == (
            "The search service is still not ready after 2 minutes. Please try again later."
        )


def test_only_a_failed_request_says_the_service_could_not_be_reached(browser, base_url):
    with stubbed_fetch(browser):
        open_page(browser, f"{base_url}/")
        stub(browser, "/search", body="<html>Welcome to the captive portal</html>", times=1)
        submit(browser, QUERY)
        status = browser.find_element(By.ID, "status")
        wait_for(browser, lambda _: "could not be read" in status.text, "the message", FAIL_S)
        assert status.text == "The search failed: its answer could not be read. Please try again."
        assert browser.execute_script("return window.loggedErrors.length") == 1

        stub(browser, "/search", fail=True, times=1)
        submit(browser, "budget")
        wait_for(browser, lambda _: "could not be reached" in status.text, "the message", FAIL_S)


def test_a_line_break_in_a_shared_query_is_searched_as_the_box_shows_it(browser, base_url):
    """The box drops line breaks ("Interpolbudget"), while the search ran on them."""
    browser.get(f"{base_url}/?q=Interpol%0D%0Abudget")
    wait_for_results(browser, "Interpol budget")
    assert browser.find_element(By.ID, "q").get_attribute("value") == "Interpol budget"
    assert browser.title.startswith("Interpol budget –")


def test_source_links_that_would_read_alike_are_told_apart(browser, base_url):
    """Two videos were both "youtube.com › watch", every post "twitter.com"; a slug lost its
    apostrophes and hyphens ("Afrique de l Est", "COVID 19")."""
    open_page(browser, f"{base_url}/")
    news = "https://www.interpol.int/fr/Actualites-et-evenements/Actualites/2021/"
    urls = [
        "https://www.youtube.com/watch?v=VfJfHz90Nt4&t=27s",
        "https://www.youtube.com/watch?v=NSz6xuqedWg",
        "https://twitter.com/INTERPOL_HQ/status/1376586744926195712",
        "https://twitter.com/INTERPOL_HQ/status/1402193111435157508",
        "https://twitter.com/INTERPOL_SG/status/1463417455980818435",
        f"{news}Afrique-de-l-Est-detection-de-suspects",
        f"{news}A-la-suite-d-une-vague-liee-au-COVID-19-INTERPOL-lance-un-projet",
        f"{news}Arrestations-une-operation-INTERPOL-OMD-s-attaque-aux-reseaux",
    ]
    labels = browser.execute_script(
        "return [...sourceList(arguments[0]).querySelectorAll('a')]"
        ".map((a) => a.firstChild.textContent)",
        urls,
    )
    assert labels == [
        "youtube.com › video VfJfHz90Nt4",
        "youtube.com › video NSz6xuqedWg",
        "twitter.com › @INTERPOL_HQ › post 1376586744926195712",
        "twitter.com › @INTERPOL_HQ › post 1402193111435157508",
        "twitter.com › @INTERPOL_SG",
        "interpol.int › Afrique de l’Est detection de suspects",
        "interpol.int › A la suite d’une vague liee au COVID-19 INTERPOL lance un projet",
        "interpol.int › Arrestations une operation INTERPOL-OMD s’attaque aux reseaux",
    ]

    query = "opération antiterroriste Afrique de l'Est"
    open_page(browser, f"{base_url}/?{urlencode({'q': query})}")
    wait_for_results(browser, query)
    shown = browser.execute_script(
        "return [...document.querySelectorAll('.sources')].map((box) =>"
        " [...box.querySelectorAll('a')].map((a) => a.firstChild.textContent))"
    )
    assert any(sum("youtube.com" in name for name in names) == 2 for names in shown)
    assert all(len(set(names)) == len(names) for names in shown)


def test_a_document_id_in_other_case_is_the_listed_one_and_a_refused_one_goes(browser, base_url):
    """An id in capitals was added as a second option, named by its id and with no sections;
    "nope" stayed offered for the rest of the visit."""
    open_page(browser, f"{base_url}/?{urlencode({'q': 'budget', 'document': 'INTERPOL-2021-FR'})}")
    wait_for_results(browser, "budget")
    document = browser.find_element(By.ID, "document")
    assert options(document) == ["", "interpol-2021-fr"]
    assert document.get_attribute("value") == "interpol-2021-fr"
    assert "in INTERPOL — Rapport annuel 2021 (" in status_text(browser)
    wait_for(
        browser,
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#section option")) > 1,
        "the report's sections",
        FAIL_S,
    )

    open_page(browser, f"{base_url}/?{urlencode({'q': 'budget', 'document': 'nope'})}")
    document = browser.find_element(By.ID, "document")
    wait_for(browser, lambda b: "no document 'nope'" in status_text(b), "the refusal")
    assert options(document) == ["", "interpol-2021-fr"]
    assert document.get_attribute("value") == ""


def test_unknown_field_names_unnamed_languages_and_no_time_said(browser, base_url, client):
    """A field name the page does not know is no key of its labels (``in`` read inherited
    ones: "constructor: x" became "function Object()…"); a language code the browser cannot
    name does not empty the document list; an answer from the cache says no "0 ms"."""
    open_page(browser, f"{base_url}/")
    said = browser.execute_script("return refusal('constructor: x').text")
    assert said == "constructor: x"

    stats = client.get("/stats").json()
    stats["passage_languages"] = [*stats["passage_languages"], "not a tag"]
    answer = client.get("/search", params={"q": "budget", "k": 10}).json()
    with stubbed_fetch(
        browser,
        {"path": "/stats", "body": json.dumps(stats)},
        {"path": "/search", "body": json.dumps({**answer, "took_ms": 0.2})},
    ):
        open_page(browser, f"{base_url}/?{urlencode({'q': 'budget'})}")
        assert options(browser.find_element(By.ID, "lang")) == ["", "fr", "not a tag"]
        wait_for_results(browser, "budget")
        assert status_text(browser).endswith("(asked in French).")
