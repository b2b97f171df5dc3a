/*
 * The response cache's key: what makes two chat requests "the same question". Everything that can change the
 * answer is in it (the public model, messages, tools, tool choice, every generation parameter); what cannot
 * (key order, absent vs null in the request's own fields, the order of a schema's `required` list, whitespace in
 * tool-call arguments) is normalised away first, so equivalent requests share an entry. Inside tool-call arguments
 * and tool parameter schemas a null is a value the upstream sees, so those are kept whole (as canonical JSON text).
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { isLosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import type { ChatMessage, ChatRequest, ToolDefinition } from '../providers/types.js';

export interface CacheKeys {
  /** sha256 (hex) of the canonical request: the exact cache's key. */
  key: string;
  /** The same with the last USER message's text left out: the semantic half matches only within one context. */
  contextHash: string;
  /** The last USER message's text (content and TEXT parts, joined by newlines); null when there is none. */
  lastUserText: string | null;
}

// bump when the normalisation changes, so entries stored under the old rules are never read back
const VERSION = 3;

export function cacheKeysOf(model: string, req: Omit<ChatRequest, 'model'>): CacheKeys {
  const messages = req.messages.map(normalMessage);
  const last = lastUserIndex(req.messages);
  const base = { v: VERSION, model, params: normalParams(req) };
  const key = hash({ ...base, messages });
  if (last < 0) return { key, contextHash: key, lastUserText: null };
  const context = messages.map((m, i) => (i === last ? withoutText(m) : m));
  return { key, contextHash: hash({ ...base, messages: context, lastUser: 'omitted' }), lastUserText: textOf(req.messages[last]!) };
}

function hash(value: unknown): string {
  return createHash('sha256').update(canonicalize(dropEmpty(value)) ?? '').digest('hex');
}

function lastUserIndex(messages: ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'USER') return i;
  return -1;
}

function textOf(m: ChatMessage): string {
  const texts = m.content != null ? [m.content] : [];
  for (const p of m.parts ?? []) if (p.type === 'TEXT') texts.push(p.text);
  return texts.join('\n');
}

type NormalMessage = Record<string, unknown>;

function normalMessage(m: ChatMessage): NormalMessage {
  return {
    role: m.role,
    content: m.content,
    parts: m.parts?.length ? m.parts : undefined,
    toolCalls: m.toolCalls?.length ? m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: canonicalArguments(c.arguments) })) : undefined,
    toolCallId: m.toolCallId,
    // a failed tool's result asks another question than the same text from a tool that succeeded
    isError: m.isError ? true : undefined,
    name: m.name,
  };
}

/** The message with its text gone but its images and tool calls kept: they are context too. */
function withoutText(m: NormalMessage): NormalMessage {
  const parts = (m.parts as ChatMessage['parts'])?.filter((p) => p.type !== 'TEXT');
  return { ...m, content: undefined, parts: parts?.length ? parts : undefined };
}

/**
 * Tool-call arguments are JSON the model wrote: equal values are equal arguments, however they were spaced or
 * their keys ordered. Parsed losslessly (numbers keep their digits: 2^53 + 1 is not 2^53) and returned as text, so
 * the nulls in it are not dropped with the request's empty fields.
 */
function canonicalArguments(args: string): unknown {
  try {
    return { json: stringifyLossless(sortedKeys(parseLossless(args))) };
  } catch {
    return { raw: args };
  }
}

/** The same JSON value with every object's keys inserted in sorted order (numbers left as the parser gave them). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object' || isLosslessNumber(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortedKeys((value as Record<string, unknown>)[k]);
  return out;
}

function normalParams(req: Omit<ChatRequest, 'model'>): Record<string, unknown> {
  return {
    temperature: req.temperature,
    topP: req.topP,
    maxTokens: req.maxTokens,
    stop: req.stop?.length ? req.stop : undefined,
    seed: req.seed,
    jsonMode: req.jsonMode || undefined,
    tools: req.tools?.length ? req.tools.map(normalTool) : undefined,
    toolChoice: req.toolChoice,
    // thinking changes the answer's shape: Anthropic wants the thinking blocks back on the next tool_result turn
    reasoning: req.reasoning?.budgetTokens != null || req.reasoning?.effort != null ? { budgetTokens: req.reasoning.budgetTokens, effort: req.reasoning.effort } : undefined,
  };
}

function normalTool(t: ToolDefinition): Record<string, unknown> {
  // as text: a null in a schema (a default, an enum member) is part of what the upstream is told
  return { name: t.name, description: t.description || undefined, parameters: t.parameters ? canonicalize(canonicalSchema(t.parameters)) : undefined };
}

/** A JSON Schema whose meaning does not depend on the order of its `required` lists (sorted, at every depth). */
function canonicalSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(canonicalSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === 'required' && Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...new Set(v)].sort() : canonicalSchema(v);
  }
  return out;
}

/** undefined and null dropped from the request's own objects (not from arrays, where a position means something). */
function dropEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropEmpty);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) out[k] = dropEmpty(v);
  return out;
}
