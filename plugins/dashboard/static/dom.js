// Small DOM and formatting helpers shared by the views (no framework: ES modules only).

/** An element: h("td", {class: "num", dataset: {label: "x"}}, "text", child, ...). */
export function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") el.className = value;
        else if (key === "dataset") Object.assign(el.dataset, value);
        else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
        else if (key in el && typeof value !== "string") el[key] = value;
        else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
        if (child === undefined || child === null || child === false) continue;
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
}

export function replaceChildren(el, ...children) {
    el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

export function fixed(value, digits = 1) {
    return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** "3 d 4 h", "5 h 12 min", "42 s". */
export function duration(seconds) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "–";
    const d = Math.floor(seconds / 86400), hr = Math.floor((seconds % 86400) / 3600);
    const min = Math.floor((seconds % 3600) / 60);
    if (d) return `${d} d ${hr} h`;
    if (hr) return `${hr} h ${min} min`;
    if (min) return `${min} min`;
    return `${Math.floor(seconds)} s`;
}

/** "12 s ago" from a Unix time in seconds. */
export function ago(at) {
    if (typeof at !== "number") return "never";
    const s = Math.max(0, Date.now() / 1000 - at);
    return s < 5 ? "just now" : `${duration(s)} ago`;
}

export function clock(at) {
    const d = new Date(at * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** The name a node's tab and card carry: the hub is "HUB", the others their name. */
export function nodeLabel(node) {
    return node.role === "hub" ? "HUB" : node.name.toUpperCase();
}
