// The hub's live channel (GET /api/stream, Server-Sent Events). The browser's EventSource
// reconnects by itself and resends Last-Event-ID, so the hub replays what was missed; when
// it gives up (the hub answered with an error), we reconnect with back-off and ?after=.
// A `reset` means the hub no longer holds what we missed: the page refetches its state.

const TYPES = ["hello", "status", "health", "readings", "log", "event", "plugins", "reset"];
const MAX_BACKOFF_MS = 15000;

export class LiveStream {
    /** handlers: {readings(data), log(data), ..., reset(), state(name)} — all optional. */
    constructor(url, handlers) {
        this.url = url;
        this.handlers = handlers;
        this.lastId = null;
        this.backoff = 1000;
        this.source = null;
        this.timer = null;
    }

    start() {
        this.stop();
        const url = this.lastId ? `${this.url}?after=${encodeURIComponent(this.lastId)}` : this.url;
        const source = new EventSource(url);
        this.source = source;
        this._state("connecting");
        source.onopen = () => {
            this.backoff = 1000;
            this._state("live");
        };
        source.onerror = () => {
            if (source.readyState === EventSource.CLOSED) {
                this._state("down");
                this.timer = setTimeout(() => this.start(), this.backoff);
                this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
            } else {
                this._state("connecting"); // the browser retries by itself
            }
        };
        for (const type of TYPES) {
            source.addEventListener(type, (message) => this._deliver(type, message));
        }
    }

    stop() {
        clearTimeout(this.timer);
        if (this.source) this.source.close();
        this.source = null;
    }

    _state(name) {
        this.handlers.state?.(name);
    }

    _deliver(type, message) {
        if (message.lastEventId) this.lastId = message.lastEventId;
        let data;
        try {
            data = JSON.parse(message.data);
        } catch {
            return; // not ours to guess at
        }
        if (type === "readings") {
            // The bench and tests listen for these: one per readings event, as received.
            window.dispatchEvent(new CustomEvent("harvester:readings", { detail: data }));
        }
        this.handlers[type]?.(data);
    }
}
