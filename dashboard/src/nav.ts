// The pages and the capability each needs. The menu shows a page when the signed-in user's
// dash_me capabilities include its capability; the database refuses the data anyway (403)
// to a role without the right, so this only keeps the menu honest.
export interface PageDef {
  id: string;
  title: string;
  capability: string;
}

export const PAGES: PageDef[] = [
  { id: 'overview', title: 'Overview', capability: 'overview.read' },
  { id: 'batches', title: 'Batches', capability: 'batches.read' },
  { id: 'records', title: 'Records', capability: 'records.read' },
  { id: 'upload', title: 'Upload', capability: 'upload' },
  { id: 'audit', title: 'Audit', capability: 'audit.read' },
  { id: 'privacy', title: 'Privacy budget', capability: 'privacy.read' },
  { id: 'classification', title: 'Classification', capability: 'classification.read' },
  { id: 'compliance', title: 'Compliance report', capability: 'compliance.read' },
  { id: 'monitoring', title: 'Monitoring', capability: 'monitoring.read' },
];

export function allowedPages(capabilities: string[]): PageDef[] {
  const caps = new Set(capabilities);
  return PAGES.filter((p) => caps.has(p.capability));
}

export function can(capabilities: string[], capability: string): boolean {
  return capabilities.includes(capability);
}

// Hash routes (#/records?batch=...): the server serves one index.html under /app/ and never
// sees the route.
export interface Route {
  page: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [page, q] = h.split('?', 2);
  return { page: page || '', params: new URLSearchParams(q ?? '') };
}

export function href(page: string, params?: Record<string, string>): string {
  const q = params ? new URLSearchParams(params).toString() : '';
  return '#/' + page + (q ? '?' + q : '');
}
