import { describe, expect, it } from 'vitest';
import { isMatrixError, MatrixError } from '../src/index.js';

describe('MatrixError', () => {
  it('should carry errcode, httpStatus, message, retryAfterMs and body', () => {
    const body = { errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests', retry_after_ms: 1234 };
    const err = new MatrixError(429, body);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('MatrixError');
    expect(err.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(err.httpStatus).toBe(429);
    expect(err.retryAfterMs).toBe(1234);
    expect(err.message).toContain('Too many requests');
    expect(err.body).toBe(body);
    expect(err.isRateLimitError()).toBe(true);
  });

  it('should fall back to M_UNKNOWN for a body that is not a Matrix error', () => {
    const err = new MatrixError(502, '<html>Bad gateway</html>');
    expect(err.errcode).toBe('M_UNKNOWN');
    expect(err.httpStatus).toBe(502);
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.message).toContain('Bad gateway');
    expect(new MatrixError(500, undefined).message).toContain('HTTP 500');
  });

  it('should be recognised by isMatrixError, also when it crossed a bundle boundary', () => {
    expect(isMatrixError(new MatrixError(404, { errcode: 'M_NOT_FOUND', error: 'x' }))).toBe(true);
    expect(isMatrixError({ name: 'MatrixError', errcode: 'M_FORBIDDEN', httpStatus: 403 })).toBe(true);
    expect(isMatrixError(new Error('x'))).toBe(false);
    expect(isMatrixError(null)).toBe(false);
  });
});
