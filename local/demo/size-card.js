// One card per size on the demo page: the size at its own pixel size, its
// placeholder painted in the same box until the bytes arrive, its facts, its
// public URL and a curl command, each with a copy button. A size wider than
// the column is scaled to fit, and says so, with a button to see it at its
// real size in a box that scrolls sideways.
/* global document, navigator, ResizeObserver, atob, ImageData, setTimeout */
import { thumbHashToRGBA } from "./thumbhash.js";

const number = new Intl.NumberFormat("en");

export function formatBytes(bytes) {
  if (bytes < 1024) return `${number.format(bytes)} bytes`;
  const unit = bytes < 1024 * 1024 ? ["KB", 1024] : ["MB", 1024 * 1024];
  return `${(bytes / unit[1]).toFixed(1)} ${unit[0]} (${number.format(bytes)} bytes)`;
}

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/**
 * The API's placeholder (a ThumbHash, a few dozen pixels) on a canvas that CSS
 * stretches over the box it is put in, over the image's dominant colour.
 */
export function placeholderCanvas(placeholder) {
  const hash = Uint8Array.from(atob(placeholder.thumbhash), (c) => c.charCodeAt(0));
  const { w, h, rgba } = thumbHashToRGBA(hash);
  const canvas = element("canvas", { width: w, height: h, className: "placeholder" });
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
  canvas.style.backgroundColor = placeholder.color;
  canvas.dataset.thumbhash = placeholder.thumbhash;
  canvas.setAttribute("aria-hidden", "true");
  return canvas;
}

/** A box of the given pixel size (never wider than its column), the placeholder in it. */
export function frame(width, height, placeholder) {
  const box = element("div", { className: "frame" });
  Object.assign(box.style, { width: `${width}px`, aspectRatio: `${width} / ${height}` });
  if (placeholder !== undefined) box.append(placeholderCanvas(placeholder));
  return box;
}

/** Copies text to the clipboard; the button says whether it worked (the page is on 127.0.0.1 or https: a secure context). */
function copyButton(label, text) {
  const button = element("button", { type: "button", className: "copy", textContent: label });
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(text).then(
      () => (button.textContent = "Copied"),
      () => (button.textContent = "Copy refused: select the text"),
    );
    // The label comes back so the button can be used again.
    setTimeout(() => (button.textContent = label), 2000);
  });
  return button;
}

function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A curl command that fetches the size as a person would from a terminal. */
function curlCommand(variant, auth) {
  const file = `${variant.size}.${variant.format}`;
  // The public URL carries its own signature: no credentials to paste.
  if (typeof variant.publicUrl === "string") return `curl -o ${file} ${shellQuote(variant.publicUrl)}`;
  const header = auth === "jwt" ? `"Authorization: Bearer $IMGAPI_TOKEN"` : `"x-api-key: $IMGAPI_KEY"`;
  return `curl -H ${header} -o ${file} ${shellQuote(variant.link)}`;
}

function links(variant, auth) {
  const rows = element("dl", { className: "links" });
  if (typeof variant.publicUrl === "string") {
    const link = element("a", { href: variant.publicUrl, target: "_blank", rel: "noopener noreferrer", title: variant.publicUrl, textContent: variant.publicUrl });
    rows.append(element("dt", {}, "Public URL ", copyButton("Copy URL", variant.publicUrl)), element("dd", {}, link));
  }
  const curl = curlCommand(variant, auth);
  rows.append(element("dt", {}, "curl ", copyButton("Copy command", curl)), element("dd", {}, element("code", { textContent: curl })));
  return rows;
}

/** "Scaled to 61% to fit" and a button for the real size, shown only when the size is wider than its column. */
function fitNote(view, variant) {
  const text = element("span");
  const toggle = element("button", { type: "button", className: "link-button" });
  const note = element("p", { className: "fit-note", hidden: true }, text, " ", toggle);
  const update = () => {
    const actual = view.classList.contains("actual");
    const room = view.clientWidth;
    note.hidden = variant.width <= room;
    if (note.hidden) return;
    text.textContent = actual
      ? `Actual size, ${variant.width} px wide: scroll sideways to see all of it.`
      : `Scaled to ${Math.floor((room / variant.width) * 100)}% to fit: the image is ${variant.width} px wide.`;
    toggle.textContent = actual ? "Fit to width" : "Show at actual size";
  };
  toggle.addEventListener("click", () => {
    view.classList.toggle("actual");
    update();
  });
  new ResizeObserver(update).observe(view);
  return note;
}

/**
 * A size's card, its placeholder showing; `fill(url, bytes)` puts the image in
 * once it is decoded, so the placeholder is replaced with no shift of layout.
 */
export function sizeCard(variant, placeholder, auth) {
  const box = frame(variant.width, variant.height, placeholder);
  const view = element("div", { className: "view" }, box);
  const caption = element("figcaption");
  const name = element("strong", { textContent: variant.size });
  caption.append(name, ` ${variant.width} × ${variant.height} · loading…`);
  const item = element("li", { className: "card loading" }, element("figure", {}, view, caption), fitNote(view, variant), links(variant, auth));
  Object.assign(item.dataset, { size: variant.size, width: variant.width, height: variant.height, format: variant.format });
  item.setAttribute("aria-busy", "true");

  async function fill(url, bytes) {
    const img = element("img", { src: url, alt: `${variant.size}, ${variant.width} × ${variant.height}`, width: variant.width, height: variant.height });
    // Decoded before it replaces the placeholder, so what the page says is what it shows.
    await img.decode();
    box.replaceChildren(img);
    item.dataset.bytes = String(bytes);
    caption.replaceChildren(name, ` ${variant.width} × ${variant.height} · ${formatBytes(bytes)} · ${variant.format}`);
    item.classList.remove("loading");
    item.removeAttribute("aria-busy");
  }
  return { item, fill };
}

/** The original: its facts only, as the API never serves it back; its placeholder as a small swatch. */
export function originalCard(uploaded, fileName) {
  const o = uploaded.original;
  const facts = element("p", { id: "original" }, `${o.name ?? fileName}: ${o.format} ${o.width} × ${o.height}, ${formatBytes(o.bytes)}, id ${uploaded.id}`);
  const note = element("p", { className: "hint" }, "The API keeps the original but never serves it back: only the sizes below are served.");
  const card = element("div", { className: "card original" }, element("h3", { textContent: "original" }), facts, note);
  if (uploaded.placeholder !== undefined) {
    const p = uploaded.placeholder;
    const swatch = frame(160, Math.max(1, Math.round(160 / p.aspectRatio)), p);
    swatch.classList.add("swatch");
    card.append(element("div", { id: "placeholder", className: "swatch-row" }, swatch, element("span", { className: "hint" }, `Placeholder (ThumbHash): ${p.color}, ${p.aspectRatio}:1, painted in each size's box while it loads.`)));
  }
  return card;
}
