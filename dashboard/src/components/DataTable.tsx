import type React from 'react';
import { ColumnDef, flexRender, getCoreRowModel, useReactTable } from '@tanstack/react-table';

// A plain grid over rows the server already paged and filtered (manual pagination: the
// server holds the records, the browser shows one page).
export function DataTable<T>(props: {
  caption: string;
  columns: ColumnDef<T, any>[];
  rows: T[];
  empty?: string;
}) {
  const table = useReactTable({
    data: props.rows,
    columns: props.columns,
    getCoreRowModel: getCoreRowModel(),
    manualPagination: true,
  });
  return (
    <ScrollRegion label={props.caption}>
      <table className="grid">
        <caption>{props.caption}</caption>
        <thead>
          {table.getHeaderGroups().map((g) => (
            <tr key={g.id}>
              {g.headers.map((h) => (
                <th key={h.id} scope="col">
                  {flexRender(h.column.columnDef.header, h.getContext())}
                </th>
              ))}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((r) => (
            <tr key={r.id}>
              {r.getVisibleCells().map((c) => (
                <td key={c.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>
              ))}
            </tr>
          ))}
          {props.rows.length === 0 && (
            <tr>
              <td colSpan={props.columns.length} className="empty">
                {props.empty ?? 'Nothing to show.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

// A wide table scrolls sideways inside its box; keyboard users reach the scrolling with Tab
// (a focusable, labelled region: WCAG 2.1.1, axe's scrollable-region-focusable).
export function ScrollRegion(props: { label: string; children: React.ReactNode }) {
  return (
    <div className="grid-wrap" tabIndex={0} role="region" aria-label={props.label}>
      {props.children}
    </div>
  );
}

// Simple tables of a JSON array whose keys are the columns (compliance report sections).
export function JsonTable(props: { caption: string; rows: unknown[] | null | undefined }) {
  const rows = (props.rows ?? []) as Record<string, unknown>[];
  const keys = Array.from(new Set(rows.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : []))));
  return (
    <ScrollRegion label={props.caption}>
      <table className="grid">
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {keys.map((k) => (
              <th key={k} scope="col">
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {keys.map((k) => (
                <td key={k}>{show(r[k])}</td>
              ))}
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td className="empty" colSpan={Math.max(keys.length, 1)}>
                None.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

export function show(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
