// The OLED's framebuffer, for nodes that have one (the overview says which): an image of
// GET /api/nodes/{node}/display.png, refreshed every few seconds. A new image is loaded
// off-screen and swapped in, so the picture never blanks while it loads. Loading starts
// once the page has drawn its data (start()): each image is a round trip to the node, and
// an image fetched during the first load would hold the page's load event back.
import { enc } from "./api.js";
import { h, replaceChildren } from "./dom.js";

const EVERY_MS = 3000;

export class Displays {
    constructor(section, root) {
        this.section = section;
        this.root = root;
        this.images = new Map();
        this.timer = null;
    }

    start() {
        if (this.timer !== null) return;
        this.timer = setInterval(() => this.refresh(), EVERY_MS);
        this.refresh();
    }

    setNodes(nodes) {
        const names = nodes.filter((n) => n.display).map((n) => n.name);
        if (JSON.stringify(names) === JSON.stringify([...this.images.keys()])) return;
        this.images = new Map(names.map((name) => [name, h("img", {
            alt: `${name}'s OLED display`, width: "256", height: "128", dataset: { node: name },
        })]));
        this.section.hidden = names.length === 0;
        replaceChildren(this.root, [...this.images].map(([name, img]) =>
            h("figure", {}, img, h("figcaption", {}, `${name} · SSD1306 128×64`))));
        this.refresh();
    }

    refresh() {
        if (this.timer === null) return;
        for (const [name, img] of this.images) {
            const next = new Image();
            next.onload = () => {
                img.src = next.src;
                img.dataset.loaded = String(Date.now());
            };
            next.src = `/api/nodes/${enc(name)}/display.png?t=${Date.now()}`;
        }
    }
}
