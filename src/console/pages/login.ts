/**
 * The sign-in form: the one console page served without credentials. It carries no data: only a
 * message chosen from fixed texts and the console path to return to (escaped).
 */
import { html } from '../html';
import { renderBarePage } from '../layout';
import { notice } from '../parts';

export function loginPage(opts: { message?: string; next?: string } = {}): string {
  return renderBarePage(
    'Sign in',
    html`<h1>Transcode console</h1>
      <p>
        Sign in with an admin token (one of <code>ADMIN_TOKEN</code>). This browser keeps a session for at
        most 12 hours, until it is closed or you sign out; the token itself is not stored.
      </p>
      ${opts.message ? notice('error', opts.message) : ''}
      <form method="post" action="/console/login">
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          required
          autofocus
          autocomplete="off"
          spellcheck="false"
        />
        ${opts.next ? html`<input type="hidden" name="next" value="${opts.next}" />` : ''}
        <button type="submit">Sign in</button>
      </form>`,
  );
}
