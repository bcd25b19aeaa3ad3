import { useQuery } from '@tanstack/react-query';
import { rpcGet } from '../api';
import { JsonTable, show } from '../components/DataTable';
import { Loaded, when } from '../components/Status';

interface ComplianceData {
  generated_at: string;
  audit_head: Record<string, unknown> | null;
  holds: unknown[];
  retention: unknown[];
  erasures: unknown[];
  integrity: Record<string, unknown> | null;
  dp_budgets: unknown[];
  key_rotations: unknown[];
}

function Facts({ caption, o }: { caption: string; o: Record<string, unknown> | null }) {
  return (
    <>
      <h2>{caption}</h2>
      <dl className="kv wide">
        {Object.entries(o ?? {}).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{show(v)}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}

// Token key rotations (sdp.key_rotation, docs/key_rotation.md) in reading order: which domain,
// from which key version to which, how far it got and when.
function rotationRows(rows: unknown[]): Record<string, unknown>[] {
  return (rows ?? []).map((x) => {
    const r = (x ?? {}) as Record<string, unknown>;
    return {
      client: r.client_id,
      domain: r.domain,
      kind: r.kind,
      versions: `${show(r.from_version)} → ${show(r.to_version)}`,
      new_key_id: r.to_key_id,
      state: r.state,
      pairs: r.pairs,
      rows_rewritten: r.rows_rewritten,
      started: r.started_at,
      started_by: r.started_by,
      finished: r.finished_at,
    };
  });
}

// One printable page (print CSS in styles.css hides the menu and buttons), dated and naming the
// audit head it was made at, so a printed copy can be checked against the chain later.
export function Compliance() {
  const q = useQuery({ queryKey: ['dash_compliance'], queryFn: () => rpcGet<ComplianceData>('dash_compliance') });
  return (
    <section aria-labelledby="h-compliance" className="report">
      <h1 id="h-compliance">Compliance report</h1>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => {
          const d = q.data!;
          return (
            <>
              <p id="report-date">
                Generated {when(d.generated_at)} at audit head seq {show(d.audit_head?.seq)}{' '}
                <code className="hash">{show(d.audit_head?.entry_hash ?? d.audit_head?.hash)}</code>
              </p>
              <p className="noprint">
                <button type="button" onClick={() => window.print()}>
                  Print
                </button>
              </p>
              <Facts caption="Integrity" o={d.integrity} />
              <h2>Legal holds</h2>
              <JsonTable caption="Legal holds" rows={d.holds} />
              <h2>Retention policies</h2>
              <JsonTable caption="Retention policies" rows={d.retention} />
              <h2>Erasures</h2>
              <JsonTable caption="Erasures" rows={d.erasures} />
              <h2>Differential privacy budgets</h2>
              <JsonTable caption="DP budgets" rows={d.dp_budgets} />
              <h2>Key rotations</h2>
              <JsonTable caption="Key rotations" rows={rotationRows(d.key_rotations)} />
            </>
          );
        }}
      </Loaded>
    </section>
  );
}
