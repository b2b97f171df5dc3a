/* Per-key limits: admission before the call, settlement to the real usage after it. */
import type { Principal } from '../services/keys.js';

export interface Reservation {
  /** Replace the estimate with what the call really used (tokens, USD). */
  settle(actual: { tokens: number; costUsd: number }): void;
}

export interface AdmitRequest {
  principal: Principal;
  model: string;
  /** Prompt tokens counted plus maxTokens (or a default): what the call may use at most. */
  estimatedTokens: number;
  /** Worst-case cost of the estimate, for budgets. */
  estimatedCostUsd: number;
}

export interface Limiter {
  /** Throws RATE_LIMITED or QUOTA_EXCEEDED; otherwise reserves the estimate atomically. */
  admit(req: AdmitRequest): Promise<Reservation>;
  close(): Promise<void>;
}

const NOOP_RESERVATION: Reservation = { settle() {} };

/** Admits everything: for keys without limits, and until the real limiter is wired. */
export const noLimits: Limiter = {
  admit: async () => NOOP_RESERVATION,
  close: async () => {},
};
