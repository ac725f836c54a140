// The hub's JSON API as the page uses it. Writes carry the session's CSRF token.

export class HttpError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

async function answer(response) {
    let body = null;
    try {
        body = await response.json();
    } catch {
        body = null;
    }
    if (!response.ok) {
        const message = (body && body.error) || `HTTP ${response.status}`;
        throw new HttpError(response.status, message);
    }
    return body;
}

export async function getJSON(url, { signal } = {}) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, signal });
    return answer(response);
}

export async function postJSON(url, body, csrf) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch(url, {
        method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin",
    });
    return answer(response);
}

export function enc(part) {
    return encodeURIComponent(part);
}

export function seriesUrl({ node, plugin, metric, start, end, resolution }) {
    const q = new URLSearchParams({ node, plugin, metric, start, end, resolution });
    return `/api/series?${q}`;
}
