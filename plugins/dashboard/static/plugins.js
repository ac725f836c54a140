// The plugins view: per node, each plugin's state, version hash (and a deploy the hub holds
// for it), restarts and the grants it holds (the overview spells them out down to bus, address and pin).
import { h, replaceChildren } from "./dom.js";

export function renderPlugins(root, nodes) {
    const withPlugins = nodes.filter((n) => n.plugins && n.plugins.length);
    if (!withPlugins.length) return replaceChildren(root, h("p", { class: "empty" }, "No plugins reported yet."));
    replaceChildren(root, withPlugins.map((node) => h("div", { class: "plugin-node", dataset: { node: node.name } },
        h("h3", {}, node.name),
        h("table", {},
            h("thead", {}, h("tr", {},
                h("th", { class: "c-name" }, "Plugin"), h("th", { class: "c-state" }, "State"),
                h("th", { class: "c-version" }, "Version"), h("th", { class: "c-restarts" }, "Restarts"),
                h("th", {}, "Grants"))),
            h("tbody", {}, node.plugins.map((p) => h("tr", { dataset: { plugin: p.name, state: p.state } },
                h("td", {}, h("strong", {}, p.name)),
                h("td", { dataset: { label: "state" } }, p.state),
                h("td", { dataset: { label: "version" }, title: p.version },
                    h("code", {}, (p.version || "–").slice(0, 12)),
                    p.pending ? h("span", { class: "pending", dataset: { pending: String(p.pending.sequence) },
                        title: `signed by key ${p.pending.key_id}; the hub holds it until the node takes it` },
                        ` → ${p.pending.version.slice(0, 12)} pending`) : null),
                h("td", { class: "num", dataset: { label: "restarts", restarts: String(p.restarts) } }, String(p.restarts)),
                h("td", { dataset: { label: "grants" } },
                    p.grants.length ? h("ul", {}, p.grants.map((g) => h("li", {}, g))) : "none"),
            ))),
        ),
    )));
}
