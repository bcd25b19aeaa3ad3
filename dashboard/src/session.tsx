import { createContext, useContext } from 'react';

export interface Session {
  username: string;
  role: string;
  capabilities: string[];
  expiresAt: string;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}
