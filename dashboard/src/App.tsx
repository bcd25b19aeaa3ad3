import { useCallback, useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { rpcGet, setToken, setUnauthorizedHandler, login, errorText } from './api';
import { allowedPages, parseHash, href, Route } from './nav';
import { Session, SessionContext } from './session';
import { SignIn } from './pages/SignIn';
import { Overview } from './pages/Overview';
import { Batches } from './pages/Batches';
import { Records } from './pages/Records';
import { Upload } from './pages/Upload';
import { Audit } from './pages/Audit';
import { Privacy } from './pages/Privacy';
import { Classification } from './pages/Classification';
import { Compliance } from './pages/Compliance';
import { Monitoring } from './pages/Monitoring';

interface Me {
  username: string;
  role: string;
  capabilities: string[];
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const f = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return route;
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  const qc = useQueryClient();

  const signOut = useCallback(
    (why: string | null) => {
      setToken(null);
      qc.clear();
      setSession(null);
      setNotice(why);
    },
    [qc],
  );

  useEffect(() => {
    setUnauthorizedHandler(() => signOut('Your session has ended: please sign in again.'));
  }, [signOut]);

  // The token lives 15 minutes: sign out when it expires rather than fail on the next call.
  useEffect(() => {
    if (!session) return;
    const ms = Date.parse(session.expiresAt) - Date.now();
    if (!(ms > 0)) return;
    const t = window.setTimeout(() => signOut('Your session has expired: please sign in again.'), ms);
    return () => window.clearTimeout(t);
  }, [session, signOut]);

  const signIn = async (username: string, password: string) => {
    const answer = await login(username, password);
    setToken(answer.token);
    try {
      // The menu follows the database's own statement of what this role may do.
      const me = await rpcGet<Me>('dash_me');
      setSession({
        username: me.username,
        role: me.role,
        capabilities: me.capabilities,
        expiresAt: answer.expires_at,
      });
      setNotice(null);
    } catch (e) {
      setToken(null);
      throw new Error('signed in, but the dashboard could not read your profile: ' + errorText(e));
    }
  };

  if (!session) return <SignIn onSignIn={signIn} notice={notice} />;

  const pages = allowedPages(session.capabilities);
  const current = pages.find((p) => p.id === route.page) ?? pages[0];

  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">SDP dashboard</span>
        <span className="who">
          {session.username} <span className="role">({session.role})</span>
        </span>
        <button type="button" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      <div className="layout">
        <nav aria-label="Pages" className="menu">
          <ul>
            {pages.map((p) => (
              <li key={p.id}>
                <a href={href(p.id)} aria-current={p.id === current?.id ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {!current && <p>Your role has no page in this dashboard.</p>}
          {current && route.page && route.page !== current.id && (
            <p className="error" role="alert">
              The page “{route.page}” is not available to your role.
            </p>
          )}
          {current?.id === 'overview' && <Overview />}
          {current?.id === 'batches' && <Batches route={route} />}
          {current?.id === 'records' && <Records route={route} />}
          {current?.id === 'upload' && <Upload />}
          {current?.id === 'audit' && <Audit />}
          {current?.id === 'privacy' && <Privacy />}
          {current?.id === 'classification' && <Classification />}
          {current?.id === 'compliance' && <Compliance />}
          {current?.id === 'monitoring' && <Monitoring />}
        </main>
      </div>
    </SessionContext.Provider>
  );
}
