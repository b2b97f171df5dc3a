/*
 * The GraphQL fast path runs a validated document straight on its graphql-jit code, doing itself what the
 * plugins around execution do (context, warnings, masking). That is only right while those plugins are the
 * known ones: these tests fail when a plugin with an execution hook is added to the gateway's Yoga, so whoever
 * adds it teaches the direct path about it (or accepts that every query goes through envelop again).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import type { Services } from '../../src/context.js';
import { directExecution } from '../../src/http/graphql-fast-path.js';
import { createGatewayYoga } from '../../src/http/yoga.js';

const services = { log: pino({ level: 'silent' }) } as unknown as Services;

describe('GraphQL fast path: direct execution', () => {
  it('is on for the gateway as built', () => {
    expect(directExecution(createGatewayYoga(testConfig(), services))).toBeDefined();
  });

  it('turns off when another plugin hooks execution or context building', () => {
    expect(directExecution(createGatewayYoga(testConfig(), services, { plugins: [{ onExecute() {} }] }))).toBeUndefined();
    expect(directExecution(createGatewayYoga(testConfig(), services, { plugins: [{ onContextBuilding() {} }] }))).toBeUndefined();
  });
});
