/**
 * The login page of the status page on a non-loopback listener (a browser
 * cannot send the bearer token; src/api/sessions.ts). One form, no script;
 * the token is posted to /login and never kept by the page.
 */

import { pageHead } from "./head.ts";

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** The page, with a message above the form after a failed attempt. */
export function loginHtml(message: string | null = null): string {
  return `${pageHead("mcr login")}<body>
<header><h1>mcr</h1></header>
<main>
<section><h2>Sign in to the status page</h2>
${message === null ? "" : `<p id="message" class="badge critical">${esc(message)}</p>`}
<form id="login" method="post" action="/login">
<label>API token <input id="token" name="token" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<p>The session lets this browser read the status page and its event stream for up to 8 hours;
changes still need the token in an Authorization header (the CLI, scripts).</p>
</section>
</main>
</body>
</html>
`;
}
