import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { rpcGet } from '../api';
import { JsonTable } from '../components/DataTable';
import { Chip, Loaded, num } from '../components/Status';
import { can } from '../nav';
import { useSession } from '../session';

interface AuditAnswer {
  items: unknown[];
  verify: { ok: boolean; checked: number; head_seq: number; head_hash: string };
}

function Filters(props: {
  label: string;
  onApply: (f: { actor: string; action: string; since: string; row_limit: string }) => void;
}) {
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [since, setSince] = useState('');
  const [limit, setLimit] = useState('100');
  const id = props.label.replace(/\W+/g, '-').toLowerCase();
  return (
    <form
      className="filters"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        // row_limit: PostgREST keeps `limit` in a query string for itself.
        props.onApply({ actor, action, since: since ? new Date(since).toISOString() : '', row_limit: limit });
      }}
    >
      <label htmlFor={id + '-actor'}>Who</label>
      <input id={id + '-actor'} value={actor} onChange={(e) => setActor(e.target.value)} />
      <label htmlFor={id + '-action'}>Action</label>
      <input id={id + '-action'} value={action} onChange={(e) => setAction(e.target.value)} />
      <label htmlFor={id + '-since'}>Since</label>
      <input id={id + '-since'} type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
      <label htmlFor={id + '-limit'}>Limit</label>
      <input id={id + '-limit'} type="number" min={1} max={500} value={limit} onChange={(e) => setLimit(e.target.value)} />
      <button type="submit">Apply</button>
    </form>
  );
}

export function Audit() {
  const session = useSession();
  const [auditF, setAuditF] = useState({ actor: '', action: '', since: '', row_limit: '100' });
  const [accessF, setAccessF] = useState({ actor: '', action: '', since: '', row_limit: '100' });
  const audit = useQuery({ queryKey: ['dash_audit', auditF], queryFn: () => rpcGet<AuditAnswer>('dash_audit', auditF) });
  const showAccess = can(session.capabilities, 'access_log.read');
  const access = useQuery({
    queryKey: ['dash_access_log', accessF],
    queryFn: () => rpcGet<{ items: unknown[] }>('dash_access_log', accessF),
    enabled: showAccess,
  });
  const accessItems = access.data?.items ?? [];
  return (
    <section aria-labelledby="h-audit">
      <h1 id="h-audit">Audit</h1>
      <h2>Audit log</h2>
      <Filters label="Audit log filters" onApply={setAuditF} />
      <Loaded isLoading={audit.isLoading} error={audit.error}>
        {() => {
          const v = audit.data!.verify;
          return (
            <>
              <p id="chain-verify">
                Chain verification:{' '}
                {v?.ok ? <Chip tone="ok">intact</Chip> : <Chip tone="bad">BROKEN</Chip>} {num(v?.checked)} entries checked,
                head seq {num(v?.head_seq)} <code className="hash">{v?.head_hash}</code>
              </p>
              <JsonTable caption="Audit entries" rows={audit.data!.items} />
            </>
          );
        }}
      </Loaded>
      {showAccess && (
        <>
          <h2>Access log</h2>
          <Filters label="Access log filters" onApply={setAccessF} />
          <Loaded isLoading={access.isLoading} error={access.error}>
            {() => <JsonTable caption="Access log entries" rows={accessItems} />}
          </Loaded>
        </>
      )}
    </section>
  );
}
