// The page's link to the dashboard plugin itself: /ui/overview.json, refreshed every few
// seconds. When it fails (503 while the plugin restarts, or no answer at all) a banner
// says so and the page retries with back-off; the first answer clears it.
import { getJSON } from "./api.js";

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15000;
const TIMEOUT_MS = 8000;

export class OverviewPoller {
    constructor(url, everyMs, banner, onOverview) {
        Object.assign(this, { url, everyMs, banner, onOverview });
        this.retryMs = FIRST_RETRY_MS;
        this.timer = null;
        this.updates = 0;
        this.outages = 0;
    }

    start() {
        this._schedule(this.everyMs);
    }

    /** Fetch now (e.g. after a `plugins` or `reset` event), then keep the rhythm. */
    now() {
        this._schedule(0);
    }

    _schedule(ms) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this._poll(), ms);
    }

    async _poll() {
        const abort = new AbortController();
        const timeout = setTimeout(() => abort.abort(), TIMEOUT_MS);
        try {
            const overview = await getJSON(this.url, { signal: abort.signal });
            this.retryMs = FIRST_RETRY_MS;
            this._hide();
            this.updates += 1;
            document.body.dataset.overviewUpdates = String(this.updates);
            this.onOverview(overview);
            this._schedule(this.everyMs);
        } catch (error) {
            const why = error.status ? `HTTP ${error.status}` : "no answer";
            this._show(`The dashboard service is not answering (${why}); retrying in ${Math.round(this.retryMs / 1000)} s. Live data keeps coming.`);
            this._schedule(this.retryMs);
            this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
        } finally {
            clearTimeout(timeout);
        }
    }

    _show(text) {
        if (this.banner.hidden) {
            this.outages += 1;
            document.body.dataset.outages = String(this.outages);
        }
        this.banner.textContent = text;
        this.banner.hidden = false;
        document.body.dataset.banner = "shown";
    }

    _hide() {
        if (this.banner.hidden) return;
        this.banner.hidden = true;
        document.body.dataset.banner = "cleared";
    }
}
