import { ReactNode } from 'react';
import { errorText } from '../api';

// Loading and error states of one query, the same on every page.
export function Loaded(props: { isLoading: boolean; error: unknown; children: () => ReactNode }) {
  if (props.isLoading) return <p aria-busy="true">Loading…</p>;
  if (props.error)
    return (
      <p className="error" role="alert">
        {errorText(props.error)}
      </p>
    );
  return <>{props.children()}</>;
}

export function Chip(props: { tone: 'ok' | 'bad' | 'warn' | 'neutral'; children: ReactNode }) {
  return <span className={'chip chip-' + props.tone}>{props.children}</span>;
}

export function when(v: string | null | undefined): string {
  if (!v) return '—';
  const d = new Date(v);
  return isNaN(d.getTime()) ? v : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function num(v: number | string | null | undefined): string {
  if (v === null || v === undefined || v === '') return '—';
  const n = Number(v);
  return isNaN(n) ? String(v) : n.toLocaleString('en-US');
}
