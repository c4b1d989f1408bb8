import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluatePolicies, validatePolicy, wildcardMatch } from './policy.ts';

test('explicit Deny beats Allow beats implicit deny', () => {
  const allow = { Statement: [{ Effect: 'Allow' as const, Action: 's3:*', Resource: 'arn:aws:s3:::photos/*' }] };
  const deny = { Statement: [{ Effect: 'Deny' as const, Action: 's3:DeleteObject', Resource: '*' }] };
  assert.equal(evaluatePolicies([allow], 's3:GetObject', 'arn:aws:s3:::photos/a.jpg'), 'allow');
  assert.equal(evaluatePolicies([allow, deny], 's3:DeleteObject', 'arn:aws:s3:::photos/a.jpg'), 'deny');
  assert.equal(evaluatePolicies([allow], 's3:GetObject', 'arn:aws:s3:::other/a.jpg'), 'implicit-deny');
  assert.equal(evaluatePolicies([], 's3:GetObject', 'x'), 'implicit-deny');
});

test('conditions AND across keys and operators, OR across values', () => {
  const doc = {
    Statement: [{
      Effect: 'Allow' as const, Action: 'compute:*', Resource: '*',
      Condition: { StringEquals: { 'yun:project': ['a', 'b'] }, IpAddress: { 'yun:SourceIp': '10.0.0.0/8' } },
    }],
  };
  assert.equal(evaluatePolicies([doc], 'compute:CreateInstance', 'r', { 'yun:project': 'b', 'yun:SourceIp': '10.1.2.3' }), 'allow');
  assert.equal(evaluatePolicies([doc], 'compute:CreateInstance', 'r', { 'yun:project': 'c', 'yun:SourceIp': '10.1.2.3' }), 'implicit-deny');
  assert.equal(evaluatePolicies([doc], 'compute:CreateInstance', 'r', { 'yun:project': 'a', 'yun:SourceIp': '192.168.1.1' }), 'implicit-deny');
  assert.equal(evaluatePolicies([doc], 'compute:CreateInstance', 'r', { 'yun:project': 'a' }), 'implicit-deny');
  const ifExists = { Statement: [{ Effect: 'Allow' as const, Action: '*', Condition: { StringEqualsIfExists: { 'yun:tag': 'x' } } }] };
  assert.equal(evaluatePolicies([ifExists], 'a:B', 'r', {}), 'allow');
  assert.equal(evaluatePolicies([ifExists], 'a:B', 'r', { 'yun:tag': 'y' }), 'implicit-deny');
  const notEq = { Statement: [{ Effect: 'Deny' as const, Action: '*', Condition: { StringNotEquals: { 'yun:project': ['a', 'b'] } } }] };
  assert.equal(evaluatePolicies([notEq], 'a:B', 'r', { 'yun:project': 'a' }), 'implicit-deny');
  assert.equal(evaluatePolicies([notEq], 'a:B', 'r', { 'yun:project': 'z' }), 'deny');
});

test('NotAction and wildcards; action match is case-insensitive', () => {
  const doc = { Statement: [{ Effect: 'Allow' as const, NotAction: 'identity:*', Resource: '*' }] };
  assert.equal(evaluatePolicies([doc], 'compute:createinstance', 'r'), 'allow');
  assert.equal(evaluatePolicies([doc], 'identity:CreateUser', 'r'), 'implicit-deny');
  assert.ok(wildcardMatch('a?c*', 'abcdef'));
  assert.ok(!wildcardMatch('a?c', 'abbc'));
  assert.ok(wildcardMatch('arn:aws:s3:::b/(x)+', 'arn:aws:s3:::b/(x)+'));
});

test('validation names the offending field', () => {
  assert.throws(() => validatePolicy({ Statement: [] }), /Statement/);
  assert.throws(() => validatePolicy({ Statement: [{ Effect: 'Allow', Action: 'bad action' }] }), (e: Error & { field?: string }) => e.field === '/document/Statement/0/Action');
  assert.throws(() => validatePolicy({ Statement: [{ Effect: 'Allow', Action: '*', Condition: { Bogus: {} } }] }), (e: Error & { field?: string }) => e.field === '/document/Statement/0/Condition/Bogus');
  assert.throws(() => validatePolicy({ Version: '1999', Statement: [{ Effect: 'Allow', Action: '*' }] }), /Version/);
  validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Deny', Action: ['s3:GetObject'], Resource: ['*'] } });
});
