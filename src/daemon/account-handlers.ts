import {
  base64ToBytes,
  bytesToHex,
  constantTimeEqual,
  hashLoginProof,
  hexToBytes,
  importPublicKey,
  loginRequestSchema,
  loginResultSchema,
  parseKdfParams,
  parseWire,
  preloginRequestSchema,
  registerRequestSchema,
  RelayError,
  type KdfParams,
} from '../core/index.js';
import type { RelayContext, Session } from './relay-context.js';
import type { z } from 'zod';

/** What a login answers: the public key, the wrap, and the statement that signed the wrap if any. */
type LoginResult = z.infer<typeof loginResultSchema>;

/** `register`: stores a new identifier's public key, wrapped private key, KDF parameters and proof hash. */
export async function register(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  const request = parseWire(registerRequestSchema, input, 'register');
  const { address } = session;
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
  if (!created && (await ctx.keys.retirement(request.identifier, Date.now())) !== undefined) {
    throw new RelayError(
      'IDENTIFIER_RETIRED',
      `This username belonged to an account that was deleted; it cannot be registered again for ${String(Math.round(ctx.limits.retirementMs / 86_400_000))} days after the deletion, so that nobody takes it over from its contacts. Choose another.`,
    );
  }
  if (!created) {
    throw new RelayError(
      'ALREADY_REGISTERED',
      'This username is already registered; choose another or log in.',
    );
  }
  ctx.logger.info({ event: 'register', users: await ctx.keys.count() }, 'user registered');
  return {};
}

/**
 * `prelogin`: the KDF parameters of an identifier, or stable fake ones so unknown names look alike.
 * Both paths do the same work (the fake parameters are derived, the identifier looked up and the
 * answer copied either way), so the answer takes as long for a registered identifier as for an
 * unknown one (`prelogin-timing` measures it). It needs only the key directory and the secret.
 */
export async function prelogin(
  ctx: Pick<RelayContext, 'keys' | 'secret'>,
  _session: unknown,
  input: unknown,
): Promise<{ kdf: KdfParams }> {
  const { identifier } = parseWire(preloginRequestSchema, input, 'prelogin');
  const fake = ctx.secret.fakeKdfParams(identifier);
  const record = await ctx.keys.get(identifier);
  return { kdf: { ...(record?.kdf ?? fake) } };
}

/**
 * `login`: trades a correct login proof for the wrapped private key. Failures are limited per
 * identifier (ctx.lockout: shared by every daemon of a database), per client address and per
 * connection (this daemon's).
 */
export async function login(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<LoginResult> {
  const request = parseWire(loginRequestSchema, input, 'login');
  const record = await ctx.keys.get(request.identifier);
  // The per-address and per-connection budgets are this daemon's: checked and counted with
  // nothing awaited between, so concurrent guesses on one daemon cannot slip past them.
  const addressWait = ctx.addressLoginLimiter.retryAfter(session.address);
  if (addressWait > 0 || session.loginFailures >= ctx.limits.loginFailuresPerConnection)
    throw refused(ctx, addressWait);
  ctx.addressLoginLimiter.fail(session.address);
  session.loginFailures++;
  session.loginsInFlight++;
  try {
    return await checkLogin(ctx, session, request, record);
  } finally {
    session.loginsInFlight--;
    // Past the per-connection budget the connection is closed, once every guess in flight on it
    // has had its answer (concurrent guesses count before they are answered).
    if (
      session.loginsInFlight === 0 &&
      session.loginFailures >= ctx.limits.loginFailuresPerConnection
    )
      setImmediate(() => session.socket.disconnect(true));
  }
}

/** The part of `login` after the per-connection and per-address budgets were charged. */
async function checkLogin(
  ctx: RelayContext,
  session: Session,
  request: z.infer<typeof loginRequestSchema>,
  record: Awaited<ReturnType<RelayContext['keys']['get']>>,
): Promise<LoginResult> {
  // The per-identifier count is checked and taken in one step of the lockout (in PostgreSQL with
  // several daemons, so a guess through any daemon counts the same).
  let wait: number;
  try {
    wait = await ctx.lockout.attempt(request.identifier, record !== undefined);
  } catch (error) {
    ctx.addressLoginLimiter.forgiveLast(session.address);
    session.loginFailures--;
    throw error;
  }
  if (wait > 0) {
    ctx.addressLoginLimiter.forgiveLast(session.address);
    session.loginFailures--;
    throw refused(ctx, wait);
  }
  const given = hashLoginProof(base64ToBytes(request.loginProof));
  // The stand-in is derived and decoded for a registered identifier too: the same work either way.
  const standIn = bytesToHex(ctx.secret.fakeProofHash(request.identifier));
  const expected = hexToBytes(record?.loginProofHash ?? standIn);
  if (!constantTimeEqual(given, expected) || !record) {
    ctx.refusals.note('login-failed', 'LOGIN_FAILED');
    throw new RelayError('LOGIN_FAILED', 'Wrong username or password.');
  }
  await ctx.lockout.succeeded(request.identifier);
  ctx.addressLoginLimiter.forgiveLast(session.address);
  session.loginFailures--;
  return {
    publicKey: record.publicKey,
    wrappedPrivateKey: record.wrappedPrivateKey,
    ...(record.credentials === undefined ? {} : { credentials: record.credentials }),
    ...(record.replacedKeys === undefined ? {} : { replacedKeys: [...record.replacedKeys] }),
  };
}

/** The refusal of a login over a budget, counted in the refusal log. */
function refused(ctx: RelayContext, waitMs: number): RelayError {
  ctx.refusals.note('login-refused', 'RATE_LIMITED');
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new RelayError('RATE_LIMITED', `Too many failed logins; try again in ${seconds} s.`);
}
