/**
 * Browser sessions for the status page on a non-loopback listener, where a
 * browser cannot send a bearer header: POST /login with the API token sets
 * a random session id in an HttpOnly, SameSite=Strict cookie. A session
 * authorises reads only (the page and the event stream); every mutation
 * still needs the bearer token, so a cookie can never change forwarding.
 *
 * Bounded: at most MAX_SESSIONS (the oldest is dropped), each valid for
 * SESSION_MS after login and SESSION_IDLE_MS after its last use; failed
 * logins are limited to MAX_FAILURES per FAILURE_WINDOW_MS (then 429), so a
 * local user cannot guess the token by flooding the form.
 */
import { constantTimeEqual } from "./auth.ts";

export const SESSION_MS = 8 * 3600_000;
export const SESSION_IDLE_MS = 3600_000;
export const MAX_SESSIONS = 64;
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 60_000;

interface Session {
  createdAt: number;
  usedAt: number;
}

export type LoginResult =
  | { ok: true; id: string }
  | { ok: false; reason: "wrong_token" | "too_many_attempts"; retryAfterS?: number };

export class Sessions {
  #sessions = new Map<string, Session>();
  #failures: number[] = [];

  constructor(private token: string, private now: () => number = Date.now) {}

  /** Checks a token given in the login form; a new session id when it is the API token. */
  login(given: string): LoginResult {
    const now = this.now();
    this.#failures = this.#failures.filter((t) => now - t < FAILURE_WINDOW_MS);
    if (this.#failures.length >= MAX_FAILURES) {
      const retry = Math.ceil((this.#failures[0] + FAILURE_WINDOW_MS - now) / 1000);
      return { ok: false, reason: "too_many_attempts", retryAfterS: Math.max(1, retry) };
    }
    if (!constantTimeEqual(given, this.token)) {
      this.#failures.push(now);
      return { ok: false, reason: "wrong_token" };
    }
    const id = [...crypto.getRandomValues(new Uint8Array(32))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    if (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value!;
      this.#sessions.delete(oldest);
    }
    this.#sessions.set(id, { createdAt: now, usedAt: now });
    return { ok: true, id };
  }

  /** Whether `id` is a live session (and marks it used). */
  valid(id: string | undefined): boolean {
    if (id === undefined) return false;
    const s = this.#sessions.get(id);
    if (s === undefined) return false;
    const now = this.now();
    if (now - s.createdAt > SESSION_MS || now - s.usedAt > SESSION_IDLE_MS) {
      this.#sessions.delete(id);
      return false;
    }
    s.usedAt = now;
    return true;
  }

  logout(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }
}
