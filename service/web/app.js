// The search page. Its state (query and filters) lives in the URL — /?q=…&lang=…&document=… —
// so a search can be shared and the browser's back and forward buttons work.
// All text from the service goes into the page as text nodes (textContent, append), never
// as HTML, and only http(s) source URLs become links.
"use strict";

const RESULT_COUNT = 10;
const SOURCES_SHOWN = 3;
const READY_POLL_MS = 2000;
// The model and index load in seconds; a service still "starting" after this never will.
const READY_WAIT_MS = 120_000;
const STATE_KEYS = ["q", "lang", "document", "section"];
// As the service counts: code points, not UTF-16 units.
const MAX_QUERY_CHARS = 1000;

const MESSAGES = {
  emptyQuery: "Type a question or some keywords to search for.",
  longQuery: (chars) =>
    `Questions are limited to ${MAX_QUERY_CHARS.toLocaleString("en")} characters; ` +
    `this one has ${chars.toLocaleString("en")}.`,
  starting:
    "The search service is still starting (loading the model and the index). " +
    "Results will appear as soon as it is ready.",
  neverReady:
    `The search service is still not ready after ${READY_WAIT_MS / 60_000} minutes. ` +
    "Please try again later.",
  unreachable:
    "The search service could not be reached. Check that it is running, then try again.",
  unexpected: "The search failed: its answer could not be read. Please try again.",
  notLanguageCode: "not a language code (such as fr or en)",
};

const form = document.getElementById("search-form");
const queryInput = document.getElementById("q");
const queryError = document.getElementById("q-error");
const langSelect = document.getElementById("lang");
const documentSelect = document.getElementById("document");
const sectionSelect = document.getElementById("section");
const langFilter = langSelect.closest(".filter");
const statusLine = document.getElementById("status");
const resultList = document.getElementById("results");

const languageNames = new Intl.DisplayNames(["en"], { type: "language", fallback: "none" });
// Keyed by idKey: the service reads a document id in any case, and so does a shared URL.
const documentTitles = new Map();
const documentLanguages = new Map(); // so that a screen reader reads a title in its language
let outlines = []; // each document's outline (GET /documents/{id}), for the section filter
let filtersLoaded = false; // whether the lists hold what /stats offers

let searchInFlight = null; // AbortController of the search under way: a newer one cancels it
let searchesRun = 0; // so that start() does not repeat a search the user has already made
let readiness = null; // shared promise while waiting for /readyz

// --- Building elements (text only, never HTML) ---------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// What the service says when it cannot tell a query's language (ISO 639-2 "undetermined").
const UNDETERMINED = "und";

function languageName(code) {
  try {
    return languageNames.of(code) ?? code;
  } catch {
    return code; // not a valid language tag
  }
}

function isLanguageTag(code) {
  return /^[A-Za-z]{2,3}$/.test(code);
}

// Ids (documents, language codes) are compared as the service compares them: in any case.
function idKey(id) {
  return id.toLowerCase();
}

function documentTitle(id) {
  return documentTitles.get(idKey(id)) ?? id;
}

// --- The state in the URL ------------------------------------------------------------------

// A query as the box can hold it: the box drops line breaks, so "Interpol\r\nbudget" from a
// shared URL would show as "Interpolbudget" while the search ran on the line break.
function queryText(text) {
  return text.replace(/\s+/g, " ").trim();
}

function stateFromUrl() {
  const params = new URLSearchParams(window.location.search);
  const state = Object.fromEntries(STATE_KEYS.map((key) => [key, (params.get(key) ?? "").trim()]));
  state.q = queryText(state.q);
  return state;
}

function stateFromForm() {
  return {
    q: queryText(queryInput.value),
    lang: langSelect.value,
    document: documentSelect.value,
    section: sectionSelect.value,
  };
}

// The one place the state becomes parameters: of the page's URL and of GET /search.
function stateParams(state) {
  const params = new URLSearchParams();
  for (const key of STATE_KEYS) if (state[key]) params.set(key, state[key]);
  return params;
}

function urlFor(state) {
  const query = stateParams(state).toString();
  return `${window.location.pathname}${query ? `?${query}` : ""}`;
}

function selectValue(select, value) {
  // A shared URL may name a value the list does not (yet) hold: keep it rather than drop it,
  // marked as added (dropOptionsRefused). "INTERPOL-2021-FR" is the listed "interpol-2021-fr".
  const listed = [...select.options].find((option) => idKey(option.value) === idKey(value));
  if (listed) {
    select.value = listed.value;
    return;
  }
  const added = new Option(value, value);
  added.dataset.added = "";
  select.append(added);
  select.value = value;
}

function fillForm(state) {
  queryInput.value = state.q;
  selectValue(langSelect, state.lang);
  selectValue(documentSelect, state.document);
  fillSections(state.section);
}

// --- Messages --------------------------------------------------------------------------------

// ``content``: text, or a list of text and elements (a query marked with its language).
function showStatus(content, kind = "info") {
  statusLine.replaceChildren(...[content].flat());
  statusLine.className = `status status-${kind}`;
}

// Said at the box (an alert, since focus is already there) and nowhere else: results and
// status of an earlier search would read as the answer to this one.
function showQueryError(text) {
  cancelSearch();
  resultList.replaceChildren();
  showStatus("");
  queryError.textContent = text;
  queryError.hidden = false;
  queryInput.setAttribute("aria-invalid", "true");
  queryInput.focus();
}

// The service names the field it refuses as its API does ("q: …"); the page names its own.
const FIELD_LABELS = { lang: "Passage language", document: "Document", section: "Section" };

// What a 4xx's ``detail`` says: the ``field`` it names (null if none), its ``reason``, and
// ``text`` for the page.
// ``errors``: the answer's list for programs, which tells a malformed language code, whose
// message from the schema quotes a regular expression.
function refusal(detail, errors = []) {
  const [, field = null, said = detail] = /^(\w+): (.*)$/s.exec(detail) ?? [];
  const malformed = errors.some(
    (error) => error?.loc?.at(-1) === "lang" && error.type === "string_pattern_mismatch",
  );
  const reason = field === "lang" && malformed ? MESSAGES.notLanguageCode : said;
  const labelled = field !== null && Object.hasOwn(FIELD_LABELS, field);
  return { field, reason, text: labelled ? `${FIELD_LABELS[field]}: ${reason}` : detail };
}

// "the query has no letters…" from the service, said at the box as the page's own messages.
function sentence(text) {
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

// Why the page will not send ``q``, or null: an empty query or one over the limit is said at
// the box, typed or from a shared URL, in the page's words.
function queryProblem(q) {
  if (!q) return MESSAGES.emptyQuery;
  const chars = Array.from(q).length;
  return chars > MAX_QUERY_CHARS ? MESSAGES.longQuery(chars) : null;
}

function clearQueryError() {
  queryError.textContent = "";
  queryError.hidden = true;
  queryInput.removeAttribute("aria-invalid");
}

// An error answer's ``detail`` (null unless the service's JSON) and its ``errors`` list.
async function errorOf(response) {
  try {
    const body = await response.json();
    return {
      detail: typeof body?.detail === "string" ? body.detail : null,
      errors: Array.isArray(body?.errors) ? body.errors : [],
    };
  } catch {
    return { detail: null, errors: [] }; // not JSON: a proxy's page, say
  }
}

// A 503 means "still starting" when the service says it is loading or asks to retry later;
// one with another reason is a failed load, and a bare one (a proxy's HTML page) could last.
function isStarting(response, detail) {
  return (detail !== null && /loading/i.test(detail)) || response.headers.has("Retry-After");
}

function notReadyMessage(response, detail) {
  if (isStarting(response, detail)) return MESSAGES.starting;
  return detail
    ? `The search service is not available: ${detail}`
    : `The search service is not available (HTTP ${response.status}). Please try again later.`;
}

class ServiceUnavailable extends Error {}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves once /readyz answers 200, saying meanwhile that the service is starting; rejects
// with a message for the page if loading failed, never ends, or the service cannot be
// reached. The notice is taken back either way: the search that waited may have been left
// (back to the blank page) and would never replace it.
function serviceReady() {
  readiness ??= (async () => {
    for (let waited = 0; ; waited += READY_POLL_MS) {
      let response;
      try {
        response = await fetch("/readyz", { headers: { accept: "application/json" } });
      } catch {
        throw new ServiceUnavailable(MESSAGES.unreachable);
      }
      if (response.ok) return;
      const { detail } = await errorOf(response);
      if (response.status !== 503 || !isStarting(response, detail)) {
        throw new ServiceUnavailable(notReadyMessage(response, detail));
      }
      if (waited >= READY_WAIT_MS) throw new ServiceUnavailable(MESSAGES.neverReady);
      showStatus(MESSAGES.starting, "notice");
      await sleep(READY_POLL_MS);
    }
  })()
    .then(
      () => {
        if (statusLine.textContent === MESSAGES.starting) showStatus("");
      },
      (error) => {
        if (statusLine.textContent === MESSAGES.starting) showStatus(error.message, "error");
        throw error;
      },
    )
    .finally(() => {
      readiness = null;
    });
  return readiness;
}

// --- Results ---------------------------------------------------------------------------------

function passageText(text, highlight, lang, section) {
  const passage = el("p", { class: "passage" });
  if (isLanguageTag(lang)) passage.lang = lang;
  // A passage that opens its section starts with the heading the title above already shows.
  const skip = section && text.startsWith(`${section}\n`) ? Array.from(section).length + 1 : 0;
  // The service counts offsets in code points (Python strings), not UTF-16 units.
  const chars = Array.from(text).slice(skip);
  text = chars.join("");
  const start = (highlight ?? {}).start - skip;
  const end = (highlight ?? {}).end - skip;
  const valid = Number.isInteger(start) && Number.isInteger(end);
  if (valid && start >= 0 && start < end && end <= chars.length) {
    passage.append(
      chars.slice(0, start).join(""),
      el("mark", {}, chars.slice(start, end).join("")),
      chars.slice(end).join(""),
    );
  } else {
    passage.append(text);
  }
  return passage;
}

function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // keep the raw part
  }
}

// A slug as words: "Afrique-de-l-Est" reads "Afrique de l’Est", "COVID-19" and "INTERPOL-OMD"
// keep their hyphen. A slug writes spaces, apostrophes and hyphens alike as "-", so the page
// puts back what French elision ("l-", "d-", "qu-" before a vowel) and capitals tell.
const ELIDED = /(?<![\p{L}\p{N}])(jusqu|lorsqu|puisqu|qu|[cdjlmns])-(?=[aeiouyhàâéèêëîïôûü])/giu;
const JOINED = /(?<=(?<!\p{L})\p{Lu}{2,})-(?=\p{Lu}{2,}(?!\p{L})|\p{N}+(?![\p{L}\p{N}]))/gu;
const HELD_HYPHEN = "\u2011"; // a hyphen kept while the others become spaces

function slugWords(slug) {
  return slug
    .replace(/\.(html?|php|aspx?)$/i, "")
    .replace(ELIDED, "$1’")
    .replace(JOINED, HELD_HYPHEN)
    .replace(/[-_+]+/g, " ")
    .replaceAll(HELD_HYPHEN, "-")
    .trim();
}

// The names a source link can go by, shortest first: the site and the page's words; then,
// for links that would otherwise read alike, what tells them apart (a video's id, a post's
// account and number); last, the whole address.
function linkLabels(url) {
  const host = url.hostname.replace(/^www\./, "");
  const segments = url.pathname.split("/").filter(Boolean).map(decoded);
  const last = segments.length ? slugWords(segments.at(-1)) : "";
  // A last part without a word in it (a language code such as "fr", an id) names the site
  // alone: "interpol.int › fr" read as if the page were called "fr".
  const labels = [/\p{L}{4,}/u.test(last) ? `${host} › ${last}` : host];
  const video = url.searchParams.get("v");
  if (video) labels.push(`${host} › video ${video}`);
  const [account, kind, post] = segments;
  if (segments.length === 3 && kind === "status") {
    labels.push(`${host} › @${account}`, `${host} › @${account} › post ${post}`);
  }
  labels.push(`${host}${decoded(url.pathname)}${decoded(url.search)}`);
  return labels;
}

// Each link's label, the shortest that no other link of the list shares.
function distinctLabels(urls) {
  const ladders = urls.map(linkLabels);
  const steps = urls.map(() => 0);
  for (let again = true; again; ) {
    again = false;
    const labels = ladders.map((ladder, i) => ladder[steps[i]]);
    labels.forEach((label, i) => {
      const shared = labels.indexOf(label) !== labels.lastIndexOf(label);
      if (shared && steps[i] < ladders[i].length - 1) {
        steps[i] += 1;
        again = true;
      }
    });
  }
  return ladders.map((ladder, i) => ladder[steps[i]]);
}

function webAddress(address) {
  try {
    const url = new URL(address);
    return ["http:", "https:"].includes(url.protocol) ? url : null;
  } catch {
    return null; // not a URL: shown as text
  }
}

function sourceItem(address, url, label) {
  if (!url) return el("li", {}, address);
  const link = el(
    "a",
    { href: url.href, target: "_blank", rel: "noopener noreferrer", title: address },
    label,
    el("span", { class: "visually-hidden" }, " (opens in a new tab)"),
  );
  return el("li", {}, link);
}

function sourceList(urls) {
  const box = el("div", { class: "sources" });
  if (!urls.length) return box;
  const addresses = urls.map(webAddress);
  const links = addresses.filter(Boolean);
  const labels = new Map(distinctLabels(links).map((label, i) => [links[i], label]));
  const items = urls.map((address, i) =>
    sourceItem(address, addresses[i], labels.get(addresses[i])),
  );
  box.append(
    el("h4", { class: "sources-title" }, urls.length === 1 ? "Source" : `Sources (${urls.length})`),
    el("ul", { class: "source-list" }, ...items.slice(0, SOURCES_SHOWN)),
  );
  const rest = items.slice(SOURCES_SHOWN);
  if (rest.length) {
    box.append(
      el(
        "details",
        { class: "more-sources" },
        el("summary", {}, `${rest.length} more source${rest.length === 1 ? "" : "s"}`),
        el("ul", { class: "source-list" }, ...rest),
      ),
    );
  }
  return box;
}

function resultItem(hit) {
  const titleId = `hit-${hit.rank}-title`;
  const section = el("h3", { class: "section", id: titleId }, hit.section || "Untitled section");
  if (isLanguageTag(hit.lang)) section.lang = hit.lang;
  // The chapters the section lies under (where the report's format tells), outermost first.
  const chapters = hit.chapters ?? [];
  const within = chapters.length
    ? [el("span", { class: "also" }, "In: ", inLanguage(chapters.join(" › "), hit.lang))]
    : [];
  // A short section joined to this passage's: its heading is a line of the text, and named
  // here so the reader knows the passage holds it too.
  const others = (hit.sections ?? []).filter(
    (title) => title !== hit.section && !chapters.includes(title),
  );
  const also = others.length
    ? [el("span", { class: "also" }, "Also: ", inLanguage(others.join(" · "), hit.lang))]
    : [];
  const meta = el(
    "p",
    { class: "meta" },
    el("span", {}, `Page ${hit.page}`),
    el("span", {}, languageName(hit.lang)),
    el("span", {}, inLanguage(
      documentTitle(hit.document),
      documentLanguages.get(idKey(hit.document)),
    )),
    ...within,
    ...also,
    el("span", { class: "score" }, `score ${hit.score.toFixed(2)}`),
  );
  const rank = el(
    "span",
    { class: "rank" },
    el("span", { class: "visually-hidden" }, "Rank "),
    String(hit.rank),
  );
  const article = el(
    "article",
    { class: "hit", "aria-labelledby": titleId },
    el("div", { class: "hit-head" }, rank, section),
    meta,
    passageText(hit.text, hit.highlight, hit.lang, hit.section),
    sourceList(hit.source_urls ?? []),
  );
  return el("li", { class: "result", "data-passage-id": hit.passage_id }, article);
}

// Text in the report's language inside the English page.
function inLanguage(text, lang) {
  return isLanguageTag(lang ?? "") ? el("span", { lang }, text) : text;
}

function filtersText(state) {
  const parts = [];
  if (state.lang) parts.push(`in ${languageName(state.lang)}`);
  if (state.document) parts.push(`in ${documentTitle(state.document)}`);
  if (state.section) parts.push(`in sections titled “${state.section}”`);
  return parts.length ? ` ${parts.join(" ")}` : "";
}

function showResults(body, state) {
  resultList.replaceChildren(...body.results.map(resultItem));
  const count = body.results.length;
  if (!count) {
    showStatus(
      `No passage matches “${body.query}”${filtersText(state)}. Try other words or remove a filter.`,
    );
    return;
  }
  const asked =
    body.query_lang === UNDETERMINED
      ? "language not recognised"
      : `asked in ${languageName(body.query_lang)}`;
  // An answer from the service's cache takes no time worth saying ("0 ms").
  const took = Math.round(body.took_ms);
  const timing = took > 0 ? `, ${took} ms` : "";
  // The query is said in its own language, as a screen reader should pronounce it.
  showStatus([
    `${count} passage${count === 1 ? "" : "s"} for “`,
    inLanguage(body.query, body.query_lang),
    `”${filtersText(state)} (${asked}${timing}).`,
  ]);
}

// --- Searching -------------------------------------------------------------------------------

// Abandons the search under way, if any: its answer would no longer be this page's.
function cancelSearch() {
  searchInFlight?.abort();
  searchInFlight = null;
  resultList.removeAttribute("aria-busy");
}

async function runSearch(state) {
  cancelSearch();
  searchesRun += 1;
  document.title = state.q ? `${state.q} – Report search` : "Report search";
  if (!state.q) {
    resultList.replaceChildren();
    showStatus("");
    return;
  }
  const problem = queryProblem(state.q);
  if (problem) {
    showQueryError(problem); // a query from a shared URL: said at the box, as a typed one
    return;
  }
  const controller = new AbortController();
  searchInFlight = controller;
  const params = stateParams(state);
  params.set("k", String(RESULT_COUNT));
  showStatus(`Searching for “${state.q}”…`);
  resultList.setAttribute("aria-busy", "true");
  try {
    let response;
    try {
      response = await fetch(`/search?${params}`, {
        signal: controller.signal,
        headers: { accept: "application/json" },
      });
    } catch {
      if (controller.signal.aborted) return;
      throw new ServiceUnavailable(MESSAGES.unreachable); // no answer at all
    }
    if (response.ok) {
      const body = await response.json();
      await filtersFor(body.results);
      if (controller.signal.aborted) return;
      showResults(body, state);
      return;
    }
    const { detail, errors } = await errorOf(response);
    if (controller.signal.aborted) return;
    resultList.replaceChildren();
    if (response.status === 503) {
      const starting = isStarting(response, detail);
      showStatus(notReadyMessage(response, detail), starting ? "notice" : "error");
      if (starting) {
        await serviceReady();
        if (!controller.signal.aborted) runSearch(state);
      }
      return;
    }
    const refused = detail && response.status < 500 ? refusal(detail, errors) : null;
    if (refused?.field === "q") {
      showQueryError(sentence(refused.reason)); // said at the box
    } else if (refused) {
      showStatus(refused.text, "error"); // the service's 4xx messages are for people
      dropOptionsRefused();
    } else {
      showStatus(`The search failed (HTTP ${response.status}). Please try again.`, "error");
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    resultList.replaceChildren();
    if (error instanceof ServiceUnavailable) {
      showStatus(error.message, "error");
    } else {
      console.error(error); // an answer that is not the service's JSON, or a bug of the page
      showStatus(MESSAGES.unexpected, "error");
    }
  } finally {
    if (searchInFlight === controller) {
      searchInFlight = null;
      resultList.removeAttribute("aria-busy");
    }
  }
}

// Puts the form's search in the address and runs it. ``replace``: the new address takes the
// place of the current one instead of adding a history entry.
function search(state, replace = false) {
  const problem = queryProblem(state.q);
  if (problem) {
    showQueryError(problem); // no request for an empty query, nor one cut short unsaid
    return;
  }
  clearQueryError();
  const url = urlFor(state);
  if (replace) {
    window.history.replaceState(null, "", url);
  } else if (url !== `${window.location.pathname}${window.location.search}`) {
    window.history.pushState(null, "", url);
  }
  runSearch(state);
}

function onSubmit(event) {
  event.preventDefault();
  search(stateFromForm());
}

// A filter applies at once. Arrowing through a closed list changes it at every step, so
// the address is replaced rather than pushed: one history entry, not one per step. A query
// typed but not submitted is searched with the filter, as the form now shows, but as a new
// search: its entry is added, so that Back still returns to the one searched before.
function onFilterChange() {
  const state = stateFromForm();
  if (!state.q || queryError.textContent) return;
  search(state, state.q === stateFromUrl().q);
}

function onHistoryChange() {
  const state = stateFromUrl();
  fillForm(state);
  clearQueryError();
  runSearch(state);
}

// The filters offer what the index holds: its documents, and the languages its passages
// are written in (a language no passage is in would only get the service's 422).
async function loadFilters() {
  const response = await fetch("/stats", { headers: { accept: "application/json" } });
  if (!response.ok) return;
  const { documents, passage_languages: languages } = await response.json();
  const chosenLang = stateFromUrl().lang || langSelect.value;
  langSelect.replaceChildren(new Option("Any language", ""));
  for (const code of languages) langSelect.append(new Option(languageName(code), code));
  selectValue(langSelect, chosenLang);
  const chosen = stateFromUrl().document || documentSelect.value;
  documentSelect.replaceChildren(new Option("All documents", ""));
  documentTitles.clear();
  documentLanguages.clear();
  for (const doc of documents) {
    const withYear = doc.year && !doc.title.includes(String(doc.year));
    const title = withYear ? `${doc.title} (${doc.year})` : doc.title;
    documentTitles.set(idKey(doc.id), title || doc.id);
    documentLanguages.set(idKey(doc.id), doc.language);
    documentSelect.append(new Option(title || doc.id, doc.id));
  }
  selectValue(documentSelect, chosen);
  filtersLoaded = true;
  showLanguageFilter();
  // Not awaited: the first search need not wait for every document's outline.
  loadSections(documents).catch(() => {});
}

// A language filter over passages all in one language would only offer that language.
function showLanguageFilter() {
  langFilter.hidden = langSelect.options.length < 3 && !langSelect.value;
}

// Before results are shown: the filters are loaded if they never were (the service was
// down when the page opened), or again if a result is from a document they do not list
// (the service has since loaded another index).
async function filtersFor(results) {
  const unlisted = results.some((hit) => !documentTitles.has(idKey(hit.document)));
  if (!filtersLoaded || unlisted) await loadFilters().catch(() => {});
}

// A value a shared URL chose that the lists lack was kept as an added option until the
// service answered; once it refuses the search, a language or document the lists do not
// offer is known to be wrong, and is not offered for the rest of the visit. (A section is
// matched within titles, so one the list lacks may be right.)
function dropOptionsRefused() {
  if (!filtersLoaded) return;
  for (const select of [langSelect, documentSelect]) {
    for (const option of [...select.options]) if ("added" in option.dataset) option.remove();
  }
  fillSections(sectionSelect.value);
  showLanguageFilter();
}

async function loadSections(documents) {
  const answers = await Promise.allSettled(
    documents.map(async (doc) => {
      const response = await fetch(`/documents/${encodeURIComponent(doc.id)}`, {
        headers: { accept: "application/json" },
      });
      if (!response.ok) throw new Error(`GET /documents/${doc.id}: ${response.status}`);
      return response.json();
    }),
  );
  // A document whose outline could not be read just offers no sections.
  outlines = answers.filter((a) => a.status === "fulfilled").map((a) => a.value);
  fillSections(stateFromUrl().section || sectionSelect.value);
}

// The sections of the chosen document, or of every document under its title, in reading
// order; the filter matches any part of a title, so a title chosen here finds its passages.
// ``keep``: a section to keep chosen, even one the list lacks (a shared URL's).
function fillSections(keep) {
  const chosenDocument = idKey(documentSelect.value);
  const shown = chosenDocument
    ? outlines.filter((outline) => idKey(outline.id) === chosenDocument)
    : outlines;
  sectionSelect.replaceChildren(new Option("All sections", ""));
  for (const outline of shown) {
    const group =
      shown.length > 1
        ? el("optgroup", { label: documentTitle(outline.id) })
        : sectionSelect;
    if (group !== sectionSelect) sectionSelect.append(group);
    const seen = new Set(); // a title the report repeats is offered once
    // Each title indented under its chapters; a chapter without text of its own (its first
    // article right under it) is offered too: filtering on it finds its articles.
    const offer = (title, depth, page) => {
      if (seen.has(title)) return;
      seen.add(title);
      const option = new Option(`${"\u00a0\u00a0".repeat(depth)}${title} (p. ${page})`, title);
      option.dataset.document = outline.id;
      group.append(option);
    };
    for (const section of outline.sections) {
      const chapters = section.chapters ?? [];
      chapters.forEach((chapter, depth) => offer(chapter, depth, section.page_first));
      offer(section.title, chapters.length, section.page_first);
    }
  }
  selectValue(sectionSelect, keep);
}

function onDocumentChange() {
  // The section stays chosen only if the newly chosen document has it.
  const section = sectionSelect.value;
  fillSections("");
  if ([...sectionSelect.options].some((option) => option.value === section)) {
    sectionSelect.value = section;
  }
  onFilterChange();
}

function onSectionChange() {
  // A section listed under one report's title means that report's section.
  const owner = sectionSelect.selectedOptions[0]?.dataset.document;
  if (owner && !documentSelect.value && outlines.length > 1) {
    documentSelect.value = owner;
    fillSections(sectionSelect.value);
  }
  onFilterChange();
}

async function start() {
  form.addEventListener("submit", onSubmit);
  queryInput.addEventListener("input", clearQueryError);
  langSelect.addEventListener("change", onFilterChange);
  documentSelect.addEventListener("change", onDocumentChange);
  sectionSelect.addEventListener("change", onSectionChange);
  window.addEventListener("popstate", onHistoryChange);

  const state = stateFromUrl();
  fillForm(state);
  try {
    await serviceReady();
  } catch (error) {
    showStatus(error.message, "error"); // the filters are loaded by the first search's answer
    return;
  }
  // On failure the filters just keep "Any language", "All documents", "All sections".
  await loadFilters().catch(() => {});
  if (!searchesRun && state.q) runSearch(stateFromUrl());
}

start();
