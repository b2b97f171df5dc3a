/*
 * Playground: pick a model this key may invoke, write a conversation and sampling parameters, and stream the
 * answer token by token over chatStream (Stop ends the subscription, which cancels the upstream call), or send
 * it once with the chat mutation. Tokens, cost and latency of the call are shown with the answer.
 */
import { useMutation, useQuery } from '@urql/preact';
import { useEffect, useId, useState, type Dispatch, type StateUpdater } from 'preact/hooks';
import { errorText, ErrorNote } from '../components/error-note';
import { draftMessage, MessageEditor, type DraftMessage } from '../components/message-editor';
import { Page } from '../components/page';
import { StreamResult } from '../components/stream-result';
import { useTokenStream } from '../components/use-token-stream';
import { graphql } from '../graphql';
import { ParametersForm } from './playground/parameters';
import { ChatMutation, ChatStreamSubscription, EMPTY_PARAMETERS, toChatInput, type DraftParameters } from './playground/request';
import './playground.css';

const ModelsQuery = graphql(`
  query PlaygroundModels {
    models {
      id
      name
      status
      inputPricePerMTok
      outputPricePerMTok
    }
  }
`);

function ModelPicker({ model, onChange, disabled }: { model: string; onChange: Dispatch<StateUpdater<string>>; disabled: boolean }) {
  const [{ data, fetching, error }] = useQuery({ query: ModelsQuery });
  const models = data?.models ?? [];
  const id = useId();
  // the first model that can answer, once the list arrives; an updater, because a pick made between the list's
  // render and this effect must win over the default
  useEffect(() => {
    if (models.length) onChange((picked) => picked || (models.find((m) => m.status !== 'RETIRED') ?? models[0]).name);
  }, [models.length]);
  if (error) return <ErrorNote error={error} />;
  if (!fetching && data && !models.length) return <p class="notice">This key may not invoke any model. An ADMIN can add models, or allow this key more of them on the Keys page.</p>;
  return (
    <div class="model-picker">
      <label for={id}>Model</label>
      <select id={id} value={model} disabled={disabled || fetching} onChange={(e) => onChange(e.currentTarget.value)}>
        {models.map((m) => (
          <option key={m.id} value={m.name} disabled={m.status === 'RETIRED'}>
            {m.name}
            {m.status === 'ACTIVE' ? '' : ` (${m.status.toLowerCase()})`}
          </option>
        ))}
      </select>
    </div>
  );
}

export function PlaygroundPage() {
  const [model, setModel] = useState('');
  const [messages, setMessages] = useState<DraftMessage[]>(() => [draftMessage('SYSTEM', 'You are a helpful assistant.'), draftMessage('USER')]);
  const [params, setParams] = useState<DraftParameters>(EMPTY_PARAMETERS);
  const stream = useTokenStream();
  const [chatState, chat] = useMutation(ChatMutation);
  const streaming = stream.run.phase === 'streaming';
  const busy = streaming || chatState.fetching;
  const ready = model !== '' && messages.some((m) => m.content.trim() !== '');

  function startStream(e: Event) {
    e.preventDefault();
    stream.start(ChatStreamSubscription, { input: toChatInput(model, messages, params) }, (d) => d.chatStream);
  }

  async function sendOnce() {
    const startedAt = performance.now();
    stream.show({ phase: 'waiting', text: '', chunks: 0 });
    const r = await chat({ input: toChatInput(model, messages, params) });
    const totalMs = Math.round(performance.now() - startedAt);
    if (r.error || !r.data) return stream.show({ phase: 'failed', text: '', chunks: 0, totalMs, error: r.error ? errorText(r.error) : 'No answer' });
    const c = r.data.chat;
    stream.show({ phase: 'done', text: c.message.content ?? '', chunks: 0, invocationId: c.id, finishReason: c.finishReason, usage: c.usage, totalMs });
  }

  return (
    <Page title="Playground">
      <div class="playground">
        <form class="card playground-request" aria-label="Request" onSubmit={startStream}>
          <ModelPicker model={model} onChange={setModel} disabled={busy} />
          <MessageEditor messages={messages} onChange={setMessages} disabled={busy} />
          <ParametersForm value={params} onChange={setParams} disabled={busy} />
          <div class="playground-actions">
            <button type="submit" class="primary" disabled={busy || !ready}>
              Stream
            </button>
            <button type="button" class="danger" disabled={!streaming} onClick={stream.stop}>
              Stop
            </button>
            <button type="button" disabled={busy || !ready} onClick={() => void sendOnce()}>
              Send (no stream)
            </button>
          </div>
        </form>
        <section class="card playground-answer" aria-label="Answer">
          <h2>Answer</h2>
          <StreamResult run={stream.run} emptyHint="Pick a model, write a message and press Stream: the answer appears here token by token." />
        </section>
      </div>
    </Page>
  );
}
