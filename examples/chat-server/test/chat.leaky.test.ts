/**
 * The chat server's tests with the three leaky connection managers of src/connections.leaky.ts. Every assertion passes;
 * vitest-leaks fails three tests, one per bug. The relay test passes: its server, Map and all, is gone after it.
 */
import { ForgetfulConnectionManager, ForgetfulShutdownConnectionManager, NoIdleTimeoutConnectionManager } from '../src/connections.leaky'
import { chatTests } from './chat-tests'

chatTests({
  quitting: ForgetfulConnectionManager,
  idle: NoIdleTimeoutConnectionManager,
  shutdown: ForgetfulShutdownConnectionManager,
})
