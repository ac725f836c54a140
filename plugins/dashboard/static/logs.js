// The log viewer: a tab per node (named from the data), a level filter, the latest lines
// from /api/nodes/{node}/logs and a live tail from the stream's `log` events.
import { enc, getJSON } from "./api.js";
import { clock, h, nodeLabel, replaceChildren } from "./dom.js";

const RANK = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };
const KEEP = 300;

export class LogViewer {
    constructor(tabsRoot, linesRoot, levelSelect) {
        this.tabsRoot = tabsRoot;
        this.linesRoot = linesRoot;
        this.levelSelect = levelSelect;
        this.nodes = [];
        this.current = null;
        this.generation = 0; // a fetch answered after the user moved on is dropped
        levelSelect.addEventListener("change", () => this.load());
    }

    get level() {
        return this.levelSelect.value;
    }

    setNodes(nodes) {
        const names = nodes.map((n) => n.name);
        if (JSON.stringify(names) === JSON.stringify(this.nodes.map((n) => n.name))) return;
        this.nodes = nodes;
        if (!names.includes(this.current)) this.current = names[0] ?? null;
        replaceChildren(this.tabsRoot, nodes.map((node) => h("button", {
            type: "button", role: "tab", title: node.name,
            dataset: { node: node.name },
            "aria-selected": node.name === this.current ? "true" : "false",
            onclick: () => this.select(node.name),
        }, nodeLabel(node))));
        this.load();
    }

    select(name) {
        this.current = name;
        for (const tab of this.tabsRoot.children) {
            tab.setAttribute("aria-selected", tab.dataset.node === name ? "true" : "false");
        }
        this.load();
    }

    async load() {
        const generation = ++this.generation;
        this.linesRoot.dataset.node = this.current ?? "";
        this.linesRoot.dataset.level = this.level;
        if (!this.current) return replaceChildren(this.linesRoot);
        const q = new URLSearchParams({ limit: "100" });
        if (this.level) q.set("level", this.level);
        try {
            const page = await getJSON(`/api/nodes/${enc(this.current)}/logs?${q}`);
            if (generation !== this.generation) return;
            // Newest first from the API; the viewer shows oldest first, tail at the bottom.
            replaceChildren(this.linesRoot, page.logs.slice().reverse().map((line) => this._line(line)));
            this.linesRoot.dataset.loaded = `${this.current}/${this.level}`;
            this._scroll();
        } catch (error) {
            if (generation !== this.generation) return;
            replaceChildren(this.linesRoot, h("li", { class: "empty" }, `cannot load logs: ${error.message}`));
        }
    }

    /** A `log` event from the live stream. */
    log(data) {
        if (data.node !== this.current) return;
        if (this.level && (RANK[data.level] ?? 0) < RANK[this.level]) return;
        const atBottom = this.linesRoot.scrollTop + this.linesRoot.clientHeight >= this.linesRoot.scrollHeight - 20;
        this.linesRoot.append(this._line(data));
        while (this.linesRoot.children.length > KEEP) this.linesRoot.firstElementChild.remove();
        if (atBottom) this._scroll();
    }

    _scroll() {
        this.linesRoot.scrollTop = this.linesRoot.scrollHeight;
    }

    _line(line) {
        return h("li", { dataset: { level: line.level, seq: line.seq } },
            h("time", {}, clock(line.at)),
            h("span", { class: "lvl" }, line.level),
            h("span", { class: "plugin" }, line.plugin || "host"),
            h("span", { class: "msg" }, line.message));
    }
}
