// A card per node: online/offline, CPU, memory, temperature, uptime, last seen. Drawn from
// the overview; health and status events update it live.
import { ago, duration, fixed, h, nodeLabel, replaceChildren } from "./dom.js";

export class NodeCards {
    constructor(root) {
        this.root = root;
        this.nodes = new Map(); // name -> node row (overview + live updates)
        setInterval(() => this._refreshTimes(), 5000);
    }

    setNodes(nodes) {
        this.nodes = new Map(nodes.map((n) => [n.name, { ...n }]));
        this.render();
    }

    health(data) {
        const node = this.nodes.get(data.node);
        if (!node) return;
        node.health = data.metrics;
        node.health_at = data.at;
        node.last_seen = Math.max(node.last_seen || 0, data.at);
        this.render();
    }

    status(data) {
        const node = this.nodes.get(data.node);
        if (!node) return false; // a node we have not seen: the caller refetches
        node.state = data.state;
        node.reason = data.reason;
        if (data.state === "online") node.last_seen = Math.max(node.last_seen || 0, data.at);
        this.render();
        return true;
    }

    seen(name, at) {
        const node = this.nodes.get(name);
        if (node && typeof at === "number") node.last_seen = Math.max(node.last_seen || 0, at);
    }

    render() {
        replaceChildren(this.root, [...this.nodes.values()].map((n) => this._card(n)));
    }

    _refreshTimes() {
        for (const el of this.root.querySelectorAll("[data-seen]")) {
            el.textContent = ago(Number(el.dataset.seen));
        }
    }

    _card(node) {
        const m = node.health || {};
        const online = node.state === "online";
        const row = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
        return h("article", { class: "card", dataset: { node: node.name, state: node.state } },
            h("header", {},
                h("h3", {}, nodeLabel(node), " ", h("span", { class: "role" }, `${node.name} · ${node.role || "?"}`)),
                h("span", { class: `state ${online ? "online" : "offline"}` }, online ? "online" : "offline"),
            ),
            h("dl", {},
                row("CPU", `${fixed(m.cpu_usage)} %`),
                row("Memory", `${fixed(m.memory_used_percent)} %`),
                row("Temperature", `${fixed(m.soc_temperature)} °C`),
                row("Uptime", duration(m.uptime)),
                row("Last seen", h("span", { dataset: { seen: node.last_seen ?? "" } }, ago(node.last_seen))),
            ),
        );
    }
}
