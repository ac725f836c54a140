// Login (POST /api/login: the token once, then an HttpOnly session cookie and a CSRF token
// kept in memory) and the buzzer and LED controls of every plugin that offers them. Each
// command is POSTed with X-CSRF-Token and its result or error shown beside it.
import { enc, getJSON, postJSON } from "./api.js";
import { h, replaceChildren } from "./dom.js";

export class Controls {
    constructor({ root, form, tokenInput, loginResult, session, sessionText, logout }) {
        Object.assign(this, { root, form, tokenInput, loginResult, session, sessionText, logout });
        this.csrf = null;
        this.writes = false;
        this.offers = [];
        this.results = new Map(); // panel -> its last result, kept across re-renders
        form.addEventListener("submit", (event) => {
            event.preventDefault();
            this.login();
        });
        logout.addEventListener("click", () => this.logoutNow());
    }

    async start() {
        try {
            const s = await getJSON("/api/session");
            this.writes = Boolean(s.writes);
            this.csrf = s.authenticated ? s.csrf_token : null;
        } catch (error) {
            this.loginResult.textContent = `session: ${error.message}`;
        }
        this._showSession();
    }

    async login() {
        this._result(this.loginResult, "logging in…");
        try {
            const reply = await postJSON("/api/login", { token: this.tokenInput.value });
            this.csrf = reply.csrf_token;
            this.tokenInput.value = "";
            this._result(this.loginResult, "");
        } catch (error) {
            this._result(this.loginResult, error.status === 403 ? "wrong token" : error.message, false);
        }
        this._showSession();
    }

    async logoutNow() {
        try {
            await postJSON("/api/logout", {}, this.csrf);
        } catch {
            // the session is dropped here either way
        }
        this.csrf = null;
        this._showSession();
    }

    setOffers(controls) {
        const key = JSON.stringify(controls);
        if (key === this._key) return;
        this._key = key;
        this.offers = controls;
        this._render();
    }

    _showSession() {
        const in_ = Boolean(this.csrf);
        this.form.hidden = in_ || !this.writes;
        this.session.hidden = !in_;
        this.root.dataset.authenticated = in_ ? "true" : "false";
        if (!this.writes) this.loginResult.textContent = "";
        this._render();
    }

    _render() {
        if (!this.writes) {
            return replaceChildren(this.root, h("p", { class: "empty" }, "Writes are off: the hub has no API token."));
        }
        if (!this.offers.length) return replaceChildren(this.root, h("p", { class: "empty" }, "No node offers buzzer or LED commands."));
        replaceChildren(this.root, this.offers.map((offer) => this._panel(offer)));
    }

    _panel(offer) {
        const has = (name) => offer.commands.includes(name);
        const disabled = !this.csrf;
        const key = `${offer.node}/${offer.plugin}`;
        const out = h("output", { class: "result", dataset: { for: key } });
        const last = this.results.get(key);
        if (last) this._result(out, last.text, last.ok);
        const send = (command, args) => this._send(offer, command, args, out);
        const freq = h("input", { type: "number", min: "20", max: "20000", value: "2000", name: "frequency_hz" });
        const ms = h("input", { type: "number", min: "1", max: "10000", value: "200", name: "duration_ms" });
        const color = h("input", { type: "color", value: "#33cc66", name: "color" });
        const rows = [];
        if (has("buzzer.beep")) {
            rows.push(h("div", { class: "row" },
                h("label", {}, "Hz", freq), h("label", {}, "ms", ms),
                h("button", { type: "button", disabled, dataset: { command: "buzzer.beep" },
                    onclick: () => send("buzzer.beep", { frequency_hz: Number(freq.value), duration_ms: Number(ms.value) }) }, "Beep"),
                has("buzzer.off") && h("button", { type: "button", class: "quiet", disabled, dataset: { command: "buzzer.off" },
                    onclick: () => send("buzzer.off", {}) }, "Silence")));
        }
        if (has("led.fill")) {
            rows.push(h("div", { class: "row" },
                h("label", {}, "LED colour", color),
                h("button", { type: "button", disabled, dataset: { command: "led.fill" },
                    onclick: () => send("led.fill", { color: color.value }) }, "Fill"),
                has("led.off") && h("button", { type: "button", class: "quiet", disabled, dataset: { command: "led.off" },
                    onclick: () => send("led.off", {}) }, "LEDs off")));
        }
        return h("div", { class: "control", dataset: { node: offer.node, plugin: offer.plugin } },
            h("h3", {}, `${offer.node} · ${offer.plugin}`),
            disabled && h("p", { class: "empty" }, "Log in to send commands."),
            rows, out);
    }

    async _send(offer, command, args, out) {
        const key = out.dataset.for;
        const show = (text, ok) => {
            this.results.set(key, { text, ok });
            const current = this.root.querySelector(`output[data-for="${CSS.escape(key)}"]`) || out;
            this._result(current, text, ok);
        };
        show(`${command}…`);
        try {
            const result = await postJSON(`/api/nodes/${enc(offer.node)}/commands`,
                { command, args, plugin: offer.plugin }, this.csrf);
            if (result.ok) show(`${command}: ok ${JSON.stringify(result.result)}`, true);
            else show(`${command}: ${result.error?.code}: ${result.error?.message}`, false);
        } catch (error) {
            if (error.status === 401 || error.status === 403) {
                this.csrf = null;
                this.results.set(key, { text: `${command}: ${error.message}`, ok: false });
                this._showSession();
            }
            show(`${command}: ${error.message}`, false);
        }
    }

    _result(el, text, ok) {
        el.textContent = text;
        el.classList.toggle("ok", ok === true);
        el.classList.toggle("error", ok === false);
    }
}
