// Render the daemon's own OpenAPI document: no CDN, nothing fetched from elsewhere.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return { name, schema: spec.components.schemas[name] };
  }
  return { name: null, schema };
}

function schemaBlock(spec, schema) {
  const found = resolve(spec, schema);
  const label = found.name ? found.name + " " : "";
  return el("pre", {}, label + JSON.stringify(found.schema, null, 2));
}

function parameters(op) {
  if (!op.parameters || op.parameters.length === 0) return el("span");
  const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "required")));
  for (const p of op.parameters) {
    table.append(el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, String(!!p.required))));
  }
  return table;
}

function operation(spec, path, method, op) {
  const section = el("section", {});
  section.append(el("h3", {}, el("span", { class: "method " + method }, method.toUpperCase()), el("code", {}, path)));
  section.append(el("p", {}, op.summary || ""));
  section.append(parameters(op));
  const body = op.requestBody && op.requestBody.content;
  if (body) {
    for (const [type, media] of Object.entries(body)) {
      section.append(el("p", {}, "Request body: " + type), schemaBlock(spec, media.schema));
    }
  }
  for (const [status, response] of Object.entries(op.responses || {})) {
    const json = response.content && (response.content["application/json"] || response.content["application/problem+json"]);
    section.append(el("p", {}, el("strong", {}, status), " " + (response.description || "")));
    if (json && json.schema) section.append(schemaBlock(spec, json.schema));
  }
  return section;
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("title").textContent = spec.info.title;
  document.getElementById("version").textContent = "version " + spec.info.version;
  const main = document.getElementById("operations");
  main.replaceChildren();
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) main.append(operation(spec, path, method, op));
  }
}

main();
