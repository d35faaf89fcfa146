/**
 * GET /api/v1/docs: the OpenAPI document rendered as one HTML page, on the
 * server, with no script and no external resource (the status page's style
 * sheet only). Every operation: method, path, operationId, summary,
 * description, parameters, request body and responses, each schema linked
 * to its JSON Schema further down.
 */

type Json = Record<string, unknown>;

function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** The schema of a request or response body: a link to a component, or its type. */
function bodySchema(body: Json | undefined): string {
  const content = body?.content as Record<string, { schema?: Json }> | undefined;
  if (!content) return "";
  return Object.entries(content).map(([type, { schema }]) => {
    const ref = typeof schema?.$ref === "string" ? schema.$ref.split("/").pop()! : null;
    return `<code>${esc(type)}</code> ${
      ref ? `<a href="#schema-${esc(ref)}">${esc(ref)}</a>` : esc(schema?.type ?? "")
    }`;
  }).join(", ");
}

export function renderDocsPage(doc: Json): string {
  const info = doc.info as Json;
  const paths = doc.paths as Record<string, Json>;
  const schemas = ((doc.components as Json).schemas ?? {}) as Record<string, Json>;
  const ops: string[] = [];
  const index: string[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const shared = (item.parameters ?? []) as Json[];
    for (const method of ["get", "put", "post", "delete", "patch"]) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const id = String(op.operationId);
      index.push(
        `<li><a href="#${esc(id)}"><code>${method.toUpperCase()} ${esc(path)}</code></a> ${
          esc(op.summary)
        }</li>`,
      );
      const params = [...shared, ...((op.parameters ?? []) as Json[])];
      const responses = Object.entries(op.responses as Record<string, Json>)
        .map(([status, r]) =>
          `<tr><td>${esc(status)}</td><td>${esc(r.description)}</td><td>${bodySchema(r)}</td></tr>`
        ).join("");
      ops.push(`<section id="${esc(id)}">
<h3><code>${method.toUpperCase()} ${esc(path)}</code></h3>
<p><strong>${esc(op.summary)}</strong></p>
${op.description ? `<p>${esc(op.description)}</p>` : ""}
<p>operationId: <code>${esc(id)}</code></p>
${
        params.length
          ? `<p>Parameters: ${
            params.map((p) =>
              `<code>${esc(p.name)}</code> (${esc(p.in)}${p.required ? ", required" : ""})${
                p.description ? `: ${esc(p.description)}` : ""
              }`
            ).join("; ")
          }</p>`
          : ""
      }
${op.requestBody ? `<p>Request body: ${bodySchema(op.requestBody as Json)}</p>` : ""}
<table><thead><tr><th>status</th><th>meaning</th><th>body</th></tr></thead><tbody>${responses}</tbody></table>
</section>`);
    }
  }
  const schemaSections = Object.entries(schemas).map(([name, s]) =>
    `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3><pre>${
      esc(JSON.stringify(s, null, 2))
    }</pre></section>`
  ).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)} ${esc(info.version)}</title>
<link rel="stylesheet" href="/ui/style.css"></head>
<body><main>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${
    esc(info.description)
  } The machine-readable document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.
Mutations need the bearer token when one is configured.</p>
<h2>Operations</h2>
<ul>${index.join("\n")}</ul>
${ops.join("\n")}
<h2>Schemas</h2>
${schemaSections}
</main></body></html>
`;
}
