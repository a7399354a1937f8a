import { parseQuery, validateRequestBody, type OperationId, type ValidationIssue } from '@axon/contract';
import type { RequestHandler } from 'express';
import { errors, type MatrixError } from '../../errors.js';

const where = (issue: ValidationIssue): string =>
  issue.path === '' ? 'body' : issue.path.slice(1).replace(/\//g, '.');

/**
 * Synapse's mapping (synapse/http/servlet.py): one missing key is M_MISSING_PARAM, one bad
 * value M_INVALID_PARAM, anything else M_BAD_JSON. Unknown keys never fail: the body
 * schemas leave additionalProperties open.
 */
export function bodyError(issues: readonly ValidationIssue[]): MatrixError {
  const first = issues[0];
  if (issues.length === 1 && first) {
    if (first.keyword === 'required') return errors.missingParam(`Missing parameter: ${String(first.params.missingProperty)}`);
    if (first.path !== '') return errors.invalidParam(`Invalid parameter ${where(first)}: ${first.message}`);
  }
  if (first?.path === '' && first.keyword === 'type') return errors.badJson('Content must be a JSON object.');
  return errors.badJson(issues.map((i) => `${where(i)} ${i.message}`).join('; ') || 'Invalid content');
}

export function validateBody(operationId: OperationId): RequestHandler {
  return (_req, res, next) => {
    const checked = validateRequestBody(operationId, res.locals.body);
    if (!checked.ok) throw bodyError(checked.issues);
    next();
  };
}

export function validateQuery(operationId: OperationId): RequestHandler {
  return (req, res, next) => {
    const parsed = parseQuery(operationId, req.query as Record<string, unknown>);
    if (!parsed.ok) {
      const issue = parsed.issues[0]!;
      const name = issue.path.slice(1);
      throw issue.keyword === 'required'
        ? errors.missingParam(`Missing required query parameter ${name}`)
        : errors.invalidParam(`Query parameter ${name}: ${issue.message}`);
    }
    res.locals.query = parsed.values;
    next();
  };
}
