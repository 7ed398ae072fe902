import type { PageDefinition } from './page-definition';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The dashboard shell: header, user switcher and one placeholder (with skeletons) per fragment.
 * It renders at once, with no data; `/assets/dashboard.js` fills each `[data-fragment]` container
 * and keeps its `data-status` in step with the fragment's state.
 */
export function renderDemoPage(page: PageDefinition, userId: number, devLogin: boolean): string {
  const sections = page.fragments
    .map((f) => {
      const name = escapeHtml(f.name);
      const title = escapeHtml(f.title);
      return `<section class="fragment" data-fragment="${name}" data-status="pending" aria-live="polite">
      <h2>${title}</h2>
      <div class="fragment-body"><div class="skeleton line"></div><div class="skeleton line short"></div><div class="skeleton line"></div></div>
    </section>`;
    })
    .join('\n    ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Dashboard · worker pattern</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/assets/dashboard.css">
  <script src="/assets/dashboard.js" defer></script>
</head>
<body data-page="${escapeHtml(page.name)}" data-user-id="${userId}" data-dev-login="${devLogin}">
  <header>
    <h1>Dashboard</h1>
    <form method="get" action="/">
      <label for="user-id">Viewing as user</label>
      <input id="user-id" name="userId" type="number" min="1" max="2147483647" value="${userId}" required>
      <button type="submit">Switch</button>
    </form>
    <span id="mode" data-mode="connecting">connecting…</span>
  </header>
  <p id="notice" hidden></p>
  <main>
    ${sections}
  </main>
</body>
</html>
`;
}
