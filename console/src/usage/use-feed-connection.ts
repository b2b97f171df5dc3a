/*
 * Whether the websocket that carries subscriptions is up, so a live page can say when it is not. The socket is
 * shared by every page and may already be open, so it counts as up until it closes.
 */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../session';

export function useFeedConnected(): boolean {
  const { client } = useSession();
  const [connected, setConnected] = useState(true);
  useEffect(() => {
    const offs = [client.ws.on('connected', () => setConnected(true)), client.ws.on('closed', () => setConnected(false))];
    return () => offs.forEach((off) => off());
  }, [client]);
  return connected;
}
