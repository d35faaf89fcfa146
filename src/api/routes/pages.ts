/**
 * The pages a browser reads: the status page (src/ui/page.ts) at / and
 * /ui/*, the alerts' runbooks at /runbooks (src/ui/runbooks.ts), and the API's own description at /api/v1/openapi.json and
 * /api/v1/docs. Same-origin, no external resources.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "../../ui/page.ts";
import { runbooksHtml } from "../../ui/runbooks.ts";
import { ApiError, PROBLEM_TYPES, type ProblemCode } from "../errors.ts";

/** The page a problem's `type` points to. */
function problemPage(code: ProblemCode): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mcr problem: ${code}</title></head>` +
    `<body><h1>${PROBLEM_TYPES[code]}</h1><p>Problem type <code>${code}</code> of the mcr API ` +
    `(RFC 9457). The answer's <code>detail</code> says what happened this time; for invalid ` +
    `input, <code>errors</code> points to each field. See <a href="/api/v1/docs">the API</a>.</p></body></html>\n`;
}
import { renderDocsPage } from "../docs_page.ts";
import { openApiDocument } from "../openapi.ts";

/**
 * A page's answer with the headers that keep it same-origin (nothing loaded,
 * posted or framed from elsewhere). `cache`: "no-store" for a page with a
 * form a secret is typed into (/login).
 */
export function sendPage(
  c: Context,
  body: string,
  type: string,
  status: 200 | 401 | 429 = 200,
  cache = "no-cache",
): Response {
  c.header("Content-Type", type);
  c.header(
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
      "connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Cache-Control", cache);
  return c.body(body, status);
}

/** A fixed body of the given type, as a handler. */
function page(body: string, type: string) {
  return (c: Context) => sendPage(c, body, type);
}

/** The pages, mounted at /; `version` is the one the OpenAPI document states. */
export function pageRoutes(version: string): Hono {
  const pages = new Hono();
  pages.get("/", page(PAGE_HTML, "text/html; charset=utf-8"));
  pages.get("/ui/app.js", page(PAGE_JS, "text/javascript; charset=utf-8"));
  pages.get("/ui/style.css", page(PAGE_CSS, "text/css; charset=utf-8"));
  pages.get("/runbooks", page(runbooksHtml(), "text/html; charset=utf-8"));
  pages.get("/problems/:code", (c) => {
    const code = c.req.param("code");
    if (!Object.hasOwn(PROBLEM_TYPES, code)) {
      throw new ApiError(404, "not_found", `no problem type "${code}"`);
    }
    return page(problemPage(code as ProblemCode), "text/html; charset=utf-8")(c);
  });
  pages.get("/api/v1/openapi.json", (c) => c.json(openApiDocument(version)));
  pages.get(
    "/api/v1/docs",
    page(renderDocsPage(openApiDocument(version)), "text/html; charset=utf-8"),
  );
  return pages;
}
