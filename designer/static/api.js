// One fetch wrapper for every page: JSON in and out, the CSRF header on
// writes, and one place where errors are shown.

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const csrf = csrfMeta ? csrfMeta.content : "";

export class ApiError extends Error {
  constructor(status, code, message, findings) {
    super(message);
    this.status = status;
    this.code = code;
    this.findings = findings || [];
  }
}

// `path` is a workspace-relative file path; each segment is encoded on its own
// so the slashes stay slashes.
export function filePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

// A run id as one path segment, for /api/runs/{id}/... and /runs/{id}. A
// child run's id holds "/" (parent/state); sent as %2F, the server never
// takes the id's last part for the route's (a subflow state named "history").
export function runSegment(id) {
  return encodeURIComponent(id);
}

export async function api(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["X-CSRF-Token"] = csrf;
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, "network", `the server did not answer (${err.message}); is wfdsl serve still running?`);
  }
  let payload = null;
  const text = await response.text();
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (!response.ok) {
    const error = payload && payload.error;
    throw new ApiError(
      response.status,
      error ? error.code : "http_" + response.status,
      error ? error.message : `${method} ${url} answered ${response.status}`,
      error ? error.findings : [],
    );
  }
  return payload;
}

// The banner at the top of every page (base.html).
const banner = document.getElementById("error-banner");
if (banner) {
  banner.querySelector(".error-banner-close").addEventListener("click", () => hideError({ notice: true }));
}

// A `notice` (something the user must read, not the state of the current
// text) stays until it is closed or `hideError({ notice: true })`: the
// next validation of the text does not take it away.
export function showError(err, { notice = false } = {}) {
  const message = err instanceof ApiError ? describe(err) : String(err && err.message ? err.message : err);
  if (!banner) {
    console.error(message);
    return;
  }
  banner.querySelector(".error-banner-text").textContent = message;
  banner.dataset.notice = notice ? "true" : "false";
  banner.hidden = false;
}

export function hideError({ notice = false } = {}) {
  if (!banner || (banner.dataset.notice === "true" && !notice)) return;
  banner.hidden = true;
}

function describe(err) {
  let text = err.message;
  if (err.findings && err.findings.length) {
    const first = err.findings.slice(0, 3).map((f) => (f.line ? `line ${f.line}: ` : "") + f.message);
    text += " — " + first.join("; ");
    if (err.findings.length > 3) text += ` (and ${err.findings.length - 3} more)`;
  }
  return text;
}

// A time from the API: epoch seconds or an ISO 8601 text; null when neither.
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const seconds = Number(value);
  const date = Number.isFinite(seconds) ? new Date(seconds * 1000) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date;
}

// Times in <time class="epoch" datetime="…"> become local, readable times.
export function formatEpochs(root = document) {
  for (const el of root.querySelectorAll("time.epoch")) {
    const date = toDate(el.getAttribute("datetime"));
    if (!date) continue;
    el.setAttribute("datetime", date.toISOString());
    el.textContent = formatTime(date);
    el.title = date.toISOString();
  }
}

export function formatTime(date) {
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString(undefined, { hour12: false })
    : date.toLocaleString(undefined, { hour12: false });
}

export function readJson(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}
