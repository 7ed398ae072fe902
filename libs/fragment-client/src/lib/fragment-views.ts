import type { FragmentName } from '@worker-pattern/registry';
import type { FragmentView } from './fragment-types';

/** Builds an element with text only: fragment data never reaches innerHTML. */
function el(tag: string, className?: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function asList(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(asRecord) : [];
}

const str = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

function timeAgo(iso: unknown): string {
  const at = Date.parse(str(iso));
  if (Number.isNaN(at)) return '';
  const minutes = Math.round((Date.now() - at) / 60_000);
  if (minutes < 60) return `${Math.max(minutes, 0)} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} d ago`;
}

function profile(data: unknown): HTMLElement {
  const { user, counts } = asRecord(data);
  const u = asRecord(user);
  const c = asRecord(counts);
  const box = el('div', 'profile');
  box.append(
    el('p', 'name', str(u['displayName'])),
    el('p', 'handle', `@${str(u['handle'])}`),
    el('p', 'bio', str(u['bio'])),
  );
  const stats = el('ul', 'counts');
  for (const key of ['followers', 'following', 'posts', 'likes']) {
    const item = el('li');
    item.append(el('strong', undefined, str(c[key])), el('span', undefined, ` ${key}`));
    stats.append(item);
  }
  box.append(stats);
  return box;
}

function feed(data: unknown): HTMLElement {
  const list = el('ol', 'feed');
  const posts = asList(asRecord(data)['posts']);
  if (posts.length === 0) list.append(el('li', 'empty', 'Nothing yet: follow someone.'));
  for (const post of posts) {
    const author = asRecord(post['author']);
    const item = el('li');
    const head = el('p', 'meta');
    head.append(
      el('strong', undefined, str(author['displayName'])),
      el('span', undefined, ` @${str(author['handle'])} · ${timeAgo(post['createdAt'])}`),
    );
    item.append(head, el('p', 'body', str(post['body'])));
    list.append(item);
  }
  return list;
}

function recommendations(data: unknown): HTMLElement {
  const list = el('ol', 'recommendations');
  for (const item of asList(asRecord(data)['items'])) {
    const reason = asRecord(item['reason']);
    const why =
      reason['kind'] === 'similar-users'
        ? `liked by ${str(reason['similarUsers'])} people with your taste`
        : `popular: ${str(reason['likes'])} likes`;
    const row = el('li');
    row.append(
      el('strong', undefined, str(item['title'])),
      el('span', 'category', ` ${str(item['category'])}`),
      el('p', 'why', why),
    );
    list.append(row);
  }
  return list;
}

/** A fragment without a view of its own yet (a new one, from the generator): its data as JSON text. */
export function dataView(data: unknown): HTMLElement {
  return el('pre', 'data', JSON.stringify(data, null, 2));
}

// One renderer per registered fragment (a type-only import: the registry stays out of the browser
// bundle): a fragment added to libs/registry without a view here does not compile.
const RENDERERS: Record<FragmentName, (data: unknown) => HTMLElement> = { profile, feed, recommendations };

/**
 * Shows one fragment's view in its container: skeleton while pending, the data when ready, the
 * data with an "updating" note when stale, the error when failed. `data-status` always says which.
 */
export function renderFragment(container: HTMLElement, name: string, view: FragmentView): void {
  container.dataset['status'] = view.status;
  const body = container.querySelector<HTMLElement>('.fragment-body');
  if (!body) return;
  if (view.status === 'pending') {
    if (!body.querySelector('.skeleton')) body.replaceChildren(...skeleton());
    return;
  }
  if (view.status === 'failed') {
    const box = el('div', 'error');
    box.append(el('p', undefined, view.error ?? 'This part of the page could not be built.'));
    if (view.errorCode) box.append(el('p', 'code', view.errorCode));
    body.replaceChildren(box);
    return;
  }
  const render = Object.hasOwn(RENDERERS, name) ? RENDERERS[name as FragmentName] : undefined;
  const content = render ? render(view.data) : el('pre', undefined, JSON.stringify(view.data, null, 2));
  const nodes: HTMLElement[] = [content];
  if (view.status === 'stale') nodes.unshift(el('p', 'stale-note', 'Updating… showing the last version.'));
  if (view.builtAt) nodes.push(el('p', 'built-at', `built ${timeAgo(view.builtAt)}`));
  body.replaceChildren(...nodes);
}

function skeleton(): HTMLElement[] {
  return [el('div', 'skeleton line'), el('div', 'skeleton line short'), el('div', 'skeleton line')];
}
