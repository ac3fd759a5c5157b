import {
  base64ToBytes,
  bytesToHex,
  constantTimeEqual,
  hashLoginProof,
  hexToBytes,
  importPublicKey,
  loginRequestSchema,
  parseKdfParams,
  parseWire,
  preloginRequestSchema,
  registerRequestSchema,
  RelayError,
  type KdfParams,
  type WrappedPrivateKey,
} from '../core/index.js';
import type { RelayContext, Session } from './relay-context.js';

/** `register`: stores a new identifier's public key, wrapped private key, KDF parameters and proof hash. */
export async function register(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  const request = parseWire(registerRequestSchema, input, 'register');
  const address = session.socket.handshake.address;
  if (
    session.registrations >= ctx.limits.registrationsPerConnection ||
    ctx.registrationLimiter.retryAfter(address) > 0
  ) {
    throw new RelayError(
      'RATE_LIMITED',
      'Too many registrations from this connection; reconnect later.',
    );
  }
  importPublicKey(request.publicKey);
  const kdf = parseKdfParams(request.kdf);
  session.registrations++;
  ctx.registrationLimiter.fail(address);
  const created = await ctx.keys.create({
    identifier: request.identifier,
    publicKey: request.publicKey,
    wrappedPrivateKey: request.wrappedPrivateKey,
    kdf,
    loginProofHash: bytesToHex(hashLoginProof(base64ToBytes(request.loginProof))),
    createdAt: Date.now(),
  });
  if (!created) {
    throw new RelayError(
      'ALREADY_REGISTERED',
      'This username is already registered; choose another or log in.',
    );
  }
  ctx.logger.info({ event: 'register', users: await ctx.keys.count() }, 'user registered');
  return {};
}

/** `prelogin`: the KDF parameters of an identifier, or stable fake ones so unknown names look alike. */
export async function prelogin(
  ctx: RelayContext,
  _session: Session,
  input: unknown,
): Promise<{ kdf: KdfParams }> {
  const { identifier } = parseWire(preloginRequestSchema, input, 'prelogin');
  const record = await ctx.keys.get(identifier);
  return { kdf: record?.kdf ?? ctx.secret.fakeKdfParams(identifier) };
}

/** `login`: trades a correct login proof for the wrapped private key, with failures rate-limited. */
export async function login(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<{ publicKey: string; wrappedPrivateKey: WrappedPrivateKey }> {
  const request = parseWire(loginRequestSchema, input, 'login');
  const wait = ctx.loginLimiter.retryAfter(request.identifier);
  if (wait > 0 || session.loginFailures >= ctx.limits.loginFailuresPerConnection) {
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    throw new RelayError('RATE_LIMITED', `Too many failed logins; try again in ${seconds} s.`);
  }
  // Count the attempt as a failure before any await, so concurrent guesses cannot slip past the limit.
  ctx.loginLimiter.fail(request.identifier);
  session.loginFailures++;
  const record = await ctx.keys.get(request.identifier);
  const given = hashLoginProof(base64ToBytes(request.loginProof));
  const expected = record
    ? hexToBytes(record.loginProofHash)
    : new Uint8Array(ctx.secret.fakeProofHash(request.identifier));
  if (!constantTimeEqual(given, expected) || !record) {
    ctx.logger.info({ event: 'login-failed', socket: session.socket.id }, 'login refused');
    if (session.loginFailures >= ctx.limits.loginFailuresPerConnection) {
      setImmediate(() => session.socket.disconnect(true));
    }
    throw new RelayError('LOGIN_FAILED', 'Wrong username or password.');
  }
  ctx.loginLimiter.reset(request.identifier);
  session.loginFailures--;
  return { publicKey: record.publicKey, wrappedPrivateKey: record.wrappedPrivateKey };
}
